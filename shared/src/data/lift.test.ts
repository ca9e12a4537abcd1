// Tests for measureLift: the definition on small exact cases, and input validation.
import { describe, expect, it } from 'vitest';
import { measureLift } from './lift.ts';

const propensity = new Set(['a', 'b', 'c', 'd', 'e']); // 5 of 100 users: base rate 5%

describe('measureLift', () => {
  it('is the audience hit rate over the base rate', () => {
    expect(measureLift(['a', 'b', 'c', 'd', 'e'], propensity, 100)).toBe(20);
    expect(measureLift(['a', 'x', 'y', 'z'], propensity, 100)).toBe(5);
    expect(measureLift(['x', 'y'], propensity, 100)).toBe(0);
    expect(measureLift(Array.from({ length: 100 }, (_, i) => (i < 5 ? 'abcde'[i]! : `u${i}`)), propensity, 100)).toBeCloseTo(1);
  });

  it('counts a repeated audience id once', () => {
    expect(measureLift(['a', 'a', 'a', 'x'], propensity, 100)).toBe(10);
  });

  it('accepts any iterable', () => {
    expect(measureLift(new Set(['a', 'x']), propensity, 100)).toBe(10);
  });

  it('validates its inputs', () => {
    expect(() => measureLift([], propensity, 100)).toThrow('expected a non-empty audience, got 0 users');
    expect(() => measureLift(['a'], new Set(), 100)).toThrow('expected a non-empty propensity set, got 0 users');
    expect(() => measureLift(['a'], propensity, 3)).toThrow('expected at most universeSize = 3 propensity users, got 5');
    expect(() => measureLift(['a'], propensity, 0)).toThrow('expected universeSize to be a positive integer, got 0');
    expect(() => measureLift('abc' as never, propensity, 100)).toThrow('expected an iterable of user ids, got string');
    expect(() => measureLift(['a'], ['a'] as never, 100)).toThrow('expected propensity to be a Set, got object');
  });
});
