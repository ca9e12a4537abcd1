/**
 * The one definition of the protocol's parties and rounds. Everything that names them —
 * protocol messages, signing keys, the role table's certificate check, statements,
 * transcripts, codecs and the verifier — imports these lists instead of repeating them.
 * (The proto enums in proto/cleanroom/v1/envelope.proto use the same names, upper-cased.)
 */

/** The three parties, in the order documents list them. */
export const PARTIES = ['advertiser', 'media', 'broker'] as const;
export type Party = (typeof PARTIES)[number];

export function isParty(x: unknown): x is Party {
  return typeof x === 'string' && (PARTIES as readonly string[]).includes(x);
}

/**
 * The kinds of session the clean room runs (the admin API's and the CLI's `kind`). A party
 * declares its session's kind in its signed policy (`policy.kind`; absent means `lookalike`),
 * and the verifier checks the transcript against that kind's flow in SESSION_FLOWS.
 */
export const SESSION_KINDS = ['lookalike', 'retargeting', 'joint-count', 'joint-activate', 'profile', 'lookup', 'federated'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

export function isSessionKind(x: unknown): x is SessionKind {
  return typeof x === 'string' && (SESSION_KINDS as readonly string[]).includes(x);
}

/** Every round a session of any kind runs (each kind's order is in SESSION_FLOWS). */
export const SESSION_ROUNDS = ['OPEN', 'BLIND', 'TOKENS', 'AGGREGATE', 'LOOKALIKE'] as const;
export type SessionRound = (typeof SESSION_ROUNDS)[number];

export function isSessionRound(x: unknown): x is SessionRound {
  return typeof x === 'string' && (SESSION_ROUNDS as readonly string[]).includes(x);
}

/** How a session of one kind runs, as its transcripts show it. */
export interface SessionFlow {
  /** Its rounds in protocol order: on each link they never go backwards. */
  readonly rounds: readonly SessionRound[];
  /** The message that completes it (the session's result), recorded by sender and receiver. */
  readonly final: { readonly sender: Party; readonly receiver: Party; readonly payloadType: string };
}

/**
 * The flow of each session kind. Adding a kind: its new rounds go into SESSION_ROUNDS, its flow
 * here; the verifier (transcript/verify.ts) then audits it. A kind without an entry is reported
 * by the verifier as one it cannot audit.
 */
export const SESSION_FLOWS: { readonly [K in SessionKind]?: SessionFlow } = {
  lookalike: {
    rounds: ['OPEN', 'BLIND', 'TOKENS', 'AGGREGATE', 'LOOKALIKE'],
    final: { sender: 'broker', receiver: 'advertiser', payloadType: 'cleanroom.v1.SessionResult' },
  },
};

/** Every round a statement may name: the session rounds, checkpoints, aborts, universe syncs. */
export const ROUNDS = [...SESSION_ROUNDS, 'CHECKPOINT', 'ABORT', 'UNIVERSE'] as const;
export type Round = (typeof ROUNDS)[number];

export function isRound(x: unknown): x is Round {
  return typeof x === 'string' && (ROUNDS as readonly string[]).includes(x);
}
