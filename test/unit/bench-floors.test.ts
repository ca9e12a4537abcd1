/**
 * bench/floors.ts: a phase's floor is Σ count × cost over what it counted, and its floorRatio
 * is null for a message-only phase (only its messages' signatures counted) — a ratio to a
 * fraction of a millisecond of Ed25519 would not say how close its computation is to a floor.
 */
import { describe, expect, it } from 'vitest';
import { floorMs, phaseRatio, ratio, type PrimitiveCosts } from '../../bench/floors.ts';

const costs = { x25519: 0.03, ed25519Sign: 0.04, ed25519Verify: 0.08, bfvDecrypt: 1.5 } as unknown as PrimitiveCosts;

describe('phase floors', () => {
  it('sums count × cost, signatures included', () => {
    expect(floorMs({ x25519: 1000, ed25519Sign: 2, ed25519Verify: 1 }, costs)).toBeCloseTo(30 + 0.08 + 0.08);
    expect(floorMs(undefined, costs)).toBe(0);
  });

  it('rates a phase that computes against its whole floor; a message-only or empty phase gets no ratio', () => {
    expect(phaseRatio(61, { x25519: 1000, ed25519Sign: 2, ed25519Verify: 1 }, costs)).toBe(ratio(61, 30.16));
    expect(phaseRatio(3, { bfvDecrypt: 1, ed25519Verify: 1 }, costs)).toBe(ratio(3, 1.58));
    expect(phaseRatio(40, { ed25519Sign: 3, ed25519Verify: 2 }, costs)).toBeNull();
    expect(phaseRatio(40, { x25519: 0, ed25519Sign: 1 }, costs)).toBeNull();
    expect(phaseRatio(40, {}, costs)).toBeNull();
    expect(phaseRatio(40, undefined, costs)).toBeNull();
  });
});
