// Original file: proto/cleanroom/v1/session.proto

export const IdType = {
  ID_TYPE_UNSPECIFIED: 'ID_TYPE_UNSPECIFIED',
  PHONE: 'PHONE',
  EMAIL: 'EMAIL',
  DEVICE: 'DEVICE',
} as const;

export type IdType =
  | 'ID_TYPE_UNSPECIFIED'
  | 0
  | 'PHONE'
  | 1
  | 'EMAIL'
  | 2
  | 'DEVICE'
  | 3

export type IdType__Output = typeof IdType[keyof typeof IdType]
