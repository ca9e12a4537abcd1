// Original file: proto/cleanroom/v1/federated.proto

import type { EncryptedShare as _cleanroom_v1_EncryptedShare, EncryptedShare__Output as _cleanroom_v1_EncryptedShare__Output } from '../../cleanroom/v1/EncryptedShare.ts';

export interface ShareKeys {
  'round'?: (number);
  'shares'?: (_cleanroom_v1_EncryptedShare)[];
}

export interface ShareKeys__Output {
  'round': (number);
  'shares': (_cleanroom_v1_EncryptedShare__Output)[];
}
