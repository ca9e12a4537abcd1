// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Header as _cleanroom_v1_Header, Header__Output as _cleanroom_v1_Header__Output } from '../../cleanroom/v1/Header.ts';
import type { Outcome as _cleanroom_v1_Outcome, Outcome__Output as _cleanroom_v1_Outcome__Output } from '../../cleanroom/v1/Outcome.ts';
import type { Long } from '@grpc/proto-loader';

export interface CohortProfile {
  'header'?: (_cleanroom_v1_Header | null);
  'outcome'?: (_cleanroom_v1_Outcome);
  'profile'?: (Buffer | Uint8Array | string);
  'audienceSize'?: (number | string | Long);
}

export interface CohortProfile__Output {
  'header': (_cleanroom_v1_Header__Output | null);
  'outcome': (_cleanroom_v1_Outcome__Output);
  'profile': (Buffer);
  'audienceSize': (string);
}
