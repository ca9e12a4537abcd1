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
  FED_JOIN: 'FED_JOIN',
  FED_KEYS: 'FED_KEYS',
  FED_SHARES: 'FED_SHARES',
  FED_MASKED: 'FED_MASKED',
  FED_UNMASK: 'FED_UNMASK',
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
  | 'FED_JOIN'
  | 20
  | 'FED_KEYS'
  | 21
  | 'FED_SHARES'
  | 22
  | 'FED_MASKED'
  | 23
  | 'FED_UNMASK'
  | 24

export type Round__Output = typeof Round[keyof typeof Round]
