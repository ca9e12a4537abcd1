// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface AttributeTotal {
  'name'?: (string);
  'total'?: (number | string | Long);
  'share'?: (number | string);
  'universeShare'?: (number | string);
}

export interface AttributeTotal__Output {
  'name': (string);
  'total': (string);
  'share': (number);
  'universeShare': (number);
}
