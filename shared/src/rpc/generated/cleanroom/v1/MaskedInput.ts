// Original file: proto/cleanroom/v1/federated.proto


export interface MaskedInput {
  'round'?: (number);
  'words'?: (Buffer | Uint8Array | string);
}

export interface MaskedInput__Output {
  'round': (number);
  'words': (Buffer);
}
