// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface TokenBatch {
  'offset'?: (number | string | Long);
  'tokens'?: (Buffer | Uint8Array | string)[];
}

export interface TokenBatch__Output {
  'offset': (string);
  'tokens': (Buffer)[];
}
