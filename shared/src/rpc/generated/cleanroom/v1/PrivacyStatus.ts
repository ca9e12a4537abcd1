// Original file: proto/cleanroom/v1/session.proto


export interface PrivacyStatus {
  'epsilonCharged'?: (number | string);
  'epsilonSpent'?: (number | string);
  'epsilonRemaining'?: (number | string);
  'budget'?: (number | string);
}

export interface PrivacyStatus__Output {
  'epsilonCharged': (number);
  'epsilonSpent': (number);
  'epsilonRemaining': (number);
  'budget': (number);
}
