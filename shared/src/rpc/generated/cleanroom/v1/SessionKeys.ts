// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Header as _cleanroom_v1_Header, Header__Output as _cleanroom_v1_Header__Output } from '../../cleanroom/v1/Header.ts';
import type { Long } from '@grpc/proto-loader';

export interface SessionKeys {
  'header'?: (_cleanroom_v1_Header | null);
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
  'header': (_cleanroom_v1_Header__Output | null);
  'bfvParams': (Buffer);
  'publicKey': (Buffer);
  'galoisKeysPart': (Buffer);
  'universeEpoch': (string);
  'universeSizeClass': (string);
  'attributeCount': (number);
  'usersPerCiphertext': (number);
  'slots': (string);
}
