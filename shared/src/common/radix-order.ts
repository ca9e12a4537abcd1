/**
 * Stable ordering of indexes by unsigned 32-bit keys, without a comparator: a
 * least-significant-digit radix sort in 16-bit digits. `radixOrder(n, [k0, k1, …])` returns the
 * indexes 0..n−1 ordered by the key (…, k1[i], k0[i]) ascending — k0 the least significant
 * word — equal keys keeping their index order. Linear in n per word; memory: two index arrays
 * and one 65,536-entry count table. Every key must be an integer in [0, 2^32) (the callers
 * check or construct them so).
 */

/** The indexes 0..n−1 in ascending order of (keys[last], …, keys[0]), stable. */
export function radixOrder(n: number, keys: readonly ArrayLike<number>[]): Uint32Array {
  let idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  let tmp = new Uint32Array(n);
  const count = new Uint32Array(65536);
  for (const words of keys) {
    for (let shift = 0; shift < 32; shift += 16) {
      radixPass(words, shift, idx, tmp, n, count);
      const t = idx;
      idx = tmp;
      tmp = t;
    }
  }
  return idx;
}

/** One stable counting-sort pass of `idx` into `out` on the 16-bit digit of words[idx[i]] at `shift`. */
function radixPass(words: ArrayLike<number>, shift: number, idx: Uint32Array, out: Uint32Array, n: number, count: Uint32Array): void {
  count.fill(0);
  for (let i = 0; i < n; i++) count[(words[i]! >>> shift) & 0xffff]!++;
  for (let d = 0, at = 0; d < 65536; d++) {
    const c = count[d]!;
    count[d] = at;
    at += c;
  }
  for (let i = 0; i < n; i++) {
    const x = idx[i]!;
    out[count[(words[x]! >>> shift) & 0xffff]!++] = x;
  }
}
