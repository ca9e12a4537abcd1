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

/** A table with one entry per party, `f(party)`, in PARTIES order. */
export function perParty<T>(f: (party: Party) => T): Record<Party, T> {
  return Object.fromEntries(PARTIES.map((p) => [p, f(p)])) as Record<Party, T>;
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

/**
 * The rounds of a federated session (issue 14; advertiser members ⇄ broker only): FED_JOIN
 * once, then FED_KEYS, FED_SHARES, FED_MASKED, FED_UNMASK per training round — the sequence
 * repeats (SESSION_FLOWS.federated.cycleFrom).
 */
export const FEDERATED_ROUNDS = ['FED_JOIN', 'FED_KEYS', 'FED_SHARES', 'FED_MASKED', 'FED_UNMASK'] as const;
export type FederatedRound = (typeof FEDERATED_ROUNDS)[number];

/**
 * The rounds of a look-alike session, in order — also those of profile, joint-count,
 * retargeting and joint-activate, which differ only in what AGGREGATE and LOOKALIKE carry.
 */
export const LOOKALIKE_ROUNDS = ['OPEN', 'BLIND', 'TOKENS', 'AGGREGATE', 'LOOKALIKE'] as const;

/** Every round a session of any kind runs (each kind's order is in SESSION_FLOWS). */
export const SESSION_ROUNDS = [...LOOKALIKE_ROUNDS, 'LOOKUP', ...FEDERATED_ROUNDS] as const;
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
  /**
   * Iterative kinds: after the last round the flow may start again at this round (a federated
   * session runs FED_KEYS…FED_UNMASK once per training round); then the final message must
   * also be the last message of the link.
   */
  readonly cycleFrom?: SessionRound;
  /** Policy fields every party must declare, and identically (default: decoyRatio, minCohort). */
  readonly agreed?: readonly string[];
}

/** The final message of the look-alike family: the broker's SessionResult to the advertiser. */
const SESSION_RESULT: SessionFlow['final'] = { sender: 'broker', receiver: 'advertiser', payloadType: 'cleanroom.v1.SessionResult' };

/**
 * The flow of each session kind. Adding a kind: its new rounds go into SESSION_ROUNDS (a named
 * list, as LOOKALIKE_ROUNDS and FEDERATED_ROUNDS), its flow here; the verifier
 * (transcript/verify.ts) then audits it. A kind without an entry is reported by the verifier as
 * one it cannot audit.
 */
export const SESSION_FLOWS: { readonly [K in SessionKind]?: SessionFlow } = {
  lookalike: {
    rounds: LOOKALIKE_ROUNDS,
    final: SESSION_RESULT,
  },
  // lookup (protocol/lookup.ts): media's part ends with BLIND; the broker answers A's tokens
  // with one sealed label box per token (LabelBatch chunks, the last one completes it).
  lookup: {
    rounds: ['OPEN', 'BLIND', 'TOKENS', 'LOOKUP'],
    final: { sender: 'broker', receiver: 'advertiser', payloadType: 'cleanroom.v1.LabelBatch' },
  },
  // profile: the look-alike's rounds; media decrypts the profile and builds no audience.
  profile: {
    rounds: LOOKALIKE_ROUNDS,
    final: SESSION_RESULT,
  },
  // joint-count: AGGREGATE also carries media's indicator ciphertexts (IndicatorRequest → CiphertextBatch).
  'joint-count': {
    rounds: LOOKALIKE_ROUNDS,
    final: SESSION_RESULT,
  },
  // retargeting / joint-activate: AGGREGATE carries the DH-PSI in pages (the broker's padded set
  // in Activate pages, then per page of media's set IndicatorRequest → the page → the page under
  // the broker's scalar in Activate; each Activate but the last acknowledged by media with an Ack
  // in AGGREGATE); LOOKALIKE carries media's audience handle and noised size.
  retargeting: {
    rounds: LOOKALIKE_ROUNDS,
    final: SESSION_RESULT,
  },
  'joint-activate': {
    rounds: LOOKALIKE_ROUNDS,
    final: SESSION_RESULT,
  },
  // One link per member (statement session id `<session>-m<i>`), each audited as a session.
  federated: {
    rounds: FEDERATED_ROUNDS,
    final: { sender: 'broker', receiver: 'advertiser', payloadType: 'cleanroom.v1.RoundResult' },
    cycleFrom: 'FED_KEYS',
    agreed: ['roster', 'memberIndex', 'threshold', 'rounds', 'fracBits', 'updateLength', 'localEpochs', 'learningRate', 'l2'],
  },
};

/** Every round a statement may name: the session rounds (federated ones included), checkpoints, aborts, universe syncs. */
export const ROUNDS = [...SESSION_ROUNDS, 'CHECKPOINT', 'ABORT', 'UNIVERSE'] as const;
export type Round = (typeof ROUNDS)[number];

export function isRound(x: unknown): x is Round {
  return typeof x === 'string' && (ROUNDS as readonly string[]).includes(x);
}
