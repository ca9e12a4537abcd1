// Original file: proto/cleanroom/v1/federated.proto

import type { AdvertiseKeys as _cleanroom_v1_AdvertiseKeys, AdvertiseKeys__Output as _cleanroom_v1_AdvertiseKeys__Output } from '../../cleanroom/v1/AdvertiseKeys.ts';

export interface KeyRoster {
  'round'?: (number);
  'keys'?: (_cleanroom_v1_AdvertiseKeys)[];
}

export interface KeyRoster__Output {
  'round': (number);
  'keys': (_cleanroom_v1_AdvertiseKeys__Output)[];
}
