// Original file: proto/cleanroom/v1/session.proto


export interface IndicatorRequest {
  'universeVersion'?: (string);
}

export interface IndicatorRequest__Output {
  'universeVersion': (string);
}
