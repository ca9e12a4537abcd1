// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface InclusionProof {
  'index'?: (number | string | Long);
  'path'?: (Buffer | Uint8Array | string)[];
}

export interface InclusionProof__Output {
  'index': (string);
  'path': (Buffer)[];
}
