// Tests for the process-wide tallies (op-counts.ts): `uncounted` work leaves every live tally
// as it was — primitives, OPRF evaluations, BFV operations, wire bytes — though it runs the same
// counting code (into a discarded record), nested or not, a throw inside included; counting
// outside it adds up exactly.
import { describe, expect, it } from 'vitest';
import { countBfv, countBytes, countOprf, countPrimitive, opCounts, primitiveCounts, primitiveDelta, primitiveSnapshot, uncounted, wireBytes } from './op-counts.ts';

function countAll(n: number): void {
  countPrimitive('x25519', n);
  countPrimitive('bfvDecrypt');
  countOprf(n);
  countBfv('decrypt', n);
  countBytes('sent', 'broker', 'TEST_ROUND', n);
}

describe('uncounted', () => {
  it('tallies nothing of what its work counts, nested or after a throw; counting outside it adds up', () => {
    const before = primitiveSnapshot();
    const oprf = opCounts.oprfEvaluations;
    const decrypts = opCounts.bfv.decrypt;
    const bytes = wireBytes.get('sent|broker|TEST_ROUND') ?? 0;
    uncounted(() => {
      countAll(5);
      uncounted(() => countAll(7));
      countAll(11);
    });
    expect(() => uncounted(() => {
      countAll(13);
      throw new Error('boom');
    })).toThrow('boom');
    expect(primitiveDelta(before)).toEqual({});
    expect([opCounts.oprfEvaluations, opCounts.bfv.decrypt, wireBytes.get('sent|broker|TEST_ROUND') ?? 0]).toEqual([oprf, decrypts, bytes]);
    countAll(3);
    expect(primitiveDelta(before)).toEqual({ x25519: 3, bfvDecrypt: 1 });
    expect(primitiveCounts.x25519 - before.x25519).toBe(3);
    expect([opCounts.oprfEvaluations - oprf, opCounts.bfv.decrypt - decrypts, wireBytes.get('sent|broker|TEST_ROUND')! - bytes]).toEqual([3, 3, 3]);
  });

  it('refuses asynchronous work (its later turns would be counted)', () => {
    expect(() => uncounted(() => Promise.resolve(1))).toThrow(/thenable/);
  });
});
