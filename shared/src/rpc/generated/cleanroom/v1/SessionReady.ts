// Original file: proto/cleanroom/v1/session.proto

import type { Outcome as _cleanroom_v1_Outcome, Outcome__Output as _cleanroom_v1_Outcome__Output } from '../../cleanroom/v1/Outcome.ts';

export interface SessionReady {
  'universeEpoch'?: (string);
  'universeVersion'?: (string);
  'universeSizeClass'?: (string);
  'outcome'?: (_cleanroom_v1_Outcome);
  'reason'?: (string);
}

export interface SessionReady__Output {
  'universeEpoch': (string);
  'universeVersion': (string);
  'universeSizeClass': (string);
  'outcome': (_cleanroom_v1_Outcome__Output);
  'reason': (string);
}
