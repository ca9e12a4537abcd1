/**
 * Broker (C) protocol role: one state machine, no network, no filesystem.
 *
 * Flow (docs/protocol.md):
 *   new ─open(OpenSession)─▶ opened ─acceptKeys(SessionKeys)─▶ keyed ─pad(A's blinded)─▶ padded
 *   ─unpad(media's evaluations)─▶ evaluated ─match(A's tokens)─▶ matched | too-small
 *   ─aggregate(ciphertexts)─▶ aggregated ─finish(LookalikeResult)─▶ done   (fail() ▶ failed)
 *
 * - open: settles the policy (never weaker than asked), picks the padded size bucket.
 * - pad: adds paddedCount − seedCount dummy elements (uniform group elements, exactly as
 *   distributed as blinded real IDs) and shuffles; media evaluates all of them and cannot
 *   tell which are A's. The permutation stays here.
 * - unpad: drops the dummies' evaluations, returns A's in A's order.
 * - match: looks A's tokens up in media's universe table (synced from media, tokens only).
 *   Then draws decoy matches: each dummy "matches" with the same probability as a real
 *   seed did (Binomial(paddedCount − seedCount, realMatches/seedCount)), as uniformly random
 *   rows of the universe table. Real and decoy matches are shuffled together; media sees
 *   only that list. Below the minimum cohort nothing is requested from media.
 * - aggregate: multiplies each ciphertext by a 0/1 mask of real positions, sums, rotates
 *   so every block holds the totals, adds policy noise, re-randomises — never decrypts.
 *
 * What C learns: set sizes (seed count, padded size, universe size), the number of real
 * and decoy matches, which universe-table rows matched (pseudonymous tokens). Never a
 * plaintext ID, attribute value or the decrypted profile.
 */
import { BrokerBfv } from '../crypto/bfv.ts';
import { randomElement, validateElement, InvalidElementError } from '../crypto/group.ts';
import { TokenTable, TOKEN_BYTES } from '../common/token-set.ts';
import {
  binomial, cryptoUniform, discreteLaplace, randomPermutation, settlePolicy,
  type BrokerPolicyConfig, type Uniform,
} from './policy.ts';
import {
  expectPhase, ProtocolError,
  type CiphertextBytes, type CohortProfile, type ElementBytes, type LookalikeResult, type OpenSession,
  type Policy, type PrepareSession, type SessionAccepted, type SessionKeys, type SessionResult, type TokenBytes,
} from './messages.ts';

export type BrokerPhase =
  | 'new' | 'opened' | 'keyed' | 'padded' | 'evaluated' | 'matched' | 'too-small' | 'aggregated' | 'done' | 'failed';

/** Media's prepared universe as the broker holds it: OPRF tokens only. */
export interface UniverseTable {
  epoch: string;
  table: TokenTable;
}

export interface BrokerParams {
  config: BrokerPolicyConfig;
  universe: UniverseTable;
  uniform?: Uniform;
  rng?: (n: number) => Uint8Array;
}

export interface MatchCounts {
  seedCount: number;
  paddedCount: number;
  realMatches: number;
  decoyMatches: number;
}

export class BrokerRole {
  phase: BrokerPhase = 'new';
  private readonly params: BrokerParams;
  private readonly u: Uniform;
  private open_: OpenSession | undefined;
  policy: Policy | undefined;
  paddedCount = 0;
  private keys: SessionKeys | undefined;
  private bfv: BrokerBfv | undefined;
  /** position in the padded list → index in A's list, or -1 for a dummy. */
  private padMap: Int32Array | undefined;
  /** 1 where the ENCRYPT list holds a real match. */
  private keep: Uint8Array | undefined;
  counts: MatchCounts | undefined;
  failure: string | undefined;
  /** Dummy elements drawn ahead of BLIND (they depend only on the padded size). */
  private dummies: ElementBytes[] | undefined;

  constructor(params: BrokerParams) {
    this.params = params;
    this.u = params.uniform ?? cryptoUniform;
  }

  /** Round OPEN (from A): settles policy and padded size; returns what media is told. */
  open(msg: OpenSession): PrepareSession {
    expectPhase('broker', this.phase, ['new'], 'open');
    if (!Number.isSafeInteger(msg.seedCount) || msg.seedCount < 1) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected seedCount ≥ 1, got ${msg.seedCount}`);
    }
    if (!Number.isSafeInteger(msg.audienceSize) || msg.audienceSize < 1) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected audienceSize ≥ 1, got ${msg.audienceSize}`);
    }
    const { policy, paddedCount } = settlePolicy(msg, this.params.config);
    this.open_ = msg;
    this.policy = policy;
    this.paddedCount = paddedCount;
    this.phase = 'opened';
    return { idType: msg.idType, paddedCount, audienceSize: msg.audienceSize, policy, resultKey: msg.resultKey };
  }

  /** Round OPEN (from media): loads media's BFV public material; returns what A is told. */
  async acceptKeys(keys: SessionKeys): Promise<SessionAccepted> {
    expectPhase('broker', this.phase, ['opened'], 'acceptKeys');
    if (keys.universeEpoch !== this.params.universe.epoch) {
      throw new ProtocolError('FAILED_PRECONDITION', `media uses universe epoch '${keys.universeEpoch}', broker holds '${this.params.universe.epoch}': resync the universe table`);
    }
    this.bfv = await BrokerBfv.fromPublicMaterial(keys.bfv, keys.attributeCount);
    if (this.bfv.layout.usersPerCiphertext !== keys.usersPerCiphertext) {
      throw new ProtocolError('INVALID_ARGUMENT', `media announced ${keys.usersPerCiphertext} users per ciphertext, its parameters give ${this.bfv.layout.usersPerCiphertext}`);
    }
    this.keys = keys;
    this.phase = 'keyed';
    return {
      policy: this.policy!,
      paddedCount: this.paddedCount,
      universeSizeClass: keys.universeSizeClass,
      universeEpoch: keys.universeEpoch,
    };
  }

  /**
   * Draws the paddedCount − seedCount dummy elements ahead of time; the node calls this
   * right after OPEN so the work overlaps with the advertiser's blinding. Optional: pad()
   * draws whatever is missing.
   */
  prepareDummies(): void {
    if (this.phase !== 'keyed' || this.dummies) return;
    const k = this.paddedCount - this.open_!.seedCount;
    this.dummies = Array.from({ length: k }, () => randomElement(this.params.rng));
  }

  /** Round BLIND (from A): validates A's blinded elements, pads with dummies, shuffles. */
  pad(blinded: readonly ElementBytes[]): ElementBytes[] {
    expectPhase('broker', this.phase, ['keyed'], 'pad');
    const n = this.open_!.seedCount;
    if (blinded.length !== n) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected ${n} blinded elements (the declared seed count), got ${blinded.length}`);
    }
    blinded.forEach((e, i) => checkElement(e, i));
    this.prepareDummies();
    const dummies = this.dummies!;
    const perm = randomPermutation(this.paddedCount, this.u);
    const out = new Array<ElementBytes>(this.paddedCount);
    const padMap = new Int32Array(this.paddedCount);
    for (let pos = 0; pos < this.paddedCount; pos++) {
      const src = perm[pos]!;
      if (src < n) {
        out[pos] = blinded[src]!;
        padMap[pos] = src;
      } else {
        out[pos] = dummies[src - n]!;
        padMap[pos] = -1;
      }
    }
    this.dummies = undefined;
    this.padMap = padMap;
    this.phase = 'padded';
    return out;
  }

  /** Round BLIND (from media): media's evaluations of the padded list → A's, in A's order. */
  unpad(evaluated: readonly ElementBytes[]): ElementBytes[] {
    expectPhase('broker', this.phase, ['padded'], 'unpad');
    if (evaluated.length !== this.paddedCount) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected ${this.paddedCount} evaluated elements from media, got ${evaluated.length}`);
    }
    const n = this.open_!.seedCount;
    const out = new Array<ElementBytes>(n);
    this.padMap!.forEach((src, pos) => {
      if (src >= 0) {
        checkElement(evaluated[pos]!, pos);
        out[src] = evaluated[pos]!;
      }
    });
    this.padMap = undefined;
    this.phase = 'evaluated';
    return out;
  }

  /**
   * Round TOKENS (from A): real matches, decoy matches, and the shuffled list media is asked
   * to encrypt attributes for — or null when the cohort is below the minimum.
   */
  match(tokens: readonly TokenBytes[]): TokenBytes[] | null {
    expectPhase('broker', this.phase, ['evaluated'], 'match');
    const n = this.open_!.seedCount;
    if (tokens.length !== n) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected ${n} tokens, got ${tokens.length}`);
    }
    const { table } = this.params.universe;
    const realRows = new Set<number>();
    tokens.forEach((t, i) => {
      if (t.length !== TOKEN_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `token ${i}: expected ${TOKEN_BYTES} bytes, got ${t.length}`);
      const row = table.lookup(t);
      if (row >= 0) realRows.add(row);
    });
    const realMatches = realRows.size;
    const rate = realMatches / n;
    const available = table.size - realMatches;
    const decoyMatches = Math.min(available, binomial(this.paddedCount - n, rate, this.u));
    this.counts = { seedCount: n, paddedCount: this.paddedCount, realMatches, decoyMatches };
    if (realMatches < this.policy!.minCohort) {
      this.phase = 'too-small';
      return null;
    }
    const decoyRows = new Set<number>();
    while (decoyRows.size < decoyMatches) {
      const row = Math.floor(this.u() * table.size);
      if (!realRows.has(row)) decoyRows.add(row);
    }
    const rows = [...realRows, ...decoyRows];
    const perm = randomPermutation(rows.length, this.u);
    const keep = new Uint8Array(rows.length);
    const list = new Array<TokenBytes>(rows.length);
    for (let pos = 0; pos < rows.length; pos++) {
      const src = perm[pos]!;
      list[pos] = table.at(rows[src]!);
      keep[pos] = src < realMatches ? 1 : 0;
    }
    this.keep = keep;
    this.phase = 'matched';
    return list;
  }

  /** Round AGGREGATE: the encrypted cohort profile over A's real matches only. */
  aggregate(ciphertexts: readonly CiphertextBytes[]): CohortProfile {
    expectPhase('broker', this.phase, ['matched'], 'aggregate');
    const per = this.keys!.usersPerCiphertext;
    const expected = Math.ceil(this.keep!.length / per);
    if (ciphertexts.length !== expected) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected ${expected} ciphertexts for ${this.keep!.length} users, got ${ciphertexts.length}`);
    }
    const keep = new Uint8Array(expected * per);
    keep.set(this.keep!);
    const noise = Array.from({ length: this.keys!.attributeCount }, () => discreteLaplace(this.policy!.noiseScale, this.u));
    const profile = this.bfv!.aggregate(ciphertexts, keep, noise);
    this.phase = 'aggregated';
    return { outcome: 'COMPLETED', profile, audienceSize: this.open_!.audienceSize };
  }

  /** Round AGGREGATE when the cohort is too small: nothing is released. */
  tooSmallProfile(): CohortProfile {
    expectPhase('broker', this.phase, ['too-small'], 'tooSmallProfile');
    return { outcome: 'COHORT_TOO_SMALL', profile: new Uint8Array(0), audienceSize: 0 };
  }

  /** Round LOOKALIKE: the result A receives (counts noised by policy). */
  finish(lookalike: LookalikeResult | undefined): SessionResult {
    expectPhase('broker', this.phase, ['aggregated', 'too-small'], 'finish');
    const c = this.counts!;
    const tooSmall = this.phase === 'too-small' || lookalike?.outcome === 'COHORT_TOO_SMALL';
    this.phase = 'done';
    this.dispose();
    if (tooSmall) {
      return {
        outcome: 'COHORT_TOO_SMALL',
        reason: `cohort too small: fewer than ${this.policy!.minCohort} real matches; nothing was released`,
        paddedCount: c.paddedCount,
        paddedMatches: 0,
        realMatches: 0,
        lookalike: undefined,
      };
    }
    return {
      outcome: lookalike!.outcome,
      reason: '',
      paddedCount: c.paddedCount,
      paddedMatches: c.realMatches + c.decoyMatches,
      realMatches: Math.max(0, c.realMatches + discreteLaplace(this.policy!.noiseScale, this.u)),
      lookalike,
    };
  }

  fail(reason: string): void {
    this.failure = reason;
    this.phase = 'failed';
    this.padMap = undefined;
    this.keep = undefined;
    this.dispose();
  }

  private dispose(): void {
    this.bfv?.dispose();
    this.bfv = undefined;
  }
}

function checkElement(e: Uint8Array, index: number): void {
  try {
    validateElement(e, index);
  } catch (err) {
    if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
    throw err;
  }
}
