// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface LabelBatch {
  'offset'?: (number | string | Long);
  'boxes'?: (Buffer | Uint8Array | string)[];
}

export interface LabelBatch__Output {
  'offset': (string);
  'boxes': (Buffer)[];
}
