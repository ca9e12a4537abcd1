// Original file: proto/cleanroom/v1/federated.proto


export interface JoinFederation {
  'member'?: (string);
  'signingKey'?: (Buffer | Uint8Array | string);
}

export interface JoinFederation__Output {
  'member': (string);
  'signingKey': (Buffer);
}
