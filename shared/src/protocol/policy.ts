/**
 * Policy: defaults, how the broker settles the policy of a session, size buckets, and the
 * noise added to released figures.
 *
 * Guarantees:
 * - The padded size announced to media is the smallest bucket ≥ seedCount·(1+decoyRatio),
 *   so media learns a bucket, not the seed count.
 * - A session's policy is never weaker than either side asked: the larger decoy ratio wins;
 *   the minimum cohort is the broker's floor, and asking for more is refused (a threshold
 *   the advertiser chooses is a probe of its exact match count).
 * - Noise is discrete Laplace (two-sided geometric) with scale `noiseScale`, drawn from an
 *   injectable source of uniform random numbers so tests are deterministic.
 */
import { randomFillSync } from 'node:crypto';
import { CONTRIBUTION_L1 } from '../common/attributes.ts';
import { ProtocolError, type Policy } from './messages.ts';
import { DEFAULT_PRIVACY, type PrivacyPolicy } from './privacy.ts';

/**
 * Differential privacy of one release. The cohort profile is the vector of per-attribute
 * totals; adding or removing one user changes it by at most CONTRIBUTION_L1 in L1 norm
 * (five single-valued groups + at most MAX_COUNTED_INTERESTS interests), so discrete
 * Laplace noise of scale CONTRIBUTION_L1/ε on every total makes the release ε-DP (the
 * cohort size is read off the noised totals, so it costs nothing extra).
 */
export const DEFAULT_EPSILON_PER_RELEASE = 1;

export function noiseScaleFor(epsilon: number): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`expected ε > 0, got ${epsilon}`);
  return CONTRIBUTION_L1 / epsilon;
}

/** 1-2-5 buckets from 1,000 to 10^9. */
export const DEFAULT_SIZE_BUCKETS: readonly number[] = (() => {
  const out: number[] = [];
  for (let e = 3; e <= 9; e++) for (const m of [1, 2, 5]) out.push(m * 10 ** e);
  return out.filter((v) => v <= 1e9);
})();



/** Limits a broker operator configures. */
export interface BrokerPolicyConfig {
  minDecoyRatio: number;
  maxDecoyRatio: number;
  /** The minimum cohort: the floor every session gets; advertisers may not ask for more (a probe). */
  minCohort: number;
  /**
   * Discrete Laplace scale of the profile totals; by default CONTRIBUTION_L1/ε_profile.
   * 0 turns every noise off (count, differencing check, profile): DEVELOPMENT and exact-value
   * tests only — nothing released is then differentially private.
   */
  noiseScale: number;
  sizeBuckets: readonly number[];
  maxSeedCount: number;
  privacy: PrivacyPolicy;
}

export const DEFAULT_BROKER_POLICY: Readonly<BrokerPolicyConfig> = Object.freeze({
  minDecoyRatio: 9,
  maxDecoyRatio: 99,
  minCohort: 50,
  noiseScale: noiseScaleFor(DEFAULT_EPSILON_PER_RELEASE),
  sizeBuckets: DEFAULT_SIZE_BUCKETS,
  maxSeedCount: 1_000_000,
  privacy: DEFAULT_PRIVACY,
});

export function bucketFor(n: number, buckets: readonly number[]): number {
  for (const b of buckets) if (b >= n) return b;
  throw new ProtocolError('RESOURCE_EXHAUSTED', `padded size ${n} exceeds the largest size bucket ${buckets.at(-1)}`);
}

/** The policy the broker applies to a session, given what the advertiser asked for. */
export function settlePolicy(
  asked: { seedCount: number; decoyRatio: number; minCohort: number },
  cfg: BrokerPolicyConfig,
): { policy: Policy; paddedCount: number } {
  const decoyRatio = Math.max(asked.decoyRatio, cfg.minDecoyRatio);
  if (decoyRatio > cfg.maxDecoyRatio) {
    throw new ProtocolError('INVALID_ARGUMENT', `expected decoy ratio ≤ ${cfg.maxDecoyRatio}, got ${asked.decoyRatio}`);
  }
  if (asked.seedCount > cfg.maxSeedCount) {
    throw new ProtocolError('RESOURCE_EXHAUSTED', `expected at most ${cfg.maxSeedCount} seed IDs, got ${asked.seedCount}`);
  }
  if (asked.minCohort > cfg.minCohort) {
    throw new ProtocolError('INVALID_ARGUMENT', `expected a minimum cohort ≤ the policy floor ${cfg.minCohort}, got ${asked.minCohort}: thresholds above the floor are not offered (they would let an advertiser probe its exact match count)`);
  }
  const paddedCount = bucketFor(asked.seedCount * (1 + decoyRatio), cfg.sizeBuckets);
  const p = cfg.privacy;
  return {
    paddedCount,
    policy: {
      decoyRatio,
      minCohort: cfg.minCohort,
      noiseScale: cfg.noiseScale,
      sizeBuckets: [...cfg.sizeBuckets],
      evaluationQuota: paddedCount,
      epsilonProfile: p.epsilonProfile,
      epsilonCount: p.epsilonCount,
      epsilonDifferencing: p.epsilonDifferencing,
      privacyBudget: p.budget,
      differencingMin: p.differencingMin,
    },
  };
}

/** Size class of a universe, e.g. "10^5-10^6": what the advertiser may learn about media's size. */
export function sizeClass(n: number): string {
  const e = n <= 1 ? 0 : Math.floor(Math.log10(n));
  return `10^${e}-10^${e + 1}`;
}

/** A uniform float in [0, 1) from a cryptographic source; injectable for tests. */
export type Uniform = () => number;
/** 32-bit words of CSPRNG output the pool holds (32 KiB, refilled in place). */
const POOL_WORDS = 8192;
const pool = new Uint32Array(POOL_WORDS);
const poolBytes = Buffer.from(pool.buffer, pool.byteOffset, pool.byteLength);
let poolAt = POOL_WORDS;
/** The index of two fresh random 32-bit words in the pool (refilled from the CSPRNG 32 KiB at a time; each word used once). */
function poolWord(): number {
  if (poolAt + 2 > POOL_WORDS) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += 2;
  return at;
}
export const cryptoUniform: Uniform = () => {
  const at = poolWord();
  return ((pool[at]! >>> 11) * 2 ** 32 + pool[at + 1]!) / 2 ** 53; // 21 + 32 = 53 random bits
};

/**
 * Uniform in [0, t) from 64 random bits of the same pool (bias ≤ t / 2^64: < 2^-38 for the
 * broker's 25-bit plain modulus). One call per value, without a randomBytes call, a string and
 * a parse each (the joint-count mask draws N − 1 = 8,191 of them per session).
 */
export function cryptoBelow(t: bigint): bigint {
  if (typeof t !== 'bigint' || t < 1n || t > 2n ** 32n) throw new RangeError(`expected a bound t in [1, 2^32], got ${String(t)}`);
  const at = poolWord(); // before reading the pool: the call may refill it
  return poolBytes.readBigUInt64LE(at * 4) % t;
}

/** Discrete Laplace noise: difference of two geometric variables with p = 1 − e^(−1/scale). */
export function discreteLaplace(scale: number, u: Uniform = cryptoUniform): number {
  if (scale <= 0) return 0;
  const p = 1 - Math.exp(-1 / scale);
  const geo = () => Math.floor(Math.log(1 - u()) / Math.log(1 - p));
  return geo() - geo();
}

/** Binomial(n, p) sample: exact for n ≤ 100,000 (n Bernoulli draws), normal approximation above. */
export function binomial(n: number, p: number, u: Uniform = cryptoUniform): number {
  if (p <= 0 || n <= 0) return 0;
  if (p >= 1) return n;
  if (n <= 100_000) {
    let k = 0;
    for (let i = 0; i < n; i++) if (u() < p) k++;
    return k;
  }
  const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return Math.min(n, Math.max(0, Math.round(n * p + z * Math.sqrt(n * p * (1 - p)))));
}

/** Fisher–Yates shuffle permutation of 0..n-1 with a cryptographic source. */
export function randomPermutation(n: number, u: Uniform = cryptoUniform): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  return shuffleInPlace(perm, u);
}

/** Fisher–Yates shuffle of `list` in place (the same draws as randomPermutation), returned. */
export function shuffleInPlace<L extends Uint32Array | Int32Array>(list: L, u: Uniform = cryptoUniform): L {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    const t = list[i]!;
    list[i] = list[j]!;
    list[j] = t;
  }
  return list;
}
