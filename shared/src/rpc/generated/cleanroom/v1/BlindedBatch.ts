// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface BlindedBatch {
  'offset'?: (number | string | Long);
  'elements'?: (Buffer | Uint8Array | string)[];
}

export interface BlindedBatch__Output {
  'offset': (string);
  'elements': (Buffer)[];
}
