// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface IndicatorRequest {
  'universeVersion'?: (string);
  'offset'?: (number | string | Long);
  'maxItems'?: (number | string | Long);
}

export interface IndicatorRequest__Output {
  'universeVersion': (string);
  'offset': (string);
  'maxItems': (string);
}
