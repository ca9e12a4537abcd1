// Original file: proto/cleanroom/v1/session.proto

import type { IdType as _cleanroom_v1_IdType, IdType__Output as _cleanroom_v1_IdType__Output } from '../../cleanroom/v1/IdType.ts';
import type { Policy as _cleanroom_v1_Policy, Policy__Output as _cleanroom_v1_Policy__Output } from '../../cleanroom/v1/Policy.ts';
import type { Long } from '@grpc/proto-loader';

export interface PrepareSession {
  'idType'?: (_cleanroom_v1_IdType);
  'paddedCount'?: (number | string | Long);
  'audienceSize'?: (number | string | Long);
  'policy'?: (_cleanroom_v1_Policy | null);
  'resultKey'?: (Buffer | Uint8Array | string);
  'universeVersion'?: (string);
  'advertiser'?: (string);
  'kind'?: (string);
  'mediaPredicate'?: (string);
  'labelsVersion'?: (string);
}

export interface PrepareSession__Output {
  'idType': (_cleanroom_v1_IdType__Output);
  'paddedCount': (string);
  'audienceSize': (string);
  'policy': (_cleanroom_v1_Policy__Output | null);
  'resultKey': (Buffer);
  'universeVersion': (string);
  'advertiser': (string);
  'kind': (string);
  'mediaPredicate': (string);
  'labelsVersion': (string);
}
