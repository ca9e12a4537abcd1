/**
 * Media (B) protocol role: one state machine, no network, no filesystem.
 *
 * Flow (docs/protocol.md):
 *   new ─prepare(PrepareSession)─▶ prepared ─evaluate(batch)*─▶ evaluating
 *   ─lookalike(CohortProfile)─▶ done                                   (fail() ▶ failed)
 *
 * - prepare: checks the session runs on media's current publication (the broker holds its
 *   tokens and encrypted attributes; the publication's BFV secret key never leaves media).
 * - evaluate: OPRF evaluation of blinded elements under the universe key, at most the
 *   session's evaluation quota in total (= the padded size announced) — the throttle
 *   against enumerating the phone-number space through media. Every element is validated
 *   (length, canonical, not low-order) before the key touches it.
 * - lookalike: decrypts the single aggregate profile, checks it is an aggregate (every
 *   block equal) over at least the minimum cohort (the stricter of the session's and
 *   media's own floor), scores the universe, selects the audience. Below the minimum
 *   nothing is built or released.
 *
 * What media learns: the padded size bucket (from the BLIND round) and the noised
 * per-attribute totals over the advertiser's real matched users. It receives no list of
 * users: not the real matches, not decoys. The audience is therefore not "seeds excluded":
 * it is media's top-scored users, some of whom may be A's customers (docs/protocol.md §2).
 */
import { randomUUID } from 'node:crypto';
import { BfvFormatError, type MediaBfv } from '../crypto/bfv.ts';
import { InvalidElementError, validateElements } from '../crypto/group.ts';
import { evaluateBatchParallel } from '../crypto/oprf.ts';
import { ATTRIBUTES, GROUP_OF_INDEX } from '../common/attributes.ts';
import { buildLookalike } from './lookalike.ts';
import { seal } from '../crypto/sealed-box.ts';
import { canonicalBytes } from '../crypto/jcs.ts';
import { sizeClass } from './policy.ts';
import type { Universe } from './universe.ts';
import {
  ProtocolError,
  type CohortProfile, type ElementBytes, type LookalikeResult, type PrepareSession, type SessionReady,
} from './messages.ts';

/** The publication media serves: its version and the key pair that decrypts its profiles. */
export interface MediaPublication {
  epoch: string;
  version: string;
  bfv: MediaBfv;
}

export interface MediaParams {
  universe: Universe;
  publication: MediaPublication;
  /** Largest padded size media accepts for one session. */
  maxPaddedCount: number;
  /** Worker threads for OPRF evaluation (1 = inline). */
  threads: number;
  /** Media's own minimum cohort; the stricter of this and the session's policy applies. */
  minCohort?: number;
}

/** An audience media built: its own users, kept by media, never sent to anyone. */
export interface Audience {
  audienceId: string;
  rows: Uint32Array;
}

/** Each phase carries exactly the state valid in it. */
export type MediaPhase =
  | { name: 'new' }
  | { name: 'prepared'; request: PrepareSession; evaluated: number }
  | { name: 'evaluating'; request: PrepareSession; evaluated: number }
  | { name: 'done'; audience: Audience | undefined }
  | { name: 'failed'; reason: string };

export class MediaRole {
  private phase_: MediaPhase = { name: 'new' };
  private readonly params: MediaParams;

  constructor(params: MediaParams) {
    this.params = params;
  }

  get phase(): MediaPhase['name'] {
    return this.phase_.name;
  }

  get audience(): Audience | undefined {
    return this.phase_.name === 'done' ? this.phase_.audience : undefined;
  }

  get failure(): string | undefined {
    return this.phase_.name === 'failed' ? this.phase_.reason : undefined;
  }

  /** The session's policy, while it runs. */
  get policy(): PrepareSession['policy'] | undefined {
    return 'request' in this.phase_ ? this.phase_.request.policy : undefined;
  }

  private expect<N extends MediaPhase['name']>(call: string, ...names: N[]): Extract<MediaPhase, { name: N }> {
    if (!(names as string[]).includes(this.phase_.name)) {
      throw new ProtocolError('FAILED_PRECONDITION', `media: called ${call} in phase '${this.phase_.name}', expected one of: ${names.join(', ')}`);
    }
    return this.phase_ as Extract<MediaPhase, { name: N }>;
  }

  /**
   * Round OPEN: accepts the session on the current publication — or, when the node's own
   * privacy ledger refused it (`budgetRefusal`), answers BUDGET_EXHAUSTED and ends.
   */
  prepare(msg: PrepareSession, budgetRefusal?: string): SessionReady {
    this.expect('prepare', 'new');
    const { universe, publication } = this.params;
    if (!universe.idTypes.includes(msg.idType)) {
      throw new ProtocolError('FAILED_PRECONDITION', `media has no prepared universe for ID type '${msg.idType}'`);
    }
    if (msg.universeVersion !== publication.version) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker holds publication ${msg.universeVersion.slice(0, 12) || '(none)'}, media serves ${publication.version.slice(0, 12)}: resync the universe`);
    }
    if (!Number.isSafeInteger(msg.paddedCount) || msg.paddedCount < 1 || msg.paddedCount > this.params.maxPaddedCount) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `expected padded size in [1, ${this.params.maxPaddedCount}], got ${msg.paddedCount}`);
    }
    if (msg.policy.evaluationQuota > msg.paddedCount) {
      throw new ProtocolError('INVALID_ARGUMENT', `evaluation quota ${msg.policy.evaluationQuota} exceeds the padded size ${msg.paddedCount}`);
    }
    const base = { universeEpoch: universe.epoch, universeVersion: publication.version, universeSizeClass: sizeClass(universe.size) };
    if (budgetRefusal !== undefined) {
      this.phase_ = { name: 'done', audience: undefined };
      return { ...base, outcome: 'BUDGET_EXHAUSTED', reason: budgetRefusal };
    }
    this.phase_ = { name: 'prepared', request: msg, evaluated: 0 };
    return { ...base, outcome: 'COMPLETED', reason: '' };
  }

  /** Round BLIND: evaluates one batch of blinded elements; cumulative quota enforced. */
  async evaluate(batch: readonly ElementBytes[]): Promise<ElementBytes[]> {
    const p = this.expect('evaluate', 'prepared', 'evaluating');
    try {
      validateElements(batch);
    } catch (err) {
      if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
      throw err;
    }
    const quota = p.request.policy.evaluationQuota;
    if (p.evaluated + batch.length > quota) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `evaluation quota of ${quota} for this session exceeded (${p.evaluated} done, ${batch.length} more asked)`);
    }
    this.phase_ = { name: 'evaluating', request: p.request, evaluated: p.evaluated + batch.length };
    try {
      return await evaluateBatchParallel(this.params.universe.key, batch, this.params.threads);
    } catch (err) {
      if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
      throw err;
    }
  }

  /** Round AGGREGATE → LOOKALIKE: decrypts the profile and builds the audience. */
  lookalike(msg: CohortProfile): LookalikeResult {
    const p = this.expect('lookalike', 'prepared', 'evaluating');
    const empty: LookalikeResult = {
      outcome: 'COHORT_TOO_SMALL', audienceId: '', audienceSize: 0, quality: 0, sealedInsight: new Uint8Array(0),
    };
    if (msg.outcome === 'COHORT_TOO_SMALL') {
      this.phase_ = { name: 'done', audience: undefined };
      return empty;
    }
    if (p.evaluated !== p.request.paddedCount) {
      throw new ProtocolError('FAILED_PRECONDITION', `expected ${p.request.paddedCount} evaluations before the profile, got ${p.evaluated}`);
    }
    let decrypted: { totals: number[]; consistent: boolean };
    try {
      decrypted = this.params.publication.bfv.decryptProfile(msg.profile);
    } catch (err) {
      if (err instanceof BfvFormatError) throw new ProtocolError('INVALID_ARGUMENT', `cohort profile: ${err.message}`);
      throw err;
    }
    if (!decrypted.consistent) {
      throw new ProtocolError('INVALID_ARGUMENT', 'cohort profile is not an aggregate: its blocks differ (per-user values would be exposed); refused');
    }
    const { totals } = decrypted;
    // Every user has exactly one value in each single-valued group: the first group's
    // totals sum to the (noised) cohort size.
    const firstGroup = GROUP_OF_INDEX[0];
    const cohortSize = totals.reduce((a, t, j) => (GROUP_OF_INDEX[j] === firstGroup ? a + t : a), 0);
    if (cohortSize < Math.max(p.request.policy.minCohort, this.params.minCohort ?? 0)) {
      this.phase_ = { name: 'done', audience: undefined };
      return empty;
    }
    const u = this.params.universe;
    const built = buildLookalike({
      totals, cohortSize, universeShares: u.shares, packed: u.packed, users: u.size,
      exclude: new Set(), audienceSize: msg.audienceSize,
    });
    const audience = { audienceId: `aud_${randomUUID()}`, rows: built.rows };
    this.phase_ = { name: 'done', audience };
    return {
      outcome: 'COMPLETED',
      audienceId: audience.audienceId,
      audienceSize: built.rows.length,
      quality: built.quality,
      sealedInsight: seal(canonicalBytes({
        cohortSize,
        totals: ATTRIBUTES.map((a, j) => ({
          name: a.name, total: totals[j]!, share: round6(built.shares[j]!), universeShare: round6(u.shares[j]!),
        })),
      }), p.request.resultKey),
    };
  }

  fail(reason: string): void {
    this.phase_ = { name: 'failed', reason };
  }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
