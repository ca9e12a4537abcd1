// Original file: /work/main/proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface UniverseChunk {
  'epoch'?: (string);
  'size'?: (number | string | Long);
  'offset'?: (number | string | Long);
  'tokens'?: (Buffer | Uint8Array | string)[];
}

export interface UniverseChunk__Output {
  'epoch': (string);
  'size': (string);
  'offset': (string);
  'tokens': (Buffer)[];
}
