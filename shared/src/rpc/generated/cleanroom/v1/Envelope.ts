// Original file: proto/cleanroom/v1/envelope.proto

import type { Signature as _cleanroom_v1_Signature, Signature__Output as _cleanroom_v1_Signature__Output } from '../../cleanroom/v1/Signature.ts';

export interface Envelope {
  'statement'?: (Buffer | Uint8Array | string);
  'payload'?: (Buffer | Uint8Array | string);
  'signatures'?: (_cleanroom_v1_Signature)[];
}

export interface Envelope__Output {
  'statement': (Buffer);
  'payload': (Buffer);
  'signatures': (_cleanroom_v1_Signature__Output)[];
}
