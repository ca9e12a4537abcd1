// Original file: proto/cleanroom/v1/federated.proto

import type { ModelValue as _cleanroom_v1_ModelValue, ModelValue__Output as _cleanroom_v1_ModelValue__Output } from '../../cleanroom/v1/ModelValue.ts';
import type { Long } from '@grpc/proto-loader';

export interface RoundResult {
  'round'?: (number);
  'model'?: (_cleanroom_v1_ModelValue | null);
  'loss'?: (number | string);
  'rows'?: (number | string | Long);
  'contributors'?: (number);
  'done'?: (boolean);
  'reason'?: (string);
}

export interface RoundResult__Output {
  'round': (number);
  'model': (_cleanroom_v1_ModelValue__Output | null);
  'loss': (number);
  'rows': (string);
  'contributors': (number);
  'done': (boolean);
  'reason': (string);
}
