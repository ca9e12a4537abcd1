// Original file: proto/cleanroom/v1/federated.proto

import type { FederatedPolicy as _cleanroom_v1_FederatedPolicy, FederatedPolicy__Output as _cleanroom_v1_FederatedPolicy__Output } from '../../cleanroom/v1/FederatedPolicy.ts';
import type { ModelValue as _cleanroom_v1_ModelValue, ModelValue__Output as _cleanroom_v1_ModelValue__Output } from '../../cleanroom/v1/ModelValue.ts';

export interface FederationAccepted {
  'policy'?: (_cleanroom_v1_FederatedPolicy | null);
  'memberIndex'?: (number);
  'model'?: (_cleanroom_v1_ModelValue | null);
}

export interface FederationAccepted__Output {
  'policy': (_cleanroom_v1_FederatedPolicy__Output | null);
  'memberIndex': (number);
  'model': (_cleanroom_v1_ModelValue__Output | null);
}
