// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Header as _cleanroom_v1_Header, Header__Output as _cleanroom_v1_Header__Output } from '../../cleanroom/v1/Header.ts';
import type { Policy as _cleanroom_v1_Policy, Policy__Output as _cleanroom_v1_Policy__Output } from '../../cleanroom/v1/Policy.ts';
import type { Long } from '@grpc/proto-loader';

export interface SessionAccepted {
  'header'?: (_cleanroom_v1_Header | null);
  'policy'?: (_cleanroom_v1_Policy | null);
  'paddedCount'?: (number | string | Long);
  'universeSizeClass'?: (string);
  'universeEpoch'?: (string);
}

export interface SessionAccepted__Output {
  'header': (_cleanroom_v1_Header__Output | null);
  'policy': (_cleanroom_v1_Policy__Output | null);
  'paddedCount': (string);
  'universeSizeClass': (string);
  'universeEpoch': (string);
}
