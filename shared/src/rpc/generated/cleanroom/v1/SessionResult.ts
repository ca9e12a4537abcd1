// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Header as _cleanroom_v1_Header, Header__Output as _cleanroom_v1_Header__Output } from '../../cleanroom/v1/Header.ts';
import type { Outcome as _cleanroom_v1_Outcome, Outcome__Output as _cleanroom_v1_Outcome__Output } from '../../cleanroom/v1/Outcome.ts';
import type { LookalikeResult as _cleanroom_v1_LookalikeResult, LookalikeResult__Output as _cleanroom_v1_LookalikeResult__Output } from '../../cleanroom/v1/LookalikeResult.ts';
import type { Long } from '@grpc/proto-loader';

export interface SessionResult {
  'header'?: (_cleanroom_v1_Header | null);
  'outcome'?: (_cleanroom_v1_Outcome);
  'reason'?: (string);
  'paddedCount'?: (number | string | Long);
  'paddedMatches'?: (number | string | Long);
  'realMatches'?: (number | string | Long);
  'lookalike'?: (_cleanroom_v1_LookalikeResult | null);
}

export interface SessionResult__Output {
  'header': (_cleanroom_v1_Header__Output | null);
  'outcome': (_cleanroom_v1_Outcome__Output);
  'reason': (string);
  'paddedCount': (string);
  'paddedMatches': (string);
  'realMatches': (string);
  'lookalike': (_cleanroom_v1_LookalikeResult__Output | null);
}
