// Original file: proto/cleanroom/v1/federated.proto

import type { EncryptedShare as _cleanroom_v1_EncryptedShare, EncryptedShare__Output as _cleanroom_v1_EncryptedShare__Output } from '../../cleanroom/v1/EncryptedShare.ts';

export interface ShareDelivery {
  'round'?: (number);
  'shares'?: (_cleanroom_v1_EncryptedShare)[];
}

export interface ShareDelivery__Output {
  'round': (number);
  'shares': (_cleanroom_v1_EncryptedShare__Output)[];
}
