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
 * The rounds of a session, in the order the protocol runs them. A look-alike session runs
 * OPEN BLIND TOKENS AGGREGATE LOOKALIKE; a lookup session OPEN BLIND TOKENS LOOKUP.
 */
export const SESSION_ROUNDS = ['OPEN', 'BLIND', 'TOKENS', 'AGGREGATE', 'LOOKALIKE', 'LOOKUP'] as const;
export type SessionRound = (typeof SESSION_ROUNDS)[number];

/** Every round a statement may name: the session rounds, checkpoints, aborts, universe syncs. */
export const ROUNDS = [...SESSION_ROUNDS, 'CHECKPOINT', 'ABORT', 'UNIVERSE'] as const;
export type Round = (typeof ROUNDS)[number];

export function isRound(x: unknown): x is Round {
  return typeof x === 'string' && (ROUNDS as readonly string[]).includes(x);
}

/** Position of each session round (later rounds never come before earlier ones on a link). */
export const SESSION_ROUND_RANK: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(SESSION_ROUNDS.map((r, i) => [r, i])));

/** The session kinds (docs/protocol.md has one section per kind). */
export const SESSION_KINDS = ['lookalike', 'retargeting', 'joint-count', 'joint-activate', 'profile', 'lookup', 'federated'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

export function isSessionKind(x: unknown): x is SessionKind {
  return typeof x === 'string' && (SESSION_KINDS as readonly string[]).includes(x);
}
