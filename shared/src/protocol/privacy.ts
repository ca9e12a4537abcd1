/**
 * The privacy controls of a session, as pure functions the broker and media roles use:
 * differential privacy with accounting, a threshold without an oracle, and the refusal of
 * differencing cohorts. The ledger itself lives in the node's store (service/store).
 *
 * Mechanisms and what each costs (ε against one user being added or removed):
 *   - count: the real-match count plus discrete Laplace noise of scale 1/ε_count. The
 *     minimum-cohort threshold is compared with THIS noisy count (no exact-threshold
 *     oracle), and it is the count the advertiser receives (post-processing: free).
 *   - differencing: the smallest symmetric difference between this cohort and every cohort
 *     released before to the same advertiser under the same epoch, plus discrete Laplace
 *     noise of scale 1/ε_diff (one user changes that minimum by at most 1); the session is
 *     refused below `differencingMin`. Identical repeats are refused too (they would only
 *     average away the noise), so the refusal says nothing about whether one added seed
 *     is a media user. Costs ε_diff only when there is history.
 *   - profile: every attribute total plus discrete Laplace noise of scale
 *     CONTRIBUTION_L1/ε_profile (L1 sensitivity of one user's clipped vector).
 * A session reserves ε_count + ε_diff + ε_profile at OPEN and is charged, at the end, for
 * what it actually ran: a cohort refused at the threshold costs ε_count (+ ε_diff).
 * Defaults: ε_profile = 1, ε_count = 0.1, ε_diff = 0.25 (noise scale 4 against a minimum of
 * 50: an identical repeat slips through with probability ≈ 2·10^-6), a budget of 10 per
 * (advertiser, media, epoch): 7 released profiles (1.1 + 6 × 1.35 = 9.2).
 */
import { CONTRIBUTION_L1 } from '../common/attributes.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { discreteLaplace, type Uniform } from './policy.ts';
import type { TokenBytes } from './messages.ts';

export interface PrivacyPolicy {
  epsilonProfile: number;
  epsilonCount: number;
  epsilonDifferencing: number;
  /** Total ε per (advertiser, media, epoch). */
  budget: number;
  /** Charges older than this stop counting (0 = never): each period adds up to `budget` of privacy loss. */
  refreshMs: number;
  /** Smallest symmetric difference with an earlier released cohort that is allowed (0: the rule is off). */
  differencingMin: number;
}

export const DEFAULT_PRIVACY: Readonly<PrivacyPolicy> = Object.freeze({
  epsilonProfile: 1,
  epsilonCount: 0.1,
  epsilonDifferencing: 0.25,
  budget: 10,
  refreshMs: 0,
  differencingMin: 50,
});

export function validatePrivacy(p: PrivacyPolicy): PrivacyPolicy {
  for (const k of ['epsilonProfile', 'epsilonCount', 'epsilonDifferencing', 'budget'] as const) {
    if (!(p[k] > 0) || !Number.isFinite(p[k])) throw new RangeError(`expected ${k} > 0, got ${p[k]}`);
  }
  if (!(p.refreshMs >= 0) || !Number.isSafeInteger(p.refreshMs)) throw new RangeError(`expected refreshMs ≥ 0, got ${p.refreshMs}`);
  if (!Number.isSafeInteger(p.differencingMin) || p.differencingMin < 0) throw new RangeError(`expected differencingMin ≥ 0, got ${p.differencingMin}`);
  return p;
}

/** The most a session can cost: what OPEN reserves. */
export function sessionReservation(p: PrivacyPolicy): number {
  return round9(p.epsilonProfile + p.epsilonCount + p.epsilonDifferencing);
}

/** What a session that ran `ran` is charged. */
export function sessionCharge(p: PrivacyPolicy, ran: { differencingChecked: boolean; profileReleased: boolean }): number {
  return round9(p.epsilonCount + (ran.differencingChecked ? p.epsilonDifferencing : 0) + (ran.profileReleased ? p.epsilonProfile : 0));
}

/** Discrete Laplace scale of the profile totals. */
export function profileNoiseScale(p: PrivacyPolicy): number {
  return CONTRIBUTION_L1 / p.epsilonProfile;
}

/** The real-match count as the threshold and the advertiser see it. */
export function noisyCount(real: number, p: PrivacyPolicy, u?: Uniform): number {
  return Math.max(0, real + discreteLaplace(1 / p.epsilonCount, u));
}

const SKETCH_BYTES = 8;

/** A cohort as a sorted list of 8-byte token prefixes (the same tokens always give the same sketch). */
export function cohortSketch(tokens: readonly TokenBytes[]): Uint8Array {
  const keys = tokens.map((t) => {
    if (t.length !== TOKEN_BYTES) throw new RangeError(`expected ${TOKEN_BYTES}-byte tokens, got ${t.length}`);
    return Buffer.from(t.subarray(0, SKETCH_BYTES)).toString('hex');
  });
  const uniq = [...new Set(keys)].sort();
  const out = new Uint8Array(uniq.length * SKETCH_BYTES);
  uniq.forEach((k, i) => out.set(Buffer.from(k, 'hex'), i * SKETCH_BYTES));
  return out;
}

/** |A Δ B| of two sketches (a merge of two sorted lists). */
export function symmetricDifference(a: Uint8Array, b: Uint8Array): number {
  const na = a.length / SKETCH_BYTES;
  const nb = b.length / SKETCH_BYTES;
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < na && j < nb) {
    const c = Buffer.compare(a.subarray(i * SKETCH_BYTES, (i + 1) * SKETCH_BYTES), b.subarray(j * SKETCH_BYTES, (j + 1) * SKETCH_BYTES));
    if (c === 0) {
      common++;
      i++;
      j++;
    } else if (c < 0) {
      i++;
    } else {
      j++;
    }
  }
  return na + nb - 2 * common;
}

/** The differencing rule: refused when the noisy smallest difference to a released cohort is below the minimum. */
export function differencingCheck(current: Uint8Array, released: readonly Uint8Array[], p: PrivacyPolicy, u?: Uniform): { checked: boolean; refused: boolean } {
  if (released.length === 0 || p.differencingMin === 0) return { checked: false, refused: false };
  let min = Infinity;
  for (const r of released) min = Math.min(min, symmetricDifference(current, r));
  return { checked: true, refused: min + discreteLaplace(1 / p.epsilonDifferencing, u) < p.differencingMin };
}

function round9(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}
