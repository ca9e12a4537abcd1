// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface SessionKeys {
  'bfvParams'?: (Buffer | Uint8Array | string);
  'publicKey'?: (Buffer | Uint8Array | string);
  'galoisKeysPart'?: (Buffer | Uint8Array | string);
  'universeEpoch'?: (string);
  'universeSizeClass'?: (string);
  'attributeCount'?: (number);
  'usersPerCiphertext'?: (number);
  'slots'?: (number | string | Long);
}

export interface SessionKeys__Output {
  'bfvParams': (Buffer);
  'publicKey': (Buffer);
  'galoisKeysPart': (Buffer);
  'universeEpoch': (string);
  'universeSizeClass': (string);
  'attributeCount': (number);
  'usersPerCiphertext': (number);
  'slots': (string);
}
