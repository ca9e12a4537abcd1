// Original file: proto/cleanroom/v1/federated.proto


export interface AdvertiseKeys {
  'round'?: (number);
  'memberIndex'?: (number);
  'cPublic'?: (Buffer | Uint8Array | string);
  'sPublic'?: (Buffer | Uint8Array | string);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface AdvertiseKeys__Output {
  'round': (number);
  'memberIndex': (number);
  'cPublic': (Buffer);
  'sPublic': (Buffer);
  'signature': (Buffer);
}
