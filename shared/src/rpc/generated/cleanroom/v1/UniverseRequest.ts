// Original file: /work/main/proto/cleanroom/v1/session.proto


export interface UniverseRequest {
  'haveEpoch'?: (string);
}

export interface UniverseRequest__Output {
  'haveEpoch': (string);
}
