/**
 * Media (B) protocol role: one state machine, no network, no filesystem.
 *
 * Flow (docs/protocol.md):
 *   new ─prepare(PrepareSession)─▶ prepared ─evaluate(batch)*─▶ evaluating ─encrypt(tokens)─▶
 *   encrypted ─lookalike(CohortProfile)─▶ done                       (fail() ▶ failed)
 *
 * - prepare: fresh BFV keys for the session (secret key never leaves this object); the
 *   public key and the few Galois keys the broker needs go out.
 * - evaluate: OPRF evaluation of blinded elements under the universe key, at most the
 *   session's evaluation quota in total (= the padded size announced) — the throttle
 *   against enumerating the phone-number space through media. Every element is validated
 *   (length, canonical, not low-order) before the key touches it.
 * - encrypt: for the broker's list of matched tokens (real + decoy, shuffled), the
 *   attribute vectors of those users, BFV-encrypted, SIMD-batched. Media learns which of
 *   its own users are in the padded match list, never which are the advertiser's.
 * - lookalike: decrypts the single aggregate profile, checks it is well-formed (every block
 *   equal) and above the minimum cohort, scores the universe, selects the audience
 *   excluding every padded match. Below the minimum nothing is built.
 *
 * What media learns: the padded size bucket, which of its users are in the padded match
 * list, the (noised) per-attribute totals over the advertiser's real matched users.
 */
import { randomUUID } from 'node:crypto';
import { MediaBfv, BfvFormatError } from '../crypto/bfv.ts';
import { InvalidElementError, validateElements } from '../crypto/group.ts';
import { evaluateBatchParallel } from '../crypto/oprf.ts';
import { ATTRIBUTES, ATTRIBUTE_COUNT, GROUP_OF_INDEX } from '../common/attributes.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { buildLookalike } from './lookalike.ts';
import { seal } from '../crypto/sealed-box.ts';
import { canonicalBytes } from '../crypto/jcs.ts';
import { sizeClass } from './policy.ts';
import type { PreparedUniverse } from './universe.ts';
import {
  expectPhase, ProtocolError,
  type CiphertextBytes, type CohortProfile, type ElementBytes, type LookalikeResult,
  type PrepareSession, type SessionKeys, type TokenBytes,
} from './messages.ts';

export type MediaPhase = 'new' | 'prepared' | 'evaluating' | 'encrypted' | 'done' | 'failed';

export interface MediaParams {
  universe: PreparedUniverse;
  /** Largest padded size media accepts for one session. */
  maxPaddedCount: number;
  /** Worker threads for OPRF evaluation (1 = inline). */
  threads: number;
}

/** An audience media built: its own users, kept by media, never sent to anyone. */
export interface Audience {
  audienceId: string;
  rows: Uint32Array;
}

export class MediaRole {
  phase: MediaPhase = 'new';
  private readonly params: MediaParams;
  private request: PrepareSession | undefined;
  private bfv: MediaBfv | undefined;
  private evaluated = 0;
  private matchedRows = new Set<number>();
  audience: Audience | undefined;
  failure: string | undefined;

  constructor(params: MediaParams) {
    this.params = params;
  }

  /** Round OPEN: fresh BFV keys and the universe description. */
  async prepare(msg: PrepareSession): Promise<SessionKeys> {
    expectPhase('media', this.phase, ['new'], 'prepare');
    if (!this.params.universe.index.has(msg.idType)) {
      throw new ProtocolError('FAILED_PRECONDITION', `media has no prepared universe for ID type '${msg.idType}'`);
    }
    if (!Number.isSafeInteger(msg.paddedCount) || msg.paddedCount < 1 || msg.paddedCount > this.params.maxPaddedCount) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `expected padded size in [1, ${this.params.maxPaddedCount}], got ${msg.paddedCount}`);
    }
    if (msg.policy.evaluationQuota > msg.paddedCount) {
      throw new ProtocolError('INVALID_ARGUMENT', `evaluation quota ${msg.policy.evaluationQuota} exceeds the padded size ${msg.paddedCount}`);
    }
    this.request = msg;
    this.bfv = await MediaBfv.create(ATTRIBUTE_COUNT);
    this.phase = 'prepared';
    return {
      bfv: this.bfv.publicMaterial(),
      universeEpoch: this.params.universe.epoch,
      universeSizeClass: sizeClass(this.params.universe.size),
      attributeCount: ATTRIBUTE_COUNT,
      usersPerCiphertext: this.bfv.layout.usersPerCiphertext,
      slots: this.bfv.layout.slots,
    };
  }

  /** Round BLIND: evaluates one batch of blinded elements; cumulative quota enforced. */
  async evaluate(batch: readonly ElementBytes[]): Promise<ElementBytes[]> {
    expectPhase('media', this.phase, ['prepared', 'evaluating'], 'evaluate');
    try {
      validateElements(batch);
    } catch (err) {
      if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
      throw err;
    }
    const quota = this.request!.policy.evaluationQuota;
    if (this.evaluated + batch.length > quota) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `evaluation quota of ${quota} for this session exceeded (${this.evaluated} done, ${batch.length} more asked)`);
    }
    this.evaluated += batch.length;
    this.phase = 'evaluating';
    try {
      return await evaluateBatchParallel(this.params.universe.key, batch, this.params.threads);
    } catch (err) {
      if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
      throw err;
    }
  }

  /** Round ENCRYPT: BFV ciphertexts of the listed users' attribute vectors, in list order. */
  encrypt(tokens: readonly TokenBytes[]): CiphertextBytes[] {
    expectPhase('media', this.phase, ['evaluating'], 'encrypt');
    if (this.evaluated !== this.request!.paddedCount) {
      throw new ProtocolError('FAILED_PRECONDITION', `expected ${this.request!.paddedCount} evaluations before ENCRYPT, got ${this.evaluated}`);
    }
    if (tokens.length > this.request!.paddedCount) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected at most ${this.request!.paddedCount} matched tokens (the padded size), got ${tokens.length}`);
    }
    const rows: number[] = [];
    const seen = new Set<number>();
    tokens.forEach((t, i) => {
      if (t.length !== TOKEN_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `token ${i}: expected ${TOKEN_BYTES} bytes, got ${t.length}`);
      const row = this.params.universe.rowOf(this.request!.idType, t);
      if (row < 0) throw new ProtocolError('INVALID_ARGUMENT', `token ${i} is not in media's prepared universe`);
      if (seen.has(row)) throw new ProtocolError('INVALID_ARGUMENT', `token ${i} is listed twice`);
      seen.add(row);
      rows.push(row);
    });
    this.matchedRows = seen;
    const cts = this.bfv!.encryptUsers(rows.map((r) => this.params.universe.vector(r)));
    this.phase = 'encrypted';
    return cts;
  }

  /** Round AGGREGATE → LOOKALIKE: decrypts the profile and builds the audience. */
  lookalike(msg: CohortProfile): LookalikeResult {
    expectPhase('media', this.phase, ['prepared', 'evaluating', 'encrypted'], 'lookalike');
    const empty: LookalikeResult = {
      outcome: 'COHORT_TOO_SMALL', audienceId: '', audienceSize: 0, quality: 0, matchedUsers: this.matchedRows.size, sealedInsight: new Uint8Array(0),
    };
    if (msg.outcome === 'COHORT_TOO_SMALL') {
      this.finish();
      return empty;
    }
    expectPhase('media', this.phase, ['encrypted'], 'lookalike');
    let decrypted: { totals: number[]; consistent: boolean };
    try {
      decrypted = this.bfv!.decryptProfile(msg.profile);
    } catch (err) {
      if (err instanceof BfvFormatError) throw new ProtocolError('INVALID_ARGUMENT', `cohort profile: ${err.message}`);
      throw err;
    }
    if (!decrypted.consistent) {
      throw new ProtocolError('INVALID_ARGUMENT', 'cohort profile is not an aggregate: its blocks differ (per-user values would be exposed); refused');
    }
    const { totals } = decrypted;
    // Every user has exactly one value in each single-valued group: the first group's
    // totals sum to the cohort size.
    const firstGroup = GROUP_OF_INDEX[0];
    const cohortSize = totals.reduce((a, t, j) => (GROUP_OF_INDEX[j] === firstGroup ? a + t : a), 0);
    if (cohortSize < this.request!.policy.minCohort) {
      this.finish();
      return empty;
    }
    const u = this.params.universe;
    const built = buildLookalike({
      totals, cohortSize, universeShares: u.shares, packed: u.packed, users: u.size,
      exclude: this.matchedRows, audienceSize: msg.audienceSize,
    });
    this.audience = { audienceId: `aud_${randomUUID()}`, rows: built.rows };
    this.finish();
    return {
      outcome: 'COMPLETED',
      audienceId: this.audience.audienceId,
      audienceSize: built.rows.length,
      quality: built.quality,
      matchedUsers: this.matchedRows.size,
      sealedInsight: seal(canonicalBytes({
        cohortSize,
        totals: ATTRIBUTES.map((a, j) => ({
          name: a.name, total: totals[j]!, share: round6(built.shares[j]!), universeShare: round6(u.shares[j]!),
        })),
      }), this.request!.resultKey),
    };
  }

  get matchedCount(): number {
    return this.matchedRows.size;
  }

  fail(reason: string): void {
    this.failure = reason;
    this.phase = 'failed';
    this.audience = undefined;
    this.bfv?.dispose();
    this.bfv = undefined;
  }

  private finish(): void {
    this.phase = 'done';
    this.bfv?.dispose();
    this.bfv = undefined;
  }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
