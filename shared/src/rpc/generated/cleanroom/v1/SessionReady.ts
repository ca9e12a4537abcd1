// Original file: /work/main/proto/cleanroom/v1/session.proto


export interface SessionReady {
  'universeEpoch'?: (string);
  'universeVersion'?: (string);
  'universeSizeClass'?: (string);
}

export interface SessionReady__Output {
  'universeEpoch': (string);
  'universeVersion': (string);
  'universeSizeClass': (string);
}
