// Original file: proto/cleanroom/v1/session.proto

import type { IdTypeCount as _cleanroom_v1_IdTypeCount, IdTypeCount__Output as _cleanroom_v1_IdTypeCount__Output } from '../../cleanroom/v1/IdTypeCount.ts';
import type { Long } from '@grpc/proto-loader';

export interface UniverseManifest {
  'epoch'?: (string);
  'version'?: (string);
  'users'?: (number | string | Long);
  'ciphertexts'?: (number | string | Long);
  'attributeCount'?: (number);
  'usersPerCiphertext'?: (number);
  'idTypes'?: (_cleanroom_v1_IdTypeCount)[];
  'unchanged'?: (boolean);
  'bfvParams'?: (Buffer | Uint8Array | string);
  'publicKey'?: (Buffer | Uint8Array | string);
  'galoisKeysPart'?: (Buffer | Uint8Array | string);
  'sizeClass'?: (string);
  'labelsVersion'?: (string);
}

export interface UniverseManifest__Output {
  'epoch': (string);
  'version': (string);
  'users': (string);
  'ciphertexts': (string);
  'attributeCount': (number);
  'usersPerCiphertext': (number);
  'idTypes': (_cleanroom_v1_IdTypeCount__Output)[];
  'unchanged': (boolean);
  'bfvParams': (Buffer);
  'publicKey': (Buffer);
  'galoisKeysPart': (Buffer);
  'sizeClass': (string);
  'labelsVersion': (string);
}
