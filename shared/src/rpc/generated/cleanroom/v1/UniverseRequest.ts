// Original file: proto/cleanroom/v1/session.proto

import type { UniversePart as _cleanroom_v1_UniversePart, UniversePart__Output as _cleanroom_v1_UniversePart__Output } from '../../cleanroom/v1/UniversePart.ts';
import type { IdType as _cleanroom_v1_IdType, IdType__Output as _cleanroom_v1_IdType__Output } from '../../cleanroom/v1/IdType.ts';
import type { Long } from '@grpc/proto-loader';

export interface UniverseRequest {
  'haveVersion'?: (string);
  'part'?: (_cleanroom_v1_UniversePart);
  'idType'?: (_cleanroom_v1_IdType);
  'offset'?: (number | string | Long);
  'limit'?: (number | string | Long);
}

export interface UniverseRequest__Output {
  'haveVersion': (string);
  'part': (_cleanroom_v1_UniversePart__Output);
  'idType': (_cleanroom_v1_IdType__Output);
  'offset': (string);
  'limit': (string);
}
