// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface Ack {
  'received'?: (number | string | Long);
}

export interface Ack__Output {
  'received': (string);
}
