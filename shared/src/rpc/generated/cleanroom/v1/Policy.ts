// Original file: proto/cleanroom/v1/session.proto

import type { Long } from '@grpc/proto-loader';

export interface Policy {
  'decoyRatio'?: (number);
  'minCohort'?: (number);
  'noiseScale'?: (number | string);
  'sizeBuckets'?: (number | string | Long)[];
  'evaluationQuota'?: (number | string | Long);
  'epsilonProfile'?: (number | string);
  'epsilonCount'?: (number | string);
  'epsilonDifferencing'?: (number | string);
  'privacyBudget'?: (number | string);
  'differencingMin'?: (number);
}

export interface Policy__Output {
  'decoyRatio': (number);
  'minCohort': (number);
  'noiseScale': (number);
  'sizeBuckets': (string)[];
  'evaluationQuota': (string);
  'epsilonProfile': (number);
  'epsilonCount': (number);
  'epsilonDifferencing': (number);
  'privacyBudget': (number);
  'differencingMin': (number);
}
