// Original file: proto/cleanroom/v1/envelope.proto


export interface Signature {
  'keyid'?: (string);
  'sig'?: (Buffer | Uint8Array | string);
}

export interface Signature__Output {
  'keyid': (string);
  'sig': (Buffer);
}
