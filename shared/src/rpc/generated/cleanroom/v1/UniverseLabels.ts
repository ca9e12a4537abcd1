// Original file: proto/cleanroom/v1/session.proto

import type { IdType as _cleanroom_v1_IdType, IdType__Output as _cleanroom_v1_IdType__Output } from '../../cleanroom/v1/IdType.ts';
import type { Long } from '@grpc/proto-loader';

export interface UniverseLabels {
  'idType'?: (_cleanroom_v1_IdType);
  'offset'?: (number | string | Long);
  'boxes'?: (Buffer | Uint8Array | string)[];
}

export interface UniverseLabels__Output {
  'idType': (_cleanroom_v1_IdType__Output);
  'offset': (string);
  'boxes': (Buffer)[];
}
