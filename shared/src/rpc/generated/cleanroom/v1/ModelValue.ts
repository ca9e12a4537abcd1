// Original file: proto/cleanroom/v1/federated.proto


export interface ModelValue {
  'weights'?: (number | string)[];
  'bias'?: (number | string);
}

export interface ModelValue__Output {
  'weights': (number)[];
  'bias': (number);
}
