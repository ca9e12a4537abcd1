/**
 * The broker's dummies drawn in slices (drawSomeDummies, as the node does between turns of its
 * event loop) are the dummies drawn at once: same elements from the same RNG, every one in the
 * padded list, none drawn twice; pad() draws whatever is still missing.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { drawSomeDummies, padStep, readyDummies, type PaddingPhase } from './broker-padding.ts';
import { randomElement } from '../crypto/group.ts';
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
  return { name: 'ready', open: { seedCount } as OpenSession, policy: {} as Policy, paddedCount, dummies: undefined, drawn: 0 };
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
    expect(sliced.dummies?.toArray().map(hex)).toEqual(all);
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
