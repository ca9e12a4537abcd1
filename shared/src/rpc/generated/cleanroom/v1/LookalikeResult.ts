// Original file: proto/cleanroom/v1/session.proto

import type { Outcome as _cleanroom_v1_Outcome, Outcome__Output as _cleanroom_v1_Outcome__Output } from '../../cleanroom/v1/Outcome.ts';
import type { Long } from '@grpc/proto-loader';

export interface LookalikeResult {
  'outcome'?: (_cleanroom_v1_Outcome);
  'audienceId'?: (string);
  'audienceSize'?: (number | string | Long);
  'quality'?: (number | string);
  'sealedInsight'?: (Buffer | Uint8Array | string);
}

export interface LookalikeResult__Output {
  'outcome': (_cleanroom_v1_Outcome__Output);
  'audienceId': (string);
  'audienceSize': (string);
  'quality': (number);
  'sealedInsight': (Buffer);
}
