// Original file: proto/cleanroom/v1/federated.proto


export interface RevealedShare {
  'of'?: (number);
  'share'?: (Buffer | Uint8Array | string);
}

export interface RevealedShare__Output {
  'of': (number);
  'share': (Buffer);
}
