// Original file: proto/cleanroom/v1/session.proto

import type { IdType as _cleanroom_v1_IdType, IdType__Output as _cleanroom_v1_IdType__Output } from '../../cleanroom/v1/IdType.ts';
import type { Long } from '@grpc/proto-loader';

export interface UniverseTokens {
  'idType'?: (_cleanroom_v1_IdType);
  'offset'?: (number | string | Long);
  'tokens'?: (Buffer | Uint8Array | string)[];
  'positions'?: (number)[];
}

export interface UniverseTokens__Output {
  'idType': (_cleanroom_v1_IdType__Output);
  'offset': (string);
  'tokens': (Buffer)[];
  'positions': (number)[];
}
