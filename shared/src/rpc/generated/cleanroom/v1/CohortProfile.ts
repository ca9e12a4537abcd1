// Original file: proto/cleanroom/v1/session.proto

import type { Outcome as _cleanroom_v1_Outcome, Outcome__Output as _cleanroom_v1_Outcome__Output } from '../../cleanroom/v1/Outcome.ts';
import type { Long } from '@grpc/proto-loader';

export interface CohortProfile {
  'outcome'?: (_cleanroom_v1_Outcome);
  'profile'?: (Buffer | Uint8Array | string);
  'audienceSize'?: (number | string | Long);
}

export interface CohortProfile__Output {
  'outcome': (_cleanroom_v1_Outcome__Output);
  'profile': (Buffer);
  'audienceSize': (string);
}
