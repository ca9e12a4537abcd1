// Original file: proto/cleanroom/v1/session.proto

export const Outcome = {
  OUTCOME_UNSPECIFIED: 'OUTCOME_UNSPECIFIED',
  COMPLETED: 'COMPLETED',
  COHORT_TOO_SMALL: 'COHORT_TOO_SMALL',
  FAILED: 'FAILED',
  BUDGET_EXHAUSTED: 'BUDGET_EXHAUSTED',
  DIFFERENCING_REFUSED: 'DIFFERENCING_REFUSED',
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
  | 'BUDGET_EXHAUSTED'
  | 4
  | 'DIFFERENCING_REFUSED'
  | 5

export type Outcome__Output = typeof Outcome[keyof typeof Outcome]
