// Original file: proto/cleanroom/v1/federated.proto

import type { RevealedShare as _cleanroom_v1_RevealedShare, RevealedShare__Output as _cleanroom_v1_RevealedShare__Output } from '../../cleanroom/v1/RevealedShare.ts';

export interface Unmasking {
  'round'?: (number);
  'selfMaskShares'?: (_cleanroom_v1_RevealedShare)[];
  'keyShares'?: (_cleanroom_v1_RevealedShare)[];
}

export interface Unmasking__Output {
  'round': (number);
  'selfMaskShares': (_cleanroom_v1_RevealedShare__Output)[];
  'keyShares': (_cleanroom_v1_RevealedShare__Output)[];
}
