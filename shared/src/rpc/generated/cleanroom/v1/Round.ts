// Original file: proto/cleanroom/v1/envelope.proto

export const Round = {
  ROUND_UNSPECIFIED: 'ROUND_UNSPECIFIED',
  OPEN: 'OPEN',
  BLIND: 'BLIND',
  TOKENS: 'TOKENS',
  AGGREGATE: 'AGGREGATE',
  LOOKALIKE: 'LOOKALIKE',
  CHECKPOINT: 'CHECKPOINT',
  ABORT: 'ABORT',
  UNIVERSE: 'UNIVERSE',
  LOOKUP: 'LOOKUP',
} as const;

export type Round =
  | 'ROUND_UNSPECIFIED'
  | 0
  | 'OPEN'
  | 1
  | 'BLIND'
  | 2
  | 'TOKENS'
  | 3
  | 'AGGREGATE'
  | 5
  | 'LOOKALIKE'
  | 6
  | 'CHECKPOINT'
  | 7
  | 'ABORT'
  | 8
  | 'UNIVERSE'
  | 9
  | 'LOOKUP'
  | 10

export type Round__Output = typeof Round[keyof typeof Round]
