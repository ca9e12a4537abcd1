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
import { blindBatch, unblindBatch, finalizeInto, type Blinded } from '../crypto/oprf.ts';
import { InvalidElementError, TOKEN_BYTES } from '../crypto/group.ts';
import { hashToGroupBatch, oprfDst } from '../crypto/h2c.ts';
import { normalizeRows } from '../common/ids.ts';
import { primitiveSnapshot, restorePrimitiveCounts } from '../common/op-counts.ts';
import { boxKeyPair, openSealed, type BoxKeyPair } from '../crypto/sealed-box.ts';
import { parseStrict } from '../crypto/jcs.ts';
import type { SessionKind } from '../common/names.ts';
import {
  expectPhase, ProtocolError,
  type CohortInsight, type ElementBytes, type IdType, type OpenSession, type SessionAccepted, type SessionResult, type TokenBytes,
} from './messages.ts';

/**
 * Each phase carries exactly the state valid in it: the broker's accepted policy from BLIND on,
 * the blinding scalars only while blinded (dropped once the tokens are out, or on failure),
 * the result and its sealed parts once done.
 */
export type AdvertiserPhase =
  | { name: 'new' }
  | { name: 'opened' }
  | { name: 'blinding'; accepted: SessionAccepted; work: BlindSlices }
  | { name: 'blinded'; accepted: SessionAccepted; blinded: Blinded[] }
  | { name: 'unblinding'; accepted: SessionAccepted; work: UnblindSlices }
  | { name: 'tokens-sent'; accepted: SessionAccepted }
  | { name: 'done'; accepted: SessionAccepted | undefined; result: SessionResult; sealed: Sealed }
  | { name: 'failed'; accepted: SessionAccepted | undefined; reason: string };

/** What media sealed to this session's result key, opened at LOOKALIKE (none for the other kinds). */
type Sealed =
  | { kind: 'none' }
  | { kind: 'insight'; insight: CohortInsight }
  | { kind: 'joint-counts'; counts: JointCounts };

export interface SeedReport {
  rows: number;
  valid: number;
  rejected: { index: number; reason: string }[];
  duplicates: number;
}

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

export class AdvertiserRole {
  private phase_: AdvertiserPhase = { name: 'new' };
  readonly report: SeedReport;
  private readonly seeds: string[];
  private readonly params: AdvertiserParams;
  private readonly resultKey: BoxKeyPair = boxKeyPair();

  constructor(params: AdvertiserParams) {
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

  /** Round BLIND: checks the broker's policy is no weaker than asked, then blinds the seeds. */
  blind(accepted: SessionAccepted): ElementBytes[] {
    this.claimBlind('blind', accepted);
    return this.blindSome(Infinity) as ElementBytes[]; // all at once: done
  }

  /**
   * Round BLIND in slices: checks the broker's policy as blind() does and claims the round;
   * blindSome then blinds the seeds `max` at a time, in order.
   */
  beginBlind(accepted: SessionAccepted): void {
    this.claimBlind('beginBlind', accepted);
  }

  private claimBlind(call: string, accepted: SessionAccepted): void {
    this.expect(call, 'opened');
    if (accepted.policy.decoyRatio < this.params.decoyRatio) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker policy has decoy ratio ${accepted.policy.decoyRatio}, expected ≥ ${this.params.decoyRatio}`);
    }
    if (accepted.policy.minCohort < this.params.minCohort) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker policy has minimum cohort ${accepted.policy.minCohort}, expected ≥ ${this.params.minCohort}`);
    }
    if (accepted.paddedCount < this.seeds.length * (1 + accepted.policy.decoyRatio)) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker announced padded size ${accepted.paddedCount}, expected ≥ ${this.seeds.length * (1 + accepted.policy.decoyRatio)}`);
    }
    this.phase_ = { name: 'blinding', accepted, work: new BlindSlices(this.seeds, oprfDst(this.params.idType, accepted.universeEpoch), this.params.rng) };
  }

  /**
   * Blinds the next `max` seeds (hash to group, fresh scalar, X25519); returns the blinded
   * elements, in seed order, once the last seed is blinded (phase blinded), else undefined.
   */
  blindSome(max: number): ElementBytes[] | undefined {
    const p = this.expect('blindSome', 'blinding');
    if (!p.work.step(max)) return undefined;
    this.phase_ = { name: 'blinded', accepted: p.accepted, blinded: p.work.blinded };
    return p.work.blinded.map((b) => b.blinded);
  }

  /** Round TOKENS: unblinds media's evaluations (relayed by the broker, in A's order). */
  unblind(evaluated: readonly ElementBytes[]): TokenBytes[] {
    this.claimUnblind('unblind', evaluated);
    return this.unblindSome(Infinity) as TokenBytes[]; // all at once: done
  }

  /** Round TOKENS in slices: checks the evaluations' count and claims the round; unblindSome does the work. */
  beginUnblind(evaluated: readonly ElementBytes[]): void {
    this.claimUnblind('beginUnblind', evaluated);
  }

  private claimUnblind(call: string, evaluated: readonly ElementBytes[]): void {
    const p = this.expect(call, 'blinded');
    this.phase_ = { name: 'unblinding', accepted: p.accepted, work: new UnblindSlices(this.seeds, p.blinded, evaluated) };
  }

  /**
   * Unblinds and finalises the next `max` evaluations; returns the tokens, in seed order (views
   * of one packed buffer), once the last is done (phase tokens-sent: the scalars are dropped),
   * else undefined. An invalid evaluation fails here with its index, whichever slice holds it.
   */
  unblindSome(max: number): TokenBytes[] | undefined {
    const p = this.expect('unblindSome', 'unblinding');
    if (!p.work.step(max)) return undefined;
    this.phase_ = { name: 'tokens-sent', accepted: p.accepted };
    return p.work.tokens;
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

const UTF8 = new TextEncoder();

/**
 * finalize(utf8(ids[i]), unblinded[i]) for every i: the tokens are views of one packed buffer
 * (finalizeInto: no message, digest or token array per ID).
 */
export function finalizeAll(ids: readonly string[], unblinded: readonly ElementBytes[]): TokenBytes[] {
  const packed = new Uint8Array(TOKEN_BYTES * unblinded.length);
  const tokens = new Array<TokenBytes>(unblinded.length);
  for (let i = 0; i < unblinded.length; i++) {
    finalizeInto(packed, TOKEN_BYTES * i, UTF8.encode(ids[i]!), unblinded[i]!);
    tokens[i] = packed.subarray(TOKEN_BYTES * i, TOKEN_BYTES * (i + 1));
  }
  return tokens;
}

/**
 * IDs a node blinds, or unblinds and finalises, per event-loop turn (BlindSlices.step,
 * UnblindSlices.step): ≈ 0.2 s of one core at 2,048 (hash to group + X25519 ≈ 0.09 ms per ID).
 * A CRM of 10^5–10^6 seeds is seconds to a minute of work; done at once, it would stop the
 * node's event loop that long (its admin API and its peers' keepalive pings unanswered).
 */
export const TOKEN_SLICE = 2048;

/**
 * Blinding of `ids` under `dst` in slices, in order: each step hashes the next IDs to the
 * group and blinds them with fresh scalars (blindBatch: its batch inversion per slice). The
 * result equals blinding them all at once with the same RNG stream.
 */
export class BlindSlices {
  readonly blinded: Blinded[] = [];
  private readonly ids: readonly string[];
  private readonly dst: string;
  private readonly rng: ((n: number) => Uint8Array) | undefined;

  constructor(ids: readonly string[], dst: string, rng?: (n: number) => Uint8Array) {
    this.ids = ids;
    this.dst = dst;
    this.rng = rng;
  }

  /** Blinds the next `max` IDs (at least one); true once all are blinded. */
  step(max: number): boolean {
    const from = this.blinded.length;
    const to = Math.min(this.ids.length, from + Math.max(1, max));
    if (to > from) {
      const points = hashToGroupBatch(this.ids.slice(from, to).map(utf8), this.dst);
      for (const b of blindBatch(points, this.rng)) this.blinded.push(b);
    }
    return to === this.ids.length;
  }
}

/**
 * Unblinding of `evaluated` with `blinded`'s scalars and finalising with `ids`, in slices, in
 * order. `tokens` are views of one packed buffer (TOKEN_BYTES each), `unblinded` the
 * unblinded elements (the lookup's label keys use them). An invalid evaluation fails its
 * step with its index in the whole list. Refuses counts that differ.
 */
export class UnblindSlices {
  readonly tokens: TokenBytes[];
  readonly unblinded: ElementBytes[];
  private readonly packed: Uint8Array;
  private readonly ids: readonly string[];
  private readonly blinded: readonly Blinded[];
  private readonly evaluated: readonly ElementBytes[];
  private done = 0;

  constructor(ids: readonly string[], blinded: readonly Blinded[], evaluated: readonly ElementBytes[]) {
    if (evaluated.length !== blinded.length || ids.length !== blinded.length) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected ${blinded.length} evaluated elements, got ${evaluated.length}`);
    }
    this.ids = ids;
    this.blinded = blinded;
    this.evaluated = evaluated;
    this.tokens = new Array<TokenBytes>(evaluated.length);
    this.unblinded = new Array<ElementBytes>(evaluated.length);
    this.packed = new Uint8Array(TOKEN_BYTES * evaluated.length);
  }

  /** Unblinds and finalises the next `max` (at least one); true once all are done. */
  step(max: number): boolean {
    const from = this.done;
    const to = Math.min(this.evaluated.length, from + Math.max(1, max));
    let points: ElementBytes[];
    try {
      points = unblindBatch(this.blinded.slice(from, to).map((b) => b.inverse), this.evaluated.slice(from, to));
    } catch (err) {
      // unblindBatch names the index within its slice: the error names it within the list
      if (err instanceof InvalidElementError && err.index !== undefined && from > 0) throw new InvalidElementError(err.reason, err.detail, from + err.index);
      throw err;
    }
    for (let i = from; i < to; i++) {
      const u = points[i - from]!;
      finalizeInto(this.packed, TOKEN_BYTES * i, UTF8.encode(this.ids[i]!), u);
      this.tokens[i] = this.packed.subarray(TOKEN_BYTES * i, TOKEN_BYTES * (i + 1));
      this.unblinded[i] = u;
    }
    this.done = to;
    return to === this.evaluated.length;
  }
}

/** How many synthetic IDs warmTokenPath runs through the token path. */
export const WARM_IDS = 1024;

/**
 * Compiles the advertiser's per-ID token path before a node's first session needs it: hashes
 * `ids` synthetic phone numbers to the group under a DST of their own (epoch 'warm-up'),
 * blinds them, unblinds (the blinded elements stand in for media's evaluations: no key is
 * involved, unblinding gives H(x) back) and finalises them, then discards everything. V8
 * optimises a function only once it has run for a while, compiling on background threads whose
 * CPU is the process's, so without this the first session of a node (the bench's W1) runs
 * part of its blinding in unoptimised code and pays for compiling it in its blind and tokens
 * phases. The advertiser's entry point calls it once at start (the lookup role shares the
 * path). Pure: no state is kept, the tokens of any later session are unchanged (tested), and
 * the primitive tallies are restored, so the warm-up counts as no session's work.
 */
export function warmTokenPath(ids: number = WARM_IDS): void {
  const before = primitiveSnapshot();
  try {
    const seeds = Array.from({ length: ids }, (_, i) => `+1202555${String(i % 10_000).padStart(4, '0')}`);
    // the sessions' own path: BlindSlices and UnblindSlices, TOKEN_SLICE IDs a step
    const blind = new BlindSlices(seeds, oprfDst('phone', 'warm-up'));
    while (!blind.step(TOKEN_SLICE));
    const unblind = new UnblindSlices(seeds, blind.blinded, blind.blinded.map((b) => b.blinded));
    while (!unblind.step(TOKEN_SLICE));
  } finally {
    restorePrimitiveCounts(before);
  }
}

export function utf8(s: string): Uint8Array {
  return UTF8.encode(s);
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
