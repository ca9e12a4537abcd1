// Original file: proto/cleanroom/v1/session.proto

import type { IdType as _cleanroom_v1_IdType, IdType__Output as _cleanroom_v1_IdType__Output } from '../../cleanroom/v1/IdType.ts';
import type { Long } from '@grpc/proto-loader';

export interface IdTypeCount {
  'idType'?: (_cleanroom_v1_IdType);
  'tokens'?: (number | string | Long);
}

export interface IdTypeCount__Output {
  'idType': (_cleanroom_v1_IdType__Output);
  'tokens': (string);
}
