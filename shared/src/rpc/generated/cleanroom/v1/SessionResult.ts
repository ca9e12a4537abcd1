// Original file: proto/cleanroom/v1/session.proto

import type { Outcome as _cleanroom_v1_Outcome, Outcome__Output as _cleanroom_v1_Outcome__Output } from '../../cleanroom/v1/Outcome.ts';
import type { LookalikeResult as _cleanroom_v1_LookalikeResult, LookalikeResult__Output as _cleanroom_v1_LookalikeResult__Output } from '../../cleanroom/v1/LookalikeResult.ts';
import type { PrivacyStatus as _cleanroom_v1_PrivacyStatus, PrivacyStatus__Output as _cleanroom_v1_PrivacyStatus__Output } from '../../cleanroom/v1/PrivacyStatus.ts';
import type { Long } from '@grpc/proto-loader';

export interface SessionResult {
  'outcome'?: (_cleanroom_v1_Outcome);
  'reason'?: (string);
  'paddedCount'?: (number | string | Long);
  'realMatches'?: (number | string | Long);
  'lookalike'?: (_cleanroom_v1_LookalikeResult | null);
  'privacy'?: (_cleanroom_v1_PrivacyStatus | null);
}

export interface SessionResult__Output {
  'outcome': (_cleanroom_v1_Outcome__Output);
  'reason': (string);
  'paddedCount': (string);
  'realMatches': (string);
  'lookalike': (_cleanroom_v1_LookalikeResult__Output | null);
  'privacy': (_cleanroom_v1_PrivacyStatus__Output | null);
}
