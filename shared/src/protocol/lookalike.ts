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

  // One pass, memory O(audience): a bounded heap keeps the best `size` users so far (score
  // descending, then row ascending — the order a full sort would give), with no array of all
  // users (which would stop at 2^27 entries and cost 16 bytes per user).
  const size = Math.min(input.audienceSize, Math.max(0, users - countExcluded(exclude, users)));
  const heap = new TopK(size);
  let allCos = 0;
  const cosOf = (u: number): number => {
    let d = 0;
    let c = 0;
    const off = u * PACKED_BYTES;
    for (let b = 0; b < PACKED_BYTES; b++) {
      const byte = packed[off + b]!;
      d += dot[b * 256 + byte]!;
      c += pop[b * 256 + byte]!;
    }
    return c === 0 ? 0 : d / (Math.sqrt(c) * norm);
  };
  for (let u = 0; u < users; u++) {
    let s = base;
    const off = u * PACKED_BYTES;
    for (let b = 0; b < PACKED_BYTES; b++) s += score[b * 256 + packed[off + b]!]!;
    allCos += cosOf(u);
    if (!exclude.has(u)) heap.offer(s, u);
  }
  const rows = heap.sorted();
  let audCos = 0;
  for (const r of rows) audCos += cosOf(r);
  const quality = size === 0 || allCos === 0 ? 0 : (audCos / size) / (allCos / users);
  return { rows, quality, shares };
}

function countExcluded(exclude: ReadonlySet<number>, users: number): number {
  let n = 0;
  for (const r of exclude) if (Number.isInteger(r) && r >= 0 && r < users) n++;
  return n;
}

/**
 * The k best (score, row) pairs offered, best = higher score, then lower row. A min-heap on
 * "worst first" in two typed arrays; rows must be offered in ascending order (a later row
 * never displaces an equal score).
 */
class TopK {
  private readonly score: Float64Array;
  private readonly row: Uint32Array;
  private readonly k: number;
  private n = 0;
  constructor(k: number) {
    this.k = k;
    this.score = new Float64Array(k);
    this.row = new Uint32Array(k);
  }

  /** a is worse than b. */
  private worse(a: number, b: number): boolean {
    return this.score[a]! < this.score[b]! || (this.score[a] === this.score[b] && this.row[a]! > this.row[b]!);
  }

  private swap(a: number, b: number): void {
    const s = this.score[a]!;
    this.score[a] = this.score[b]!;
    this.score[b] = s;
    const r = this.row[a]!;
    this.row[a] = this.row[b]!;
    this.row[b] = r;
  }

  offer(score: number, row: number): void {
    if (this.k === 0) return;
    if (this.n < this.k) {
      let i = this.n++;
      this.score[i] = score;
      this.row[i] = row;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(i, p)) break;
        this.swap(i, p);
        i = p;
      }
      return;
    }
    if (!(score > this.score[0]!)) return; // not better than the worst kept (ties: the earlier row stays)
    this.score[0] = score;
    this.row[0] = row;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.n && this.worse(l, m)) m = l;
      if (r < this.n && this.worse(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  /** Rows, best first. */
  sorted(): Uint32Array {
    const idx = Array.from({ length: this.n }, (_, i) => i).sort((a, b) => this.score[b]! - this.score[a]! || this.row[a]! - this.row[b]!);
    return Uint32Array.from(idx, (i) => this.row[i]!);
  }
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
