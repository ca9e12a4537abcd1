/**
 * Advertiser (A) protocol role: one state machine, no network, no filesystem.
 *
 * Flow (docs/protocol.md):
 *   new ──open()──▶ opened ──blind(SessionAccepted)──▶ blinded ──unblind(evaluated)──▶ tokens-sent
 *       ──finish(SessionResult)──▶ done          (fail() from any phase ▶ failed)
 *   opened ──beginBlind(accepted)──▶ blinding ──blindSome(max)…──▶ blinded
 *   blinded ──beginUnblind(evaluated)──▶ unblinding ──unblindSome(max)…──▶ tokens-sent
 *       (the same rounds in slices, so that a node can answer its peers and its admin API
 *       between them: a CRM of 10^5–10^6 seeds is seconds to a minute of one core)
 *   opened ──acceptRefusal(SessionResult)──▶ done   (refused at OPEN: the privacy budget)
 * The BLIND and TOKENS rounds (blind … unblindSome) are token-rounds.ts's TokenRole, the
 * shell this role shares with the lookup's advertiser role (lookup.ts).
 *
 * 1. open: seed IDs are normalised (common/ids.ts); invalid rows are rejected per row and
 *    counted, duplicates dropped. Only the count of valid seeds leaves A.
 * 2. blind: each seed x is hashed into the prime-order group with the universe's domain
 *    separation tag, H(x), and blinded with a fresh random scalar r: X25519(r, H(x)).
 *    The scalars never leave this object and are fresh per session, so blinded values of
 *    the same ID in two sessions are unlinkable.
 * 3. unblind: the media node's evaluations are unblinded with r⁻¹ and finalised into
 *    12-byte tokens F_k(x) — A learns nothing about media's users from them.
 * 4. finish: A receives the session result: counts (policy-noised), the cohort insight,
 *    the look-alike audience handle, size and quality; never per-user data of media.
 *
 * What A learns: media's universe size class and epoch, the padded size, the noised real
 * match count, the padded match count, the cohort insight, the audience handle and size.
 */
import { normalizeRows } from '../common/ids.ts';
import { boxKeyPair, openSealed, type BoxKeyPair } from '../crypto/sealed-box.ts';
import { parseStrict } from '../crypto/jcs.ts';
import type { SessionKind } from '../common/names.ts';
import {
  expectPhase, ProtocolError,
  type CohortInsight, type IdType, type OpenSession, type SessionAccepted, type SessionResult,
} from './messages.ts';
import { TokenRole, type AskedPolicy, type SeedReport, type TokenRoundPhase, type UnblindSlices } from './token-rounds.ts';

/**
 * Each phase carries exactly the state valid in it: the broker's accepted policy from BLIND on,
 * the blinding scalars only while blinded (dropped once the tokens are out, or on failure),
 * the result and its sealed parts once done.
 */
export type AdvertiserPhase = OwnPhase | TokenRoundPhase;

/** This role's phases besides the token rounds' (blinding, blinded, unblinding: token-rounds.ts). */
type OwnPhase =
  | { name: 'new' }
  | { name: 'opened' }
  | { name: 'tokens-sent'; accepted: SessionAccepted }
  | { name: 'done'; accepted: SessionAccepted | undefined; result: SessionResult; sealed: Sealed }
  | { name: 'failed'; accepted: SessionAccepted | undefined; reason: string };

/** What media sealed to this session's result key, opened at LOOKALIKE (none for the other kinds). */
type Sealed =
  | { kind: 'none' }
  | { kind: 'insight'; insight: CohortInsight }
  | { kind: 'joint-counts'; counts: JointCounts };

export type { SeedReport };

export interface AdvertiserParams {
  idType: IdType;
  /** Raw seed IDs as they come from the CRM (normalised here). */
  seeds: readonly string[];
  audienceSize: number;
  decoyRatio: number;
  minCohort: number;
  /** A's Ed25519 transcript key, echoed at OPEN for the record. */
  signingPublicKey: Uint8Array;
  /** The session kind (default lookalike); the seeds are already A's selection for it. */
  kind?: SessionKind;
  /** Joint kinds: media's predicate as JSON text, relayed to media (never evaluated here). */
  mediaPredicate?: string;
  /** joint-activate: the joint-count session this confirms. */
  countSession?: string;
  rng?: (n: number) => Uint8Array;
}

export class AdvertiserRole extends TokenRole<OwnPhase> {
  protected phase_: AdvertiserPhase = { name: 'new' };
  protected readonly party = 'advertiser';
  readonly report: SeedReport;
  private readonly seeds: string[];
  private readonly params: AdvertiserParams;
  private readonly resultKey: BoxKeyPair = boxKeyPair();

  constructor(params: AdvertiserParams) {
    super();
    if (!Number.isSafeInteger(params.audienceSize) || params.audienceSize < 1) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected audienceSize ≥ 1, got ${params.audienceSize}`);
    }
    const { valid, rejected, duplicates } = normalizeRows(params.idType, params.seeds);
    this.report = { rows: params.seeds.length, valid: valid.length, rejected, duplicates };
    if (valid.length === 0) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected at least one valid ${params.idType} seed ID, got none of ${params.seeds.length} rows`);
    }
    this.seeds = valid;
    this.params = params;
  }

  get phase(): AdvertiserPhase['name'] {
    return this.phase_.name;
  }

  get kind(): SessionKind {
    return this.params.kind ?? 'lookalike';
  }

  /** The session's result, once done (LOOKALIKE, or a refusal at OPEN). */
  get result(): SessionResult | undefined {
    return this.phase_.name === 'done' ? this.phase_.result : undefined;
  }

  /** The decrypted cohort profile media sealed to this session's result key (lookalike, profile). */
  get insight(): CohortInsight | undefined {
    return this.phase_.name === 'done' && this.phase_.sealed.kind === 'insight' ? this.phase_.sealed.insight : undefined;
  }

  /** The noised counts media sealed to this session's result key (joint-count). */
  get jointCounts(): JointCounts | undefined {
    return this.phase_.name === 'done' && this.phase_.sealed.kind === 'joint-counts' ? this.phase_.sealed.counts : undefined;
  }

  get failure(): string | undefined {
    return this.phase_.name === 'failed' ? this.phase_.reason : undefined;
  }

  /** The policy the broker settled, once OPEN is answered. */
  get acceptedPolicy(): SessionAccepted['policy'] | undefined {
    return 'accepted' in this.phase_ ? this.phase_.accepted?.policy : undefined;
  }

  private expect<N extends AdvertiserPhase['name']>(call: string, ...names: N[]): Extract<AdvertiserPhase, { name: N }> {
    expectPhase('advertiser', this.phase_.name, names, call);
    return this.phase_ as Extract<AdvertiserPhase, { name: N }>;
  }

  /** Round OPEN: what A tells the broker. */
  open(): OpenSession {
    this.expect('open', 'new');
    this.phase_ = { name: 'opened' };
    return {
      idType: this.params.idType,
      seedCount: this.seeds.length,
      audienceSize: this.params.audienceSize,
      decoyRatio: this.params.decoyRatio,
      minCohort: this.params.minCohort,
      advertiserKey: this.params.signingPublicKey,
      resultKey: this.resultKey.publicKey,
      kind: this.kind,
      mediaPredicate: this.params.mediaPredicate ?? '',
      countSession: this.params.countSession ?? '',
    };
  }

  /** Round OPEN, refused (the privacy budget): the session ends here; nothing was sent but the count. */
  acceptRefusal(result: SessionResult): SessionResult {
    this.expect('acceptRefusal', 'opened');
    if (result.outcome !== 'BUDGET_EXHAUSTED') throw new ProtocolError('INVALID_ARGUMENT', `expected a refusal at OPEN (BUDGET_EXHAUSTED), got ${result.outcome}`);
    const refused = { ...result, lookalike: undefined };
    this.phase_ = { name: 'done', accepted: undefined, result: refused, sealed: { kind: 'none' } };
    return refused;
  }

  // TokenRole: the BLIND and TOKENS rounds over the normalised seeds
  protected get ids(): readonly string[] {
    return this.seeds;
  }

  protected get idType(): IdType {
    return this.params.idType;
  }

  protected get policyAsked(): AskedPolicy {
    return { decoyRatio: this.params.decoyRatio, minCohort: this.params.minCohort };
  }

  protected get rng(): ((n: number) => Uint8Array) | undefined {
    return this.params.rng;
  }

  /** Round TOKENS done: the scalars are dropped, only the accepted session is kept. */
  protected tokensSent(accepted: SessionAccepted, _work: UnblindSlices): OwnPhase {
    return { name: 'tokens-sent', accepted };
  }

  /** Round LOOKALIKE: the outcome relayed by the broker. */
  finish(result: SessionResult): SessionResult {
    const p = this.expect('finish', 'tokens-sent');
    if (result.realMatches > this.seeds.length + 3 * Math.max(1, p.accepted.policy.noiseScale) * 10) {
      throw new ProtocolError('INVALID_ARGUMENT', `broker reported ${result.realMatches} real matches for ${this.seeds.length} seeds`);
    }
    let sealed: Sealed = { kind: 'none' };
    if (result.outcome === 'COMPLETED' && SEALED_RESULT[this.kind]) {
      const opened = result.lookalike ? openSealed(result.lookalike.sealedInsight, this.resultKey) : null;
      if (!opened) throw new ProtocolError('INVALID_ARGUMENT', 'the sealed result is missing, altered, or not sealed to this session\'s result key');
      sealed = this.kind === 'joint-count' ? { kind: 'joint-counts', counts: parseJointCounts(opened) } : { kind: 'insight', insight: parseInsight(opened) };
    }
    this.phase_ = { name: 'done', accepted: p.accepted, result, sealed };
    return result;
  }

  /** Any phase ▶ failed: the blinding scalars (if any) are dropped with the phase. */
  fail(reason: string): void {
    this.phase_ = { name: 'failed', accepted: 'accepted' in this.phase_ ? this.phase_.accepted : undefined, reason };
  }

  get seedCount(): number {
    return this.seeds.length;
  }

  /** What this advertiser asked for (the broker may raise it; the result reports both). */
  get asked(): { decoyRatio: number; minCohort: number } {
    return { decoyRatio: this.params.decoyRatio, minCohort: this.params.minCohort };
  }
}

/** The kinds whose result media seals to A's result key (the broker relays it unread). */
const SEALED_RESULT: Readonly<Record<SessionKind, boolean>> = {
  lookalike: true, profile: true, 'joint-count': true, 'joint-activate': false, retargeting: false, lookup: false, federated: false,
};

/** joint-count: what media decrypted (noised by the broker before media saw it) and its own reference count. */
export interface JointCounts {
  /** A's selection ∧ media's predicate ∧ consent_ads, noised. */
  joint: number;
  /** Media's predicate ∧ consent_ads over its whole published universe, noised by media. */
  mediaOnly: number;
}

function parseJointCounts(bytes: Uint8Array): JointCounts {
  let v: unknown;
  try {
    v = parseStrict(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ProtocolError('INVALID_ARGUMENT', `joint counts: ${(err as Error).message}`);
  }
  const o = v as JointCounts;
  if (typeof o !== 'object' || o === null || !Number.isSafeInteger(o.joint) || !Number.isSafeInteger(o.mediaOnly)) {
    throw new ProtocolError('INVALID_ARGUMENT', 'joint counts: expected {joint, mediaOnly} integers');
  }
  return { joint: o.joint, mediaOnly: o.mediaOnly };
}

function parseInsight(bytes: Uint8Array): CohortInsight {
  let v: unknown;
  try {
    v = parseStrict(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ProtocolError('INVALID_ARGUMENT', `cohort insight: ${(err as Error).message}`);
  }
  const o = v as CohortInsight;
  if (typeof o !== 'object' || o === null || !Number.isSafeInteger(o.cohortSize) || !Array.isArray(o.totals)) {
    throw new ProtocolError('INVALID_ARGUMENT', 'cohort insight: expected {cohortSize, totals[]}');
  }
  for (const t of o.totals) {
    if (typeof t?.name !== 'string' || !Number.isSafeInteger(t.total) || typeof t.share !== 'number' || typeof t.universeShare !== 'number') {
      throw new ProtocolError('INVALID_ARGUMENT', 'cohort insight: malformed attribute total');
    }
  }
  return o;
}
