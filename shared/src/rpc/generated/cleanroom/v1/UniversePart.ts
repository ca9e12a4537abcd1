// Original file: proto/cleanroom/v1/session.proto

export const UniversePart = {
  UNIVERSE_PART_UNSPECIFIED: 'UNIVERSE_PART_UNSPECIFIED',
  MANIFEST: 'MANIFEST',
  TOKENS: 'TOKENS',
  CIPHERTEXTS: 'CIPHERTEXTS',
  DONE: 'DONE',
  LABELS: 'LABELS',
} as const;

export type UniversePart =
  | 'UNIVERSE_PART_UNSPECIFIED'
  | 0
  | 'MANIFEST'
  | 1
  | 'TOKENS'
  | 2
  | 'CIPHERTEXTS'
  | 3
  | 'DONE'
  | 4
  | 'LABELS'
  | 5

export type UniversePart__Output = typeof UniversePart[keyof typeof UniversePart]
