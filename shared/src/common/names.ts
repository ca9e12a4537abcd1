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

/** The rounds of a look-alike session, in the order the protocol runs them. */
export const SESSION_ROUNDS = ['OPEN', 'BLIND', 'TOKENS', 'AGGREGATE', 'LOOKALIKE'] as const;
export type SessionRound = (typeof SESSION_ROUNDS)[number];

/** Every round a statement may name: the session rounds, checkpoints, aborts, universe syncs. */
export const ROUNDS = [...SESSION_ROUNDS, 'CHECKPOINT', 'ABORT', 'UNIVERSE'] as const;
export type Round = (typeof ROUNDS)[number];

export function isRound(x: unknown): x is Round {
  return typeof x === 'string' && (ROUNDS as readonly string[]).includes(x);
}

/** Position of each session round (later rounds never come before earlier ones on a link). */
export const SESSION_ROUND_RANK: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(SESSION_ROUNDS.map((r, i) => [r, i])));

/**
 * The session kinds (issue 11): the same three nodes and building blocks, one privacy
 * contract each (docs/protocol.md, one section per kind). `lookalike` is the default.
 */
export const SESSION_KINDS = ['lookalike', 'retargeting', 'joint-count', 'joint-activate', 'profile', 'lookup', 'federated'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

export function isSessionKind(x: unknown): x is SessionKind {
  return typeof x === 'string' && (SESSION_KINDS as readonly string[]).includes(x);
}

/**
 * Each kind's round order, in one place: the nodes run these rounds in this order and the
 * verifier (`cleanroom audit verify`) checks a session's transcripts against its kind's
 * list (the kind is declared in every party's signed policy). The last round carries the
 * broker→advertiser result. A kind whose order differs from the look-alike's says so here.
 */
export const KIND_ROUNDS: Readonly<Record<SessionKind, readonly SessionRound[]>> = Object.freeze({
  lookalike: SESSION_ROUNDS,
  // profile: the look-alike's rounds; media decrypts the profile and builds no audience.
  profile: SESSION_ROUNDS,
  // joint-count: AGGREGATE carries media's indicator ciphertexts and the broker's masked sum.
  'joint-count': SESSION_ROUNDS,
  // joint-activate / retargeting: AGGREGATE carries the DH-PSI between broker and media.
  'joint-activate': SESSION_ROUNDS,
  retargeting: SESSION_ROUNDS,
  // lookup and federated: set by the engineers who build them.
  lookup: SESSION_ROUNDS,
  federated: SESSION_ROUNDS,
});

/** Position of each round in `kind`'s order (later rounds never come before earlier ones on a link). */
export function kindRoundRank(kind: SessionKind): Readonly<Record<string, number>> {
  return Object.fromEntries(KIND_ROUNDS[kind].map((r, i) => [r, i]));
}
