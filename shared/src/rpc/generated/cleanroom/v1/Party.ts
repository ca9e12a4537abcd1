// Original file: proto/cleanroom/v1/envelope.proto

export const Party = {
  PARTY_UNSPECIFIED: 'PARTY_UNSPECIFIED',
  ADVERTISER: 'ADVERTISER',
  MEDIA: 'MEDIA',
  BROKER: 'BROKER',
} as const;

export type Party =
  | 'PARTY_UNSPECIFIED'
  | 0
  | 'ADVERTISER'
  | 1
  | 'MEDIA'
  | 2
  | 'BROKER'
  | 3

export type Party__Output = typeof Party[keyof typeof Party]
