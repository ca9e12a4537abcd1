// Original file: proto/cleanroom/v1/session.proto

import type { Policy as _cleanroom_v1_Policy, Policy__Output as _cleanroom_v1_Policy__Output } from '../../cleanroom/v1/Policy.ts';
import type { PrivacyStatus as _cleanroom_v1_PrivacyStatus, PrivacyStatus__Output as _cleanroom_v1_PrivacyStatus__Output } from '../../cleanroom/v1/PrivacyStatus.ts';
import type { Long } from '@grpc/proto-loader';

export interface SessionAccepted {
  'policy'?: (_cleanroom_v1_Policy | null);
  'paddedCount'?: (number | string | Long);
  'universeSizeClass'?: (string);
  'universeEpoch'?: (string);
  'privacy'?: (_cleanroom_v1_PrivacyStatus | null);
}

export interface SessionAccepted__Output {
  'policy': (_cleanroom_v1_Policy__Output | null);
  'paddedCount': (string);
  'universeSizeClass': (string);
  'universeEpoch': (string);
  'privacy': (_cleanroom_v1_PrivacyStatus__Output | null);
}
