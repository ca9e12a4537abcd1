// Original file: proto/cleanroom/v1/session.proto


export interface Abort {
  'reason'?: (string);
}

export interface Abort__Output {
  'reason': (string);
}
