// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface CiphertextBatch {
  'offset'?: (number | string | Long);
  'ciphertexts'?: (Buffer | Uint8Array | string)[];
}

export interface CiphertextBatch__Output {
  'offset': (string);
  'ciphertexts': (Buffer)[];
}
