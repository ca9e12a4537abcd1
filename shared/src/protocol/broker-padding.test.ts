/**
 * The broker's dummies drawn in slices (drawSomeDummies, as the node does between turns of its
 * event loop) are the dummies drawn at once: same elements from the same RNG, every one in the
 * padded list, none drawn twice; pad() draws whatever is still missing.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { drawSomeDummies, padStep, readyDummies, type PaddingPhase } from './broker-padding.ts';
import { padInPlace } from './padding.ts';
import { ELEMENT_BYTES, randomElement } from '../crypto/group.ts';
import { PackedList } from '../common/packed-list.ts';
import type { OpenSession, Policy } from './messages.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** A deterministic RNG and a byte stream (SHA-256 of a counter, handed out in order): the same bytes however the draws are cut. */
function counterRng(): (n: number) => Uint8Array {
  let block = 0;
  let pool = new Uint8Array(0);
  let at = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (at === pool.length) {
        pool = new Uint8Array(createHash('sha256').update(`rng ${block++}`).digest());
        at = 0;
      }
      out[i] = pool[at++]!;
    }
    return out;
  };
}
function ready(seedCount: number, paddedCount: number): Extract<PaddingPhase, { name: 'ready' }> {
  return { name: 'ready', open: { seedCount } as OpenSession, policy: {} as Policy, paddedCount, padded: undefined, drawn: 0 };
}

describe('drawSomeDummies', () => {
  it('in slices gives the dummies drawn at once, then pad() uses every one of them exactly once', () => {
    const whole = ready(10, 1000);
    const all = readyDummies(whole, counterRng()).toArray().map(hex);
    const sliced = ready(10, 1000);
    const rng = counterRng();
    const answers: boolean[] = [];
    for (let k = 0; k < 5; k++) answers.push(drawSomeDummies(sliced, 300, rng));
    expect(answers).toEqual([false, false, false, true, true]);
    expect(sliced.drawn).toBe(990);
    expect(readyDummies(sliced).toArray().map(hex)).toEqual(all);
    const blinded = Array.from({ length: 10 }, () => randomElement());
    const { padded } = padStep(sliced, blinded, Math.random);
    const inPadded = padded.toArray().map(hex).sort();
    expect(inPadded).toEqual([...all, ...blinded.map(hex)].sort());
  });

  it('pad() draws the dummies still missing after a partial draw', () => {
    const p = ready(5, 200);
    const rng = counterRng();
    expect(drawSomeDummies(p, 50, rng)).toBe(false);
    const { padded, next } = padStep(p, Array.from({ length: 5 }, () => randomElement()), Math.random, rng);
    expect(padded.length).toBe(200);
    expect(new Set(padded.toArray().map(hex)).size).toBe(200);
    expect(next.padMap.filter((x) => x >= 0).length).toBe(5);
  });
});

describe('padStep', () => {
  /** A seeded uniform in [0, 1) (mulberry32): the shuffle's draws, reproducible. */
  function seeded(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
  }

  it('pads in the list the dummies were drawn into: A\'s elements where padMap says, every dummy once', () => {
    const p = ready(7, 64);
    const dummies = readyDummies(p, counterRng());
    const before = dummies.toArray().map(hex);
    const blinded = Array.from({ length: 7 }, () => randomElement());
    const { padded, next } = padStep(p, blinded, seeded(1));
    expect(padded.bytes.buffer).toBe(dummies.bytes.buffer); // no second list-sized buffer
    const rest: string[] = [];
    next.padMap.forEach((src, pos) => (src >= 0 ? expect(hex(padded.at(pos))).toBe(hex(blinded[src]!)) : rest.push(hex(padded.at(pos)))));
    expect(rest.sort()).toEqual(before.sort());
  });

  it('pads a list at any byte offset as one at offset 0', () => {
    const blinded = Array.from({ length: 3 }, () => randomElement());
    const fill = (l: PackedList): PackedList => {
      for (let i = 3; i < 40; i++) l.bytes.fill(i, i * ELEMENT_BYTES, (i + 1) * ELEMENT_BYTES);
      return l;
    };
    const aligned = padInPlace(blinded, fill(PackedList.alloc(40, ELEMENT_BYTES)), seeded(3));
    const odd = padInPlace(blinded, fill(new PackedList(new Uint8Array(40 * ELEMENT_BYTES + 1).subarray(1), ELEMENT_BYTES)), seeded(3));
    expect(odd.padded.bytes.byteOffset % 4).toBe(1);
    expect(hex(odd.padded.bytes)).toBe(hex(aligned.padded.bytes));
    expect([...odd.padMap]).toEqual([...aligned.padMap]);
  });

  it('draws one uniform per element of A\'s, not one per padded slot (10 among 100,000)', () => {
    let draws = 0;
    const u = seeded(11);
    const p = { ...ready(10, 100_000), padded: PackedList.alloc(100_000, ELEMENT_BYTES), drawn: 99_990 };
    for (let i = 10; i < 100_000; i++) p.padded.bytes[i * ELEMENT_BYTES] = i & 0xff;
    const blinded = Array.from({ length: 10 }, () => randomElement());
    const { padded, next } = padStep(p, blinded, () => (draws++, u()));
    expect(draws).toBe(10);
    next.padMap.forEach((src, pos) => {
      if (src >= 0) expect(hex(padded.at(pos))).toBe(hex(blinded[src]!));
    });
    expect(next.padMap.filter((x) => x >= 0).length).toBe(10);
  });

  it('puts each of A\'s elements at a uniform position (chi-square over 8 positions, 16,000 shuffles)', () => {
    const u = seeded(7);
    const counts = [new Array<number>(8).fill(0), new Array<number>(8).fill(0)];
    const [a, b] = [randomElement(), randomElement()];
    for (let r = 0; r < 16_000; r++) {
      // dummies already "drawn" (zeros: only the positions are looked at here)
      const p = { ...ready(2, 8), padded: PackedList.alloc(8, ELEMENT_BYTES), drawn: 6 };
      const { next } = padStep(p, [a, b], u);
      next.padMap.forEach((src, pos) => {
        if (src >= 0) counts[src]![pos]!++;
      });
    }
    for (const c of counts) {
      const chi2 = c.reduce((s, k) => s + (k - 2000) ** 2 / 2000, 0);
      expect(chi2).toBeLessThan(24.3); // 7 degrees of freedom, p = 0.001
    }
  });
});
