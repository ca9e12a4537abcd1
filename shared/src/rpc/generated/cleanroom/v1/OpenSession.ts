// Original file: proto/cleanroom/v1/session.proto

import type { IdType as _cleanroom_v1_IdType, IdType__Output as _cleanroom_v1_IdType__Output } from '../../cleanroom/v1/IdType.ts';
import type { Long } from '@grpc/proto-loader';

export interface OpenSession {
  'idType'?: (_cleanroom_v1_IdType);
  'seedCount'?: (number | string | Long);
  'audienceSize'?: (number | string | Long);
  'decoyRatio'?: (number);
  'minCohort'?: (number);
  'advertiserKey'?: (Buffer | Uint8Array | string);
  'resultKey'?: (Buffer | Uint8Array | string);
  'kind'?: (string);
  'mediaPredicate'?: (string);
  'countSession'?: (string);
}

export interface OpenSession__Output {
  'idType': (_cleanroom_v1_IdType__Output);
  'seedCount': (string);
  'audienceSize': (string);
  'decoyRatio': (number);
  'minCohort': (number);
  'advertiserKey': (Buffer);
  'resultKey': (Buffer);
  'kind': (string);
  'mediaPredicate': (string);
  'countSession': (string);
}
