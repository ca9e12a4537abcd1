// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Header as _cleanroom_v1_Header, Header__Output as _cleanroom_v1_Header__Output } from '../../cleanroom/v1/Header.ts';
import type { Long } from '@grpc/proto-loader';

export interface Ack {
  'header'?: (_cleanroom_v1_Header | null);
  'received'?: (number | string | Long);
}

export interface Ack__Output {
  'header': (_cleanroom_v1_Header__Output | null);
  'received': (string);
}
