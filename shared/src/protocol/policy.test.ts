/**
 * The broker's cryptographic draws (protocol/policy.ts): cryptoBelow is uniform in [0, t)
 * across the pool's refills and refuses a bound it cannot serve; cryptoUniform stays in [0, 1).
 */
import { describe, expect, it } from 'vitest';
import { cryptoBelow, cryptoUniform } from './policy.ts';

describe('cryptoBelow', () => {
  it('stays in [0, t) and covers it evenly across several pool refills (chi-square, 16 cells)', () => {
    const t = 16n;
    const cells = new Array<number>(16).fill(0);
    const draws = 3 * 4096 + 17; // the pool serves 4,096 draws: three refills and a part
    for (let i = 0; i < draws; i++) {
      const v = cryptoBelow(t);
      expect(v >= 0n && v < t).toBe(true);
      cells[Number(v)]!++;
      if (i % 97 === 0) expect(cryptoUniform()).toBeLessThan(1); // interleaved with the other draw
    }
    const e = draws / 16;
    const chi2 = cells.reduce((a, n) => a + (n - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(60); // 15 degrees of freedom: P(χ² > 60) < 10^-6
  });

  it('serves the broker\'s 25-bit plain modulus and t = 1, and refuses other bounds', () => {
    const t = 33_538_049n;
    for (let i = 0; i < 1000; i++) {
      const v = cryptoBelow(t);
      expect(v >= 0n && v < t).toBe(true);
    }
    expect(cryptoBelow(1n)).toBe(0n);
    expect(() => cryptoBelow(0n)).toThrow(/expected a bound t in \[1, 2\^32\], got 0/);
    expect(() => cryptoBelow(2n ** 40n)).toThrow(/expected a bound t in \[1, 2\^32\]/);
    expect(() => cryptoBelow(5 as unknown as bigint)).toThrow(/expected a bound t/);
  });
});

describe('cryptoUniform', () => {
  it('stays in [0, 1), covers it evenly across pool refills (chi-square, 64 cells) and uses its high bits too', () => {
    const cells = new Array<number>(64).fill(0);
    const draws = 5 * 4096 + 3; // two words a draw: five pool refills and a part
    let high = 0;
    for (let i = 0; i < draws; i++) {
      const u = cryptoUniform();
      expect(u >= 0 && u < 1).toBe(true);
      cells[Math.floor(u * 64)]!++;
      if (u >= 0.5) high++;
    }
    const e = draws / 64;
    const chi2 = cells.reduce((a, n) => a + (n - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(130); // 63 degrees of freedom: P(χ² > 130) < 10^-6
    expect(Math.abs(high / draws - 0.5)).toBeLessThan(0.02);
  });
});
