// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Outcome as _cleanroom_v1_Outcome, Outcome__Output as _cleanroom_v1_Outcome__Output } from '../../cleanroom/v1/Outcome.ts';
import type { AttributeTotal as _cleanroom_v1_AttributeTotal, AttributeTotal__Output as _cleanroom_v1_AttributeTotal__Output } from '../../cleanroom/v1/AttributeTotal.ts';
import type { Long } from '@grpc/proto-loader';

export interface LookalikeResult {
  'outcome'?: (_cleanroom_v1_Outcome);
  'audienceId'?: (string);
  'audienceSize'?: (number | string | Long);
  'quality'?: (number | string);
  'cohortSize'?: (number | string | Long);
  'insight'?: (_cleanroom_v1_AttributeTotal)[];
  'matchedUsers'?: (number | string | Long);
}

export interface LookalikeResult__Output {
  'outcome': (_cleanroom_v1_Outcome__Output);
  'audienceId': (string);
  'audienceSize': (string);
  'quality': (number);
  'cohortSize': (string);
  'insight': (_cleanroom_v1_AttributeTotal__Output)[];
  'matchedUsers': (string);
}
