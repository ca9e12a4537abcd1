// Original file: proto/cleanroom/v1/session.proto

import type { Round as _cleanroom_v1_Round, Round__Output as _cleanroom_v1_Round__Output } from '../../cleanroom/v1/Round.ts';
import type { Signature as _cleanroom_v1_Signature, Signature__Output as _cleanroom_v1_Signature__Output } from '../../cleanroom/v1/Signature.ts';
import type { InclusionProof as _cleanroom_v1_InclusionProof, InclusionProof__Output as _cleanroom_v1_InclusionProof__Output } from '../../cleanroom/v1/InclusionProof.ts';
import type { Long } from '@grpc/proto-loader';

export interface Checkpoint {
  'treeSize'?: (number | string | Long);
  'rootHash'?: (Buffer | Uint8Array | string);
  'afterRound'?: (_cleanroom_v1_Round);
  'cosignatures'?: (_cleanroom_v1_Signature)[];
  'inclusion'?: (_cleanroom_v1_InclusionProof)[];
  'previousSize'?: (number | string | Long);
  'consistency'?: (Buffer | Uint8Array | string)[];
}

export interface Checkpoint__Output {
  'treeSize': (string);
  'rootHash': (Buffer);
  'afterRound': (_cleanroom_v1_Round__Output);
  'cosignatures': (_cleanroom_v1_Signature__Output)[];
  'inclusion': (_cleanroom_v1_InclusionProof__Output)[];
  'previousSize': (string);
  'consistency': (Buffer)[];
}
