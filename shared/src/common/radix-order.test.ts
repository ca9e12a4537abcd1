import { describe, expect, it } from 'vitest';
import { radixOrder } from './radix-order.ts';

/** The reference: a stable comparison sort of the indexes by (hi, lo). */
function reference(n: number, keys: readonly ArrayLike<number>[]): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  return idx.sort((a, b) => {
    for (let k = keys.length - 1; k >= 0; k--) {
      const d = keys[k]![a]! - keys[k]![b]!;
      if (d !== 0) return d;
    }
    return a - b;
  });
}

describe('radixOrder', () => {
  it('orders by one word and by two (the first least significant), equal keys by index, across every digit of either width', () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (const n of [0, 1, 2, 17, 5000, (1 << 17) + 3]) { // 11-bit digits up to 2^17 indexes, 16-bit above
      // few distinct values in each digit so that ties and carries between digits are common
      const lo = Uint32Array.from({ length: n }, () => ((rnd() % 5) << 16) | (rnd() % 3) | (rnd() % 2 ? 0x80000000 : 0));
      const hi = Uint32Array.from({ length: n }, () => (rnd() % 4 === 0 ? 0xffffffff : rnd() % 3));
      expect([...radixOrder(n, [lo])]).toEqual(reference(n, [lo]));
      expect([...radixOrder(n, [lo, hi])]).toEqual(reference(n, [lo, hi]));
      expect([...radixOrder(n, [Array.from(lo)])]).toEqual(reference(n, [lo]));
      // every bit in play: a carry between any two digits of 11 (0–10, 11–21, 22–31) or 16 bits
      const full = Uint32Array.from({ length: n }, () => rnd() & (rnd() % 2 ? 0xffffffff : 0x00600c03));
      expect([...radixOrder(n, [full])]).toEqual(reference(n, [full]));
      // in the caller's arrays (larger than n, left dirty by the call before): the same order
      const into = [new Uint32Array(n + 5).fill(0xdead), new Uint32Array(n + 9).fill(7)] as const;
      expect([...radixOrder(n, [lo, hi], into)]).toEqual(reference(n, [lo, hi]));
      expect([...radixOrder(n, [full], into)]).toEqual(reference(n, [full]));
    }
    expect(() => radixOrder(10, [new Uint32Array(10)], [new Uint32Array(9), new Uint32Array(10)])).toThrow(RangeError);
  });
});
