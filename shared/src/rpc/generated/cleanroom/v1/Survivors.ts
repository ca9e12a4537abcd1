// Original file: proto/cleanroom/v1/federated.proto


export interface Survivors {
  'round'?: (number);
  'survivors'?: (number)[];
}

export interface Survivors__Output {
  'round': (number);
  'survivors': (number)[];
}
