// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Header as _cleanroom_v1_Header, Header__Output as _cleanroom_v1_Header__Output } from '../../cleanroom/v1/Header.ts';

export interface Abort {
  'header'?: (_cleanroom_v1_Header | null);
  'reason'?: (string);
}

export interface Abort__Output {
  'header': (_cleanroom_v1_Header__Output | null);
  'reason': (string);
}
