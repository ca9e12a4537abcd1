/**
 * Look-alike scoring: media ranks its universe against the decrypted cohort profile.
 *
 * Model: naive Bayes over the binary attributes. With cohort shares p_j (totals / cohort
 * size) and universe shares q_j, a user's score is
 *   Σ_j  x_j·log(p_j/q_j) + (1 − x_j)·log((1 − p_j)/(1 − q_j)),
 * the log-likelihood ratio "looks like the cohort" vs "looks like anyone". Shares are
 * clamped to [ε, 1 − ε] (ε = 1/(2·(n+1)), Laplace-style) so a noised or empty attribute
 * cannot produce infinities. Scoring uses per-byte lookup tables over the packed vectors:
 * 8 table lookups per user, ~20 ms per 10^6 users.
 *
 * Quality: the ratio of the audience's mean cosine similarity to the cohort share vector
 * over the universe's mean — an "affinity lift" media can compute without ground truth.
 */
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import { PACKED_BYTES } from './universe.ts';

export interface LookalikeInput {
  totals: readonly number[];
  cohortSize: number;
  universeShares: Float64Array;
  packed: Uint8Array;
  users: number;
  /** Rows that may not be selected (every padded match). */
  exclude: ReadonlySet<number>;
  audienceSize: number;
}

export interface LookalikeAudience {
  rows: Uint32Array;
  quality: number;
  shares: number[];
}

export function buildLookalike(input: LookalikeInput): LookalikeAudience {
  const { totals, cohortSize, universeShares, packed, users, exclude } = input;
  if (totals.length !== ATTRIBUTE_COUNT) throw new RangeError(`expected ${ATTRIBUTE_COUNT} totals, got ${totals.length}`);
  const eps = 1 / (2 * (cohortSize + 1));
  const clamp = (v: number) => Math.min(1 - eps, Math.max(eps, v));
  const shares = totals.map((t) => Math.max(0, t) / Math.max(1, cohortSize));
  const p = shares.map(clamp);
  const q = Array.from(universeShares, clamp);
  const w1 = p.map((pj, j) => Math.log(pj / q[j]!));
  const w0 = p.map((pj, j) => Math.log((1 - pj) / (1 - q[j]!)));
  const base = w0.reduce((a, b) => a + b, 0);
  const score = byteTables(w1.map((v, j) => v - w0[j]!));
  const dot = byteTables(shares);
  const pop = byteTables(new Array(ATTRIBUTE_COUNT).fill(1));
  const norm = Math.sqrt(shares.reduce((a, s) => a + s * s, 0)) || 1;

  const scores = new Float64Array(users);
  const cos = new Float64Array(users);
  for (let u = 0; u < users; u++) {
    let s = base;
    let d = 0;
    let c = 0;
    const off = u * PACKED_BYTES;
    for (let b = 0; b < PACKED_BYTES; b++) {
      const byte = packed[off + b]!;
      s += score[b * 256 + byte]!;
      d += dot[b * 256 + byte]!;
      c += pop[b * 256 + byte]!;
    }
    scores[u] = s;
    cos[u] = c === 0 ? 0 : d / (Math.sqrt(c) * norm);
  }
  const candidates: number[] = [];
  for (let u = 0; u < users; u++) if (!exclude.has(u)) candidates.push(u);
  candidates.sort((a, b) => scores[b]! - scores[a]! || a - b);
  const size = Math.min(input.audienceSize, candidates.length);
  const rows = Uint32Array.from(candidates.slice(0, size));
  let audCos = 0;
  for (const r of rows) audCos += cos[r]!;
  let allCos = 0;
  for (let u = 0; u < users; u++) allCos += cos[u]!;
  const quality = size === 0 || allCos === 0 ? 0 : (audCos / size) / (allCos / users);
  return { rows, quality, shares };
}

/** For each packed byte position b and byte value v: Σ of weights of the bits set in v. */
function byteTables(weights: readonly number[]): Float64Array {
  const t = new Float64Array(PACKED_BYTES * 256);
  for (let b = 0; b < PACKED_BYTES; b++) {
    for (let v = 0; v < 256; v++) {
      let s = 0;
      for (let bit = 0; bit < 8; bit++) if (v & (1 << bit)) s += weights[b * 8 + bit] ?? 0;
      t[b * 256 + v] = s;
    }
  }
  return t;
}
