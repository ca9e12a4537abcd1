// Original file: proto/cleanroom/v1/federated.proto


export interface EncryptedShare {
  'peer'?: (number);
  'ciphertext'?: (Buffer | Uint8Array | string);
}

export interface EncryptedShare__Output {
  'peer': (number);
  'ciphertext': (Buffer);
}
