/**
 * Deterministic randomness for tests only (never used by product code): failures
 * reproduce from the RNG seed printed in the test.
 *   mulberry32(rngSeed)  — uniform floats in [0, 1)
 *   seededBytes(rngSeed) — an Rng (n → n bytes) from SHA-256 of `${rngSeed}/${counter}`
 */
import { createHash } from 'node:crypto';

export function mulberry32(rngSeed: number): () => number {
  let a = rngSeed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seededBytes(rngSeed: string): (n: number) => Uint8Array {
  let ctr = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) out.set(createHash('sha256').update(`${rngSeed}/${ctr++}`).digest().subarray(0, Math.min(32, n - off)), off);
    return out;
  };
}
