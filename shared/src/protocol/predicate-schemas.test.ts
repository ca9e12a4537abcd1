/**
 * packedPredicateTest (predicate-schemas.ts): the memoised test of a media predicate over
 * packed vectors gives, user by user, the verdict of evaluating the compiled predicate on
 * that user's packedReader — for predicates over few groups (memoised on their bits) and over
 * more bits than the memo keys (evaluated per user), on vectors with any bits set.
 */
import { describe, expect, it } from 'vitest';
import { compileMediaPredicate, packedPredicateTest, packedReader } from './predicate-schemas.ts';
import { PACKED_BYTES } from './universe.ts';
import { mulberry32 } from '../testing/rng.ts';

const PREDICATES: unknown[] = [
  // 16 bits (age, gender, city): memoised
  { all: [{ attr: 'gender', eq: 'female' }, { attr: 'age', in: ['25-29', '30-34', '35-39'] }, { attr: 'city', in: ['tier1', 'new-tier1'] }] },
  { any: [{ attr: 'os', eq: 'ios' }, { not: { attr: 'activity', in: ['low', 'medium'] } }] },
  { not: { all: [] } },
  // 41 + 7 bits (interest, age): evaluated user by user
  { all: [{ attr: 'interest', in: ['travel', 'gaming'] }, { any: [{ attr: 'age', eq: '18-24' }, { not: { attr: 'interest', eq: 'tea' } }] }] },
];

describe('packedPredicateTest', () => {
  it('gives every user the verdict of the compiled predicate on its packed vector', () => {
    const rng = mulberry32(5);
    const users = 20_000;
    // Sparse and dense vectors: single-valued groups with none, one or several bits set.
    const packed = Uint8Array.from({ length: users * PACKED_BYTES }, (_, i) => Math.floor(rng() * 256) & (i % 3 === 0 ? 0xff : Math.floor(rng() * 256)));
    for (const p of PREDICATES) {
      const compiled = compileMediaPredicate(p);
      const test = packedPredicateTest(compiled);
      const got: boolean[] = [];
      const want: boolean[] = [];
      for (let u = 0; u < users; u++) {
        got.push(test(packed, u * PACKED_BYTES));
        want.push(compiled.test(packedReader(packed, u * PACKED_BYTES)));
      }
      expect(got).toEqual(want);
      if (p !== PREDICATES[2]) expect(new Set(want).size).toBe(2); // both verdicts occur: the comparison is not vacuous
    }
  });
});
