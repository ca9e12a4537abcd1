/**
 * Look-alike selection (lookalike.ts) in one bounded pass: the same audience, in the same
 * order, as ranking every user with a full sort (score descending, then row ascending) —
 * ties included (many users share a vector), exclusions honoured, audience larger than the
 * universe clipped.
 */
import { describe, expect, it } from 'vitest';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import { buildLookalike } from './lookalike.ts';
import { attributeShares, PACKED_BYTES } from './universe.ts';
import { mulberry32 } from '../testing/rng.ts';

/** The reference: every user's score, then a full sort (what the selection must equal). */
function reference(totals: number[], cohortSize: number, shares: Float64Array, packed: Uint8Array, users: number, exclude: Set<number>, k: number): number[] {
  const eps = 1 / (2 * (cohortSize + 1));
  const clamp = (v: number) => Math.min(1 - eps, Math.max(eps, v));
  const p = totals.map((t) => clamp(Math.max(0, t) / Math.max(1, cohortSize)));
  const q = Array.from(shares, clamp);
  const w1 = p.map((pj, j) => Math.log(pj / q[j]!));
  const w0 = p.map((pj, j) => Math.log((1 - pj) / (1 - q[j]!)));
  const base = w0.reduce((a, b) => a + b, 0);
  const scores = new Float64Array(users);
  for (let u = 0; u < users; u++) {
    // the same summation order as the byte tables: per byte, bits ascending
    let s = base;
    for (let b = 0; b < PACKED_BYTES; b++) {
      let t = 0;
      for (let bit = 0; bit < 8; bit++) if (packed[u * PACKED_BYTES + b]! & (1 << bit)) t += (w1[b * 8 + bit] ?? 0) - (w0[b * 8 + bit] ?? 0);
      s += t;
    }
    scores[u] = s;
  }
  const c: number[] = [];
  for (let u = 0; u < users; u++) if (!exclude.has(u)) c.push(u);
  return c.sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, k);
}

describe('buildLookalike', () => {
  it('selects exactly what a full sort selects, ties and exclusions included', () => {
    const rng = mulberry32(7);
    const users = 5000;
    const packed = new Uint8Array(users * PACKED_BYTES);
    // 40 distinct vectors: every score is shared by ~125 users
    const pool = Array.from({ length: 40 }, () => Uint8Array.from({ length: PACKED_BYTES }, () => Math.floor(rng() * 256)));
    for (let u = 0; u < users; u++) packed.set(pool[Math.floor(rng() * pool.length)]!, u * PACKED_BYTES);
    const shares = attributeShares(packed, users);
    const totals = Array.from({ length: ATTRIBUTE_COUNT }, () => Math.floor(rng() * 300));
    for (const [k, exclude] of [[700, new Set<number>()], [1, new Set([3, 4])], [4999, new Set([0, 10, 4999])], [9000, new Set<number>()], [0, new Set<number>()]] as const) {
      const got = buildLookalike({ totals, cohortSize: 300, universeShares: shares, packed, users, exclude, audienceSize: k });
      expect(Array.from(got.rows)).toEqual(reference(totals, 300, shares, packed, users, exclude, k));
    }
  });

  it('selects what a full sort selects on universes large enough for the sampled floor, and when that floor is too high', () => {
    const rng = mulberry32(19);
    const users = 100_000; // ≥ 4 · 16,384: the pass starts from a floor read off a sample
    // Random vectors (few ties), then 4 vectors only: the sample's floor equals the best score,
    // fewer than k users score above it, and the pass runs again without it.
    for (const distinct of [0, 4]) {
      const pool = Array.from({ length: distinct }, () => Uint8Array.from({ length: PACKED_BYTES }, () => Math.floor(rng() * 256)));
      const packed = new Uint8Array(users * PACKED_BYTES);
      for (let u = 0; u < users; u++) {
        if (distinct > 0) packed.set(pool[u % distinct]!, u * PACKED_BYTES);
        else for (let b = 0; b < PACKED_BYTES; b++) packed[u * PACKED_BYTES + b] = Math.floor(rng() * 256) & Math.floor(rng() * 256);
      }
      const shares = attributeShares(packed, users);
      const totals = Array.from({ length: ATTRIBUTE_COUNT }, () => Math.floor(rng() * 300));
      for (const [k, exclude] of [[10_000, new Set<number>()], [50, new Set([1, 2, 99_999])], [30_000, new Set([5, 77_777])], [60_000, new Set<number>()]] as const) {
        const got = buildLookalike({ totals, cohortSize: 300, universeShares: shares, packed, users, exclude, audienceSize: k });
        expect(Array.from(got.rows)).toEqual(reference(totals, 300, shares, packed, users, exclude, k));
      }
    }
  });

  it('scores four users side by side: exclusions at every place in a block of four, runs across blocks, and a tail of 1–3 users', () => {
    const rng = mulberry32(23);
    for (const users of [4097, 4098, 4099, 4100, 70_001]) { // 70,001: the sampled floor too
      const packed = Uint8Array.from({ length: users * PACKED_BYTES }, () => Math.floor(rng() * 256) & Math.floor(rng() * 256));
      const shares = attributeShares(packed, users);
      const totals = Array.from({ length: ATTRIBUTE_COUNT }, () => Math.floor(rng() * 300));
      const exclusions = [
        new Set([0]), new Set([1]), new Set([2]), new Set([3]), new Set([0, 1, 2, 3]), new Set([3, 4, 5, 6, 7, 8]),
        new Set([users - 1]), new Set([users - 2, users - 3]), new Set(Array.from({ length: 200 }, () => Math.floor(rng() * users))),
      ];
      for (const exclude of exclusions) {
        for (const k of [1, 333, users]) {
          const got = buildLookalike({ totals, cohortSize: 300, universeShares: shares, packed, users, exclude, audienceSize: k });
          expect(Array.from(got.rows)).toEqual(reference(totals, 300, shares, packed, users, exclude, k));
        }
      }
    }
  });

  it('works in arrays reused from one look-alike to the next: what one leaves there never reaches the next', () => {
    const rng = mulberry32(29);
    const users = 80_000;
    const packed = Uint8Array.from({ length: users * PACKED_BYTES }, () => Math.floor(rng() * 256) & Math.floor(rng() * 256));
    const shares = attributeShares(packed, users);
    const cohort = () => Array.from({ length: ATTRIBUTE_COUNT }, () => Math.floor(rng() * 300));
    const a = cohort();
    const run = (totals: number[], k: number) => buildLookalike({ totals, cohortSize: 300, universeShares: shares, packed, users, exclude: new Set(), audienceSize: k });
    const first = run(a, 2_000);
    expect(Array.from(first.rows)).toEqual(reference(a, 300, shares, packed, users, new Set(), 2_000));
    // a larger look-alike (the arrays grow), a smaller one (views of them), then the first again
    run(cohort(), 40_000);
    run(cohort(), 10);
    const again = run(a, 2_000);
    expect(Array.from(again.rows)).toEqual(Array.from(first.rows));
    expect(again.quality).toBe(first.quality);
    // the rows returned are the caller's: the next look-alike does not overwrite them
    const kept = Array.from(again.rows);
    run(cohort(), 2_000);
    expect(Array.from(again.rows)).toEqual(kept);
  });

  it('reports the quality a per-user cosine pass gives (the universe mean from the cached weights)', () => {
    const rng = mulberry32(11);
    const users = 3000;
    const packed = Uint8Array.from({ length: users * PACKED_BYTES }, () => Math.floor(rng() * 256) & Math.floor(rng() * 256));
    packed.fill(0, 0, PACKED_BYTES); // a user with no attribute: cosine 0
    const shares = attributeShares(packed, users);
    const totals = Array.from({ length: ATTRIBUTE_COUNT }, () => Math.floor(rng() * 300));
    const got = buildLookalike({ totals, cohortSize: 300, universeShares: shares, packed, users, exclude: new Set(), audienceSize: 400 });
    const share = totals.map((t) => t / 300);
    const norm = Math.sqrt(share.reduce((a, s) => a + s * s, 0));
    const cos = (u: number) => {
      let d = 0;
      let c = 0;
      for (let j = 0; j < ATTRIBUTE_COUNT; j++) {
        if (packed[u * PACKED_BYTES + (j >> 3)]! & (1 << (j & 7))) {
          d += share[j]!;
          c++;
        }
      }
      return c === 0 ? 0 : d / (Math.sqrt(c) * norm);
    };
    let all = 0;
    for (let u = 0; u < users; u++) all += cos(u);
    let aud = 0;
    for (const r of got.rows) aud += cos(r);
    expect(got.quality).toBeCloseTo((aud / 400) / (all / users), 10);
    // The same universe again: the cached weights give the same figure.
    expect(buildLookalike({ totals, cohortSize: 300, universeShares: shares, packed, users, exclude: new Set(), audienceSize: 400 }).quality).toBe(got.quality);
  });
});
