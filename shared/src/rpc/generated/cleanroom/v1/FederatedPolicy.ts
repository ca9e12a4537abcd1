// Original file: proto/cleanroom/v1/federated.proto


export interface FederatedPolicy {
  'roster'?: (string)[];
  'threshold'?: (number);
  'rounds'?: (number);
  'convergenceTol'?: (number | string);
  'localEpochs'?: (number);
  'learningRate'?: (number | string);
  'l2'?: (number | string);
  'fracBits'?: (number);
  'updateLength'?: (number);
}

export interface FederatedPolicy__Output {
  'roster': (string)[];
  'threshold': (number);
  'rounds': (number);
  'convergenceTol': (number);
  'localEpochs': (number);
  'learningRate': (number);
  'l2': (number);
  'fracBits': (number);
  'updateLength': (number);
}
