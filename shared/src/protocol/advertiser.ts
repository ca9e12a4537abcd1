/**
 * Advertiser (A) protocol role: one state machine, no network, no filesystem.
 *
 * Flow (docs/protocol.md):
 *   new ──open()──▶ opened ──blind(SessionAccepted)──▶ blinded ──unblind(evaluated)──▶ tokens-sent
 *       ──finish(SessionResult)──▶ done          (fail() from any phase ▶ failed)
 *
 * 1. open: seed IDs are normalised (common/ids.ts); invalid rows are rejected per row and
 *    counted, duplicates dropped. Only the count of valid seeds leaves A.
 * 2. blind: each seed x is hashed into the prime-order group with the universe's domain
 *    separation tag, H(x), and blinded with a fresh random scalar r: X25519(r, H(x)).
 *    The scalars never leave this object and are fresh per session, so blinded values of
 *    the same ID in two sessions are unlinkable.
 * 3. unblind: the media node's evaluations are unblinded with r⁻¹ and finalised into
 *    16-byte tokens F_k(x) — A learns nothing about media's users from them.
 * 4. finish: A receives the session result: counts (policy-noised), the cohort insight,
 *    the look-alike audience handle, size and quality; never per-user data of media.
 *
 * What A learns: media's universe size class and epoch, the padded size, the noised real
 * match count, the padded match count, the cohort insight, the audience handle and size.
 */
import { blindBatch, unblindBatch, finalize, type Blinded } from '../crypto/oprf.ts';
import { hashToGroupBatch, oprfDst } from '../crypto/h2c.ts';
import { normalizeRows } from '../common/ids.ts';
import { boxKeyPair, openSealed, type BoxKeyPair } from '../crypto/sealed-box.ts';
import { parseStrict } from '../crypto/jcs.ts';
import type { SessionKind } from '../common/names.ts';
import {
  expectPhase, ProtocolError,
  type CohortInsight, type ElementBytes, type IdType, type OpenSession, type SessionAccepted, type SessionResult, type TokenBytes,
} from './messages.ts';

export type AdvertiserPhase = 'new' | 'opened' | 'blinded' | 'tokens-sent' | 'done' | 'failed';

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
  phase: AdvertiserPhase = 'new';
  readonly report: SeedReport;
  private readonly seeds: string[];
  private readonly params: AdvertiserParams;
  private blinded: Blinded[] = [];
  private accepted: SessionAccepted | undefined;
  result: SessionResult | undefined;
  /** The decrypted cohort profile media sealed to this session's result key (lookalike, profile). */
  insight: CohortInsight | undefined;
  /** The noised counts media sealed to this session's result key (joint-count). */
  jointCounts: JointCounts | undefined;
  private readonly resultKey: BoxKeyPair = boxKeyPair();
  failure: string | undefined;

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

  /** Round OPEN: what A tells the broker. */
  open(): OpenSession {
    expectPhase('advertiser', this.phase, ['new'], 'open');
    this.phase = 'opened';
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

  get kind(): SessionKind {
    return this.params.kind ?? 'lookalike';
  }

  /** Round OPEN, refused (the privacy budget): the session ends here; nothing was sent but the count. */
  refused(result: SessionResult): SessionResult {
    expectPhase('advertiser', this.phase, ['opened'], 'refused');
    if (result.outcome !== 'BUDGET_EXHAUSTED') throw new ProtocolError('INVALID_ARGUMENT', `expected a refusal at OPEN (BUDGET_EXHAUSTED), got ${result.outcome}`);
    this.result = { ...result, lookalike: undefined };
    this.phase = 'done';
    return this.result;
  }

  /** The policy the broker settled, once OPEN is answered. */
  get acceptedPolicy(): SessionAccepted['policy'] | undefined {
    return this.accepted?.policy;
  }

  /** Round BLIND: checks the broker's policy is no weaker than asked, then blinds the seeds. */
  blind(accepted: SessionAccepted): ElementBytes[] {
    expectPhase('advertiser', this.phase, ['opened'], 'blind');
    if (accepted.policy.decoyRatio < this.params.decoyRatio) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker policy has decoy ratio ${accepted.policy.decoyRatio}, expected ≥ ${this.params.decoyRatio}`);
    }
    if (accepted.policy.minCohort < this.params.minCohort) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker policy has minimum cohort ${accepted.policy.minCohort}, expected ≥ ${this.params.minCohort}`);
    }
    if (accepted.paddedCount < this.seeds.length * (1 + accepted.policy.decoyRatio)) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker announced padded size ${accepted.paddedCount}, expected ≥ ${this.seeds.length * (1 + accepted.policy.decoyRatio)}`);
    }
    this.accepted = accepted;
    const dst = oprfDst(this.params.idType, accepted.universeEpoch);
    const points = hashToGroupBatch(this.seeds.map((s) => utf8(s)), dst);
    this.blinded = blindBatch(points, this.params.rng);
    this.phase = 'blinded';
    return this.blinded.map((b) => b.blinded);
  }

  /** Round TOKENS: unblinds media's evaluations (relayed by the broker, in A's order). */
  unblind(evaluated: readonly ElementBytes[]): TokenBytes[] {
    expectPhase('advertiser', this.phase, ['blinded'], 'unblind');
    if (evaluated.length !== this.blinded.length) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected ${this.blinded.length} evaluated elements, got ${evaluated.length}`);
    }
    const unblinded = unblindBatch(this.blinded.map((b) => b.inverse), evaluated);
    const tokens = unblinded.map((u, i) => finalize(utf8(this.seeds[i]!), u));
    this.blinded = [];
    this.phase = 'tokens-sent';
    return tokens;
  }

  /** Round LOOKALIKE: the outcome relayed by the broker. */
  finish(result: SessionResult): SessionResult {
    expectPhase('advertiser', this.phase, ['tokens-sent'], 'finish');
    if (result.realMatches > this.seeds.length + 3 * Math.max(1, this.accepted?.policy.noiseScale ?? 0) * 10) {
      throw new ProtocolError('INVALID_ARGUMENT', `broker reported ${result.realMatches} real matches for ${this.seeds.length} seeds`);
    }
    if (result.outcome === 'COMPLETED' && SEALED_RESULT[this.kind]) {
      const opened = result.lookalike ? openSealed(result.lookalike.sealedInsight, this.resultKey) : null;
      if (!opened) throw new ProtocolError('INVALID_ARGUMENT', 'the sealed result is missing, altered, or not sealed to this session\'s result key');
      if (this.kind === 'joint-count') this.jointCounts = parseJointCounts(opened);
      else this.insight = parseInsight(opened);
    }
    this.result = result;
    this.phase = 'done';
    return result;
  }

  fail(reason: string): void {
    this.blinded = [];
    this.failure = reason;
    this.phase = 'failed';
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

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
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
