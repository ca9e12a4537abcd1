// Original file: /work/main/proto/cleanroom/v1/session.proto

export const Outcome = {
  OUTCOME_UNSPECIFIED: 'OUTCOME_UNSPECIFIED',
  COMPLETED: 'COMPLETED',
  COHORT_TOO_SMALL: 'COHORT_TOO_SMALL',
  FAILED: 'FAILED',
} as const;

export type Outcome =
  | 'OUTCOME_UNSPECIFIED'
  | 0
  | 'COMPLETED'
  | 1
  | 'COHORT_TOO_SMALL'
  | 2
  | 'FAILED'
  | 3

export type Outcome__Output = typeof Outcome[keyof typeof Outcome]
