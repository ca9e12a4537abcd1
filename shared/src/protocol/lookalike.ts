/**
 * Look-alike scoring: media ranks its universe against the decrypted cohort profile.
 *
 * Model: naive Bayes over the binary attributes. With cohort shares p_j (totals / cohort
 * size) and universe shares q_j, a user's score is
 *   Σ_j  x_j·log(p_j/q_j) + (1 − x_j)·log((1 − p_j)/(1 − q_j)),
 * the log-likelihood ratio "looks like the cohort" vs "looks like anyone". Shares are
 * clamped to [ε, 1 − ε] (ε = 1/(2·(n+1)), Laplace-style) so a noised or empty attribute
 * cannot produce infinities. Scoring uses per-byte lookup tables over the packed vectors:
 * 8 table lookups per user in one flat loop over typed arrays (no call, object or Set lookup
 * per user), four users summed side by side (independent chains of additions, each user's sum
 * in the same order as alone: bit-identical scores); a user at or below the current k-th best
 * score costs nothing more. That pass is the phase's inherent work: the `lookalikeScore`
 * primitive (bench/floors.ts) is its kernel, one user at a time.
 *
 * Quality: the ratio of the audience's mean cosine similarity to the cohort share vector
 * over the universe's mean — an "affinity lift" media can compute without ground truth. The
 * universe's mean needs no pass per session: Σ_u cos_u = Σ_j share_j · W_j / ‖share‖ with
 * W_j = Σ_u x_uj / √|x_u| a property of the universe (universeCosineWeights, cached).
 */
import { randomFillSync } from 'node:crypto';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import { countPrimitive } from '../common/op-counts.ts';
import { radixOrder } from '../common/radix-order.ts';
import { Scratch } from '../common/scratch.ts';
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
  countPrimitive('lookalikeScore', input.users);
  return build(input);
}

function build(input: LookalikeInput): LookalikeAudience {
  const { totals, cohortSize, universeShares, packed, users, exclude } = input;
  if (totals.length !== ATTRIBUTE_COUNT) throw new RangeError(`expected ${ATTRIBUTE_COUNT} totals, got ${totals.length}`);
  const eps = 1 / (2 * (cohortSize + 1));
  const shares = totals.map((t) => Math.max(0, t) / Math.max(1, cohortSize));
  const p = shares.map((v) => clampShare(v, eps));
  const q = Array.from(universeShares, (v) => clampShare(v, eps));
  const w1 = p.map((pj, j) => Math.log(pj / q[j]!));
  const w0 = p.map((pj, j) => Math.log((1 - pj) / (1 - q[j]!)));
  const base = w0.reduce((a, b) => a + b, 0);
  const score = byteTables(w1.map((v, j) => v - w0[j]!));
  const dot = byteTables(shares);
  const norm = Math.sqrt(shares.reduce((a, s) => a + s * s, 0)) || 1;

  // One pass, memory O(audience): a bounded top-k buffer keeps the best `size` users so far (score
  // descending, then row ascending — the order a full sort would give), with no array of all
  // users (which would stop at 2^27 entries and cost 16 bytes per user).
  const size = Math.min(input.audienceSize, Math.max(0, users - countExcluded(exclude, users)));
  const heap = new TopK(size, Workspace.for(size));
  // Excluded rows, ascending: walked with the users instead of a Set lookup per user.
  const skip = Uint32Array.from([...exclude].filter((r) => Number.isInteger(r) && r >= 0 && r < users)).sort();
  // A floor from a sample, so that most users are not even offered; exact whenever at least
  // `size` users score above it (then every one of the best `size` does), else the pass runs again without it.
  heap.start(sampleFloor(packed, users, base, score, size));
  for (let from = 0, k = 0; from < users; from += SCAN_CHUNK) k = scanChunk(packed, from, Math.min(users, from + SCAN_CHUNK), base, score, skip, k, heap);
  if (heap.accepted < size) {
    heap.start(-Infinity);
    for (let from = 0, k = 0; from < users; from += SCAN_CHUNK) k = scanChunk(packed, from, Math.min(users, from + SCAN_CHUNK), base, score, skip, k, heap);
  }
  const { rows, byRow, rank } = heap.sorted();
  const audCos = cosineSum(packed, byRow, rank, dot, norm, heap.ws.cos);
  // The universe's mean cosine, Σ_u (Σ_j shares_j·x_uj) / (√c_u · norm) / users, is
  // Σ_j shares_j · W_j / (norm · users) with W the universe's own weights (computed once per universe).
  const weights = universeCosineWeights(packed, users);
  let allCos = 0;
  for (let j = 0; j < ATTRIBUTE_COUNT; j++) allCos += shares[j]! * weights[j]!;
  allCos /= norm;
  const quality = size === 0 || allCos === 0 ? 0 : (audCos / size) / (allCos / users);
  return { rows, quality, shares };
}

/** A share clamped to [ε, 1 − ε]. */
function clampShare(v: number, eps: number): number {
  return Math.min(1 - eps, Math.max(eps, v));
}

/**
 * Σ over the audience, best first, of (Σ_j dot_j·x_uj) / (√c_u · norm) (c_u: the attributes user
 * u has; 0 for none): each user's cosine computed in row order (`byRow`, ascending: the packed
 * vectors read front to back, not one cache miss per member), then summed in the audience's
 * order (`rank[i]`: the index in byRow of the i-th best) — the same values added in the same
 * order as a pass over the audience, so the same sum to the last bit. `cos`: scratch of at least
 * byRow.length entries.
 */
function cosineSum(packed: Uint8Array, byRow: Uint32Array, rank: Uint32Array, dot: Float64Array, norm: number, cos: Float64Array): number {
  for (let i = 0; i < byRow.length; i++) {
    let d = 0;
    let c = 0;
    for (let b = 0, off = byRow[i]! * PACKED_BYTES, t = 0; b < PACKED_BYTES; b++, off++, t += 256) {
      const byte = packed[off]!;
      d += dot[t + byte]!;
      c += POPCOUNT[byte]!;
    }
    cos[i] = c === 0 ? 0 : d / (Math.sqrt(c) * norm);
  }
  let sum = 0;
  for (let i = 0; i < rank.length; i++) sum += cos[rank[i]!]!;
  return sum;
}

/** Users scored for sampleFloor (every (users / SAMPLE)-th user). */
const SAMPLE = 16_384;

/**
 * A score below the `size`-th best with near certainty, from the scores of an evenly spaced
 * sample of the users: the sample's score ranked where 1.25 times the expected share of the
 * best plus three standard deviations of that count fall, so that ≈ 1.25·size users (not
 * all of them) are offered to the top-k buffer. −∞ (no floor) when the sample is not much
 * larger than that rank. Its only effect is speed: buildLookalike checks that at least `size`
 * users scored above it and scans again without it if not.
 */
function sampleFloor(packed: Uint8Array, users: number, base: number, score: Float64Array, size: number): number {
  if (size === 0) return Infinity;
  const stride = Math.floor(users / SAMPLE);
  if (stride < 4) return -Infinity;
  const m = Math.floor(users / stride);
  const expected = (m * size) / users;
  const rank = Math.ceil(1.25 * expected + 3 * Math.sqrt(expected)) + 1; // from the top, 1-based
  if (rank * 2 > m) return -Infinity;
  const sample = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    sample[i] = scoreAt(packed, i * stride, base, score);
  }
  return selectAscending(sample, m, m - rank);
}

/** Users scored per call of scanChunk: small calls get V8's optimised code early, with complete type feedback. */
const SCAN_CHUNK = 16_384;

/** Set bits per byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, v) => {
  let c = 0;
  for (let x = v; x !== 0; x >>= 1) c += x & 1;
  return c;
});

/**
 * The scoring pass over users [from, to): offers every user not in `skip` (ascending; `k` is
 * the index of the first not yet passed, returned updated) to `heap` with its score, in row
 * order. Each score is the score table summed in byte order (base + t0 + t1 + … + t7, left to
 * right), so every score is bit-identical to a per-user sum (scoreAt); four users are summed
 * side by side — four independent chains of additions instead of one, which the CPU overlaps
 * (one chain waits on each addition's latency). One flat loop over typed arrays: no call or
 * object per user, and a user at or below the heap's floor costs nothing more than its 8 lookups.
 */
function scanChunk(packed: Uint8Array, from: number, to: number, base: number, score: Float64Array, skip: Uint32Array, k: number, heap: TopK): number {
  let nextSkip = k < skip.length ? skip[k]! : to;
  let u = from;
  for (; u + 4 <= to; u += 4) {
    const o = u * 8;
    let s0 = base + score[packed[o]!]!;
    let s1 = base + score[packed[o + 8]!]!;
    let s2 = base + score[packed[o + 16]!]!;
    let s3 = base + score[packed[o + 24]!]!;
    s0 += score[256 + packed[o + 1]!]!;
    s1 += score[256 + packed[o + 9]!]!;
    s2 += score[256 + packed[o + 17]!]!;
    s3 += score[256 + packed[o + 25]!]!;
    s0 += score[512 + packed[o + 2]!]!;
    s1 += score[512 + packed[o + 10]!]!;
    s2 += score[512 + packed[o + 18]!]!;
    s3 += score[512 + packed[o + 26]!]!;
    s0 += score[768 + packed[o + 3]!]!;
    s1 += score[768 + packed[o + 11]!]!;
    s2 += score[768 + packed[o + 19]!]!;
    s3 += score[768 + packed[o + 27]!]!;
    s0 += score[1024 + packed[o + 4]!]!;
    s1 += score[1024 + packed[o + 12]!]!;
    s2 += score[1024 + packed[o + 20]!]!;
    s3 += score[1024 + packed[o + 28]!]!;
    s0 += score[1280 + packed[o + 5]!]!;
    s1 += score[1280 + packed[o + 13]!]!;
    s2 += score[1280 + packed[o + 21]!]!;
    s3 += score[1280 + packed[o + 29]!]!;
    s0 += score[1536 + packed[o + 6]!]!;
    s1 += score[1536 + packed[o + 14]!]!;
    s2 += score[1536 + packed[o + 22]!]!;
    s3 += score[1536 + packed[o + 30]!]!;
    s0 += score[1792 + packed[o + 7]!]!;
    s1 += score[1792 + packed[o + 15]!]!;
    s2 += score[1792 + packed[o + 23]!]!;
    s3 += score[1792 + packed[o + 31]!]!;
    if (nextSkip >= u + 4) {
      if (s0 > heap.floor) heap.offer(s0, u);
      if (s1 > heap.floor) heap.offer(s1, u + 1);
      if (s2 > heap.floor) heap.offer(s2, u + 2);
      if (s3 > heap.floor) heap.offer(s3, u + 3);
    } else {
      // an excluded row among these four: one at a time (the scores again, the same sums)
      for (let v = u; v < u + 4; v++) {
        if (v === nextSkip) {
          while (k < skip.length && skip[k] === v) k++;
          nextSkip = k < skip.length ? skip[k]! : to;
        } else {
          const sv = scoreAt(packed, v, base, score);
          if (sv > heap.floor) heap.offer(sv, v);
        }
      }
    }
  }
  for (; u < to; u++) {
    const s = scoreAt(packed, u, base, score);
    if (u === nextSkip) {
      while (k < skip.length && skip[k] === u) k++;
      nextSkip = k < skip.length ? skip[k]! : to;
    } else if (s > heap.floor) {
      heap.offer(s, u);
    }
  }
  return k;
}

/** User u's score: base plus its PACKED_BYTES table entries, summed in byte order (the order scanChunk sums in). */
function scoreAt(packed: Uint8Array, u: number, base: number, score: Float64Array): number {
  let s = base;
  for (let b = 0, off = u * PACKED_BYTES, t = 0; b < PACKED_BYTES; b++, off++, t += 256) s += score[t + packed[off]!]!;
  return s;
}

// scanChunk sums 8 bytes per user, written out: the packed layout it was written for.
if (PACKED_BYTES !== 8) throw new Error(`lookalike: scanChunk expects 8 packed bytes per user, got ${PACKED_BYTES}`);

/**
 * The audience warmLookalike reserves a look-alike's arrays for (Workspace.reserve): look-alikes
 * up to this size (6.5 MiB of them) use memory the process already holds; a larger one grows them once.
 */
const WARM_WORKSPACE = 1 << 16;

/** Look-alikes warmLookalike builds, over WARM_USERS users (sampled floor, the 4-user blocks and the tail after them) for WARM_AUDIENCE each. */
const WARM_ROUNDS = 100;
const WARM_USERS = (1 << 16) + 3;
const WARM_AUDIENCE = 2048;

/**
 * Compiles the scoring and selection code before the first session needs it: WARM_ROUNDS
 * small look-alikes over a random universe (every path of the pass: the sampled floor, four
 * users at a time, the tail, excluded rows or none, the buffer's selections), their results
 * discarded, not counted as sessions' work (op-counts); ≈ 0.1–0.2 s once. Many small calls, not
 * a few large ones: V8 gives a function optimised code of its own only after enough calls —
 * a long loop in one call gets on-stack-replacement code, which the next garbage collection
 * drops, so a warm-up of two large look-alikes left the first session to compile its whole
 * pass again (≈ 20–40 ms of V8's compiler threads, and its main thread partly in unoptimised
 * code: `node bench/lookalike-steps.ts` after a collection). Then it reserves a look-alike's arrays for
 * audiences of up to WARM_WORKSPACE members. Media calls this once when it starts.
 */
export function warmLookalike(): void {
  const packed = new Uint8Array(WARM_USERS * PACKED_BYTES);
  randomFillSync(packed);
  const universeShares = new Float64Array(ATTRIBUTE_COUNT).fill(0.5);
  const totals = Array.from({ length: ATTRIBUTE_COUNT }, (_, j) => (j * 37) % 100);
  for (let r = 0; r < WARM_ROUNDS; r++) {
    build({ totals, cohortSize: 100, universeShares, packed, users: WARM_USERS, exclude: r % 2 === 0 ? new Set([1, 2, 7]) : new Set(), audienceSize: WARM_AUDIENCE });
  }
  Workspace.reserve(WARM_WORKSPACE);
}

/** Cached per packed-vector buffer: a universe's cosine weights are computed once. */
const cosineWeightsCache = new WeakMap<Uint8Array, { users: number; weights: Float64Array }>();

/**
 * The universe's cosine weights W_j = Σ_u x_uj / √c_u (c_u = the attributes user u has; users
 * with none contribute nothing): with them the universe's mean cosine similarity to any
 * cohort share vector costs 64 products instead of a pass over every user. Independent of the
 * cohort, so computed once per universe (media calls it when it loads one) and cached.
 * One pass: a histogram of (byte position, byte value, popcount), then 2,048 × 65 sums.
 */
export function universeCosineWeights(packed: Uint8Array, users: number): Float64Array {
  const hit = cosineWeightsCache.get(packed);
  if (hit && hit.users === users) return hit.weights;
  const maxC = 8 * PACKED_BYTES;
  const hist = new Float64Array(PACKED_BYTES * 256 * (maxC + 1));
  for (let from = 0; from < users; from += SCAN_CHUNK) histogramChunk(packed, from, Math.min(users, from + SCAN_CHUNK), hist);
  const weights = new Float64Array(ATTRIBUTE_COUNT);
  for (let b = 0; b < PACKED_BYTES; b++) {
    for (let v = 1; v < 256; v++) {
      let w = 0;
      const at = (b * 256 + v) * (maxC + 1);
      for (let c = 1; c <= maxC; c++) if (hist[at + c]! !== 0) w += hist[at + c]! / Math.sqrt(c);
      for (let bit = 0; bit < 8; bit++) if (v & (1 << bit) && b * 8 + bit < ATTRIBUTE_COUNT) weights[b * 8 + bit]! += w;
    }
  }
  cosineWeightsCache.set(packed, { users, weights });
  return weights;
}

function histogramChunk(packed: Uint8Array, from: number, to: number, hist: Float64Array): void {
  const stride = 8 * PACKED_BYTES + 1;
  for (let u = from, off = from * PACKED_BYTES; u < to; u++, off += PACKED_BYTES) {
    let c = 0;
    for (let b = 0; b < PACKED_BYTES; b++) c += POPCOUNT[packed[off + b]!]!;
    for (let b = 0, t = 0; b < PACKED_BYTES; b++, t += 256) hist[(t + packed[off + b]!) * stride + c]!++;
  }
}

function countExcluded(exclude: ReadonlySet<number>, users: number): number {
  let n = 0;
  for (const r of exclude) if (Number.isInteger(r) && r >= 0 && r < users) n++;
  return n;
}

/**
 * The k best (score, row) pairs offered, best = higher score, then lower row (a total order:
 * rows are distinct). Rows must be offered in ascending order, so a later row enters only
 * with a score strictly above the worst kept (`floor`). Offers are appended to a buffer of
 * 2k + 1024 pairs (two typed arrays), which therefore stays in ascending row order; when it
 * is full, the k-th best score t is found by a selection (quickselect, three-way partition:
 * linear in the buffer, ties cost nothing more) in a reused scratch copy of the scores, and one
 * order-keeping pass keeps the pairs above t and the earliest (lowest-row) ones equal to t.
 * No comparator, no sort and no allocation per refill.
 */
class TopK {
  private readonly score: Float64Array;
  private readonly row: Uint32Array;
  private readonly scratch: Float64Array;
  private readonly k: number;
  private n = 0;
  /** Offers scoring ≤ this cannot enter (−∞ until the first selection; +∞ when k = 0): the caller's cheap pre-check. */
  floor: number;
  /** The memory it works in (Workspace.for(k)): its buffer, and the ordering's and the quality figure's arrays. */
  readonly ws: Workspace;
  constructor(k: number, ws: Workspace) {
    if (ws.capacity < k) throw new RangeError(`TopK: expected a workspace for ${k} members, got ${ws.capacity}`);
    this.k = k;
    this.ws = ws;
    const cap = k === 0 ? 0 : 2 * k + 1024;
    this.score = ws.score.subarray(0, cap);
    this.row = ws.row.subarray(0, cap);
    this.scratch = ws.scratch.subarray(0, cap);
    this.floor = k === 0 ? Infinity : -Infinity;
  }

  /** Offers taken since start(): all scored above its floor. */
  accepted = 0;

  /** Empties the buffer; offers must score above `floor` (exact only if at least k do: see buildLookalike). */
  start(floor: number): void {
    this.n = 0;
    this.accepted = 0;
    this.floor = this.k === 0 ? Infinity : floor;
  }

  offer(score: number, row: number): void {
    if (!(score > this.floor)) return;
    this.accepted++;
    this.score[this.n] = score;
    this.row[this.n] = row;
    if (++this.n === this.score.length) this.keepBest();
  }

  /** Keeps the k best of the buffer, in their (row) order; floor ← the k-th best score. */
  private keepBest(): void {
    const { k, n } = this;
    if (n <= k) return;
    const s = this.scratch;
    s.set(this.score.subarray(0, n));
    const t = selectAscending(s, n, n - k); // the k-th best score
    let above = 0;
    for (let i = 0; i < n; i++) if (this.score[i]! > t) above++;
    let ties = k - above; // pairs equal to t to keep: the earliest rows
    let j = 0;
    for (let i = 0; i < n; i++) {
      const v = this.score[i]!;
      if (v > t || (v === t && ties-- > 0)) {
        this.score[j] = v;
        this.row[j] = this.row[i]!;
        j++;
      }
    }
    this.n = j;
    this.floor = t;
  }

  /**
   * The kept rows, best first (`rows`; the buffer is left empty), with the same rows in
   * ascending order (`byRow`, the buffer's own order) and `rank`: rows[i] = byRow[rank[i]]. The
   * order is a stable least-significant-digit radix sort (four 16-bit digits) of the kept pairs,
   * which are in ascending row order, on their scores' IEEE 754 bits mapped to an
   * order-reversing unsigned key — score descending, and among equal scores the rows stay
   * ascending: the order of a comparator sort on (−score, row). Only `rows` is the caller's:
   * `byRow` and `rank` are views of the workspace, valid until the next look-alike.
   */
  sorted(): { rows: Uint32Array; byRow: Uint32Array; rank: Uint32Array } {
    this.keepBest();
    const n = this.n;
    this.n = 0;
    this.floor = this.k === 0 ? Infinity : -Infinity;
    const rank = orderByScoreDescending(this.score, n, this.ws);
    const byRow = this.row.subarray(0, n);
    const rows = new Uint32Array(n);
    for (let i = 0; i < n; i++) rows[i] = byRow[rank[i]!]!;
    return { rows, byRow, rank };
  }
}

/**
 * The arrays a look-alike of k members works in, from the thread's scratch (common/scratch.ts):
 * the TopK buffer (2k + 1024 scores, rows and a selection's copy of the scores) and the final
 * ordering's keys, indexes and cosines (k each), each rounded up to a power of two: 4 MiB for
 * 50,000 members. Kept from one look-alike to the next up to LOOKALIKE_SCRATCH_BYTES an array
 * (audiences up to ≈ 5·10^5 members; at most 64 MiB in all; a larger array is the call's own).
 * build is synchronous: one look-alike of a
 * thread uses them at a time. On the build machine (a virtual machine whose host takes freed
 * memory back, so that fresh memory is faulted in again page by page) a 50,000-member selection
 * of 970,034 users took 13.7–14.9 ms of wall at the median of a node's later sessions with its
 * arrays allocated per call, 11.2–12.0 reusing them (`node bench/lookalike-steps.ts <media
 * universe dir> --repeats 12`, four runs alternated with the same at the commit before).
 */
class Workspace {
  readonly capacity: number;
  readonly score: Float64Array;
  readonly row: Uint32Array;
  readonly scratch: Float64Array;
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly idx: Uint32Array;
  readonly tmp: Uint32Array;
  readonly cos: Float64Array;
  constructor(k: number, from: Scratch) {
    this.capacity = k;
    const cap = k === 0 ? 0 : 2 * k + 1024;
    this.score = from.f64('score', cap);
    this.row = from.u32('row', cap);
    this.scratch = from.f64('select', cap);
    this.hi = from.u32('hi', k);
    this.lo = from.u32('lo', k);
    this.idx = from.u32('idx', k);
    this.tmp = from.u32('tmp', k);
    this.cos = from.f64('cos', k);
  }

  /** A look-alike's arrays for k members, from the thread's scratch. */
  static for(k: number): Workspace {
    return new Workspace(k, LOOKALIKE_SCRATCH);
  }

  /** Grows the thread's arrays for k members and writes every page of them: look-alikes up to k members then use memory the process holds. */
  static reserve(k: number): void {
    Workspace.for(k);
    LOOKALIKE_SCRATCH.touch();
  }
}

/** The largest array a look-alike keeps between calls (Workspace). */
const LOOKALIKE_SCRATCH_BYTES = 8 << 20;
const LOOKALIKE_SCRATCH = new Scratch(LOOKALIKE_SCRATCH_BYTES);

/**
 * One TopK kept for the life of the process, never used: it keeps the buffer's object shape
 * (V8's hidden class of a TopK) alive. Optimised code embeds the shapes it checks as weak
 * references and is thrown away when one dies; a TopK lives only during a look-alike, so
 * without this the first garbage collection after each look-alike discarded the scoring pass's
 * optimised code (scanChunk, the buffer's methods: "embedded weak objects cleared" in
 * node --trace-deopt) and every session compiled it again.
 */
const KEEP_TOPK_SHAPE = new TopK(0, new Workspace(0, new Scratch(0)));
void KEEP_TOPK_SHAPE;

/**
 * The indexes 0..n−1 ordered by score descending, equal scores keeping their index order: a
 * stable radix sort (common/radix-order.ts) on the scores' IEEE 754 bits mapped to an
 * order-reversing unsigned key (−0 read as +0: equal scores, equal keys), in the workspace's
 * arrays (the result is a view of one of them).
 */
function orderByScoreDescending(score: Float64Array, n: number, ws: Workspace): Uint32Array {
  const { hi, lo } = ws;
  const f = new Float64Array(1);
  const w = new Uint32Array(f.buffer); // little-endian platforms (every Node target): w[0] low, w[1] high word
  for (let i = 0; i < n; i++) {
    f[0] = score[i]! + 0;
    // Ascending-sortable bits (negative: all flipped; else the sign flipped), then reversed for descending.
    const neg = w[1]! >>> 31 === 1;
    hi[i] = neg ? w[1]! : ~(w[1]! ^ 0x80000000) >>> 0;
    lo[i] = neg ? w[0]! : ~w[0]! >>> 0;
  }
  return radixOrder(n, [lo, hi], [ws.idx, ws.tmp]);
}

/**
 * The value of rank `r` (0-based, ascending) among a[0..n): a[] is reordered. Iterative
 * quickselect with a median-of-three pivot and a three-way partition, so runs of equal values
 * (many users share a score) end the search instead of slowing it.
 */
function selectAscending(a: Float64Array, n: number, r: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const x = a[lo]!;
    const y = a[mid]!;
    const z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    // a[lo..lt) < pivot, a[lt..i) = pivot, a(gt..hi] > pivot
    let lt = lo;
    let i = lo;
    let gt = hi;
    while (i <= gt) {
      const v = a[i]!;
      if (v < pivot) {
        a[i] = a[lt]!;
        a[lt++] = v;
        i++;
      } else if (v > pivot) {
        a[i] = a[gt]!;
        a[gt--] = v;
      } else {
        i++;
      }
    }
    if (r < lt) hi = lt - 1;
    else if (r > gt) lo = gt + 1;
    else return pivot;
  }
  return a[r]!;
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
