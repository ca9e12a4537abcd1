// Tests for the 64-attribute schema: layout, encode/decode round trip, one value per
// single-valued group (so cohort size = sum of age-band totals), and rejection of bad input.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../testing/rng.ts';
import {
  ACTIVITIES, AGE_BANDS, ATTRIBUTE_COUNT, ATTRIBUTE_GROUPS, ATTRIBUTE_INDEX, ATTRIBUTES, CITY_TIERS, DEVICE_OSES,
  GENDERS, GROUP_OF_INDEX, INTERESTS, decodeVector, encodeProfile,
} from './attributes.ts';
import type { UserProfile } from './attributes.ts';


function randomProfile(r: () => number): UserProfile {
  const one = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  return {
    ageBand: one(AGE_BANDS),
    gender: one(GENDERS),
    cityTier: one(CITY_TIERS),
    deviceOs: one(DEVICE_OSES),
    activity: one(ACTIVITIES),
    interests: INTERESTS.filter(() => r() < 0.15),
  };
}

const sample: UserProfile = { ageBand: '30-34', gender: 'male', cityTier: 'tier1', deviceOs: 'ios', activity: 'high', interests: ['luxury', 'auto', 'stocks'] };

describe('layout', () => {
  it('has 64 attributes in six groups of 7, 3, 6, 3, 4 and 41', () => {
    expect(ATTRIBUTE_COUNT).toBe(64);
    expect(ATTRIBUTES).toHaveLength(64);
    expect(ATTRIBUTE_GROUPS.map((g) => [g.group, g.values.length, g.offset, g.single])).toEqual([
      ['age', 7, 0, true],
      ['gender', 3, 7, true],
      ['city', 6, 10, true],
      ['os', 3, 16, true],
      ['activity', 4, 19, true],
      ['interest', 41, 23, false],
    ]);
  });

  it('indexes attributes 0..63 with unique group:value names', () => {
    ATTRIBUTES.forEach((a, i) => {
      expect(a.index).toBe(i);
      expect(a.name).toBe(`${a.group}:${a.value}`);
      expect(GROUP_OF_INDEX[i]).toBe(a.group);
      expect(ATTRIBUTE_INDEX.get(a.name)).toBe(i);
    });
    expect(new Set(ATTRIBUTES.map((a) => a.name)).size).toBe(64);
    expect(GROUP_OF_INDEX).toHaveLength(64);
  });

  it('pins the positions the protocol documents', () => {
    expect(ATTRIBUTES[0]!.name).toBe('age:18-24');
    expect(ATTRIBUTES[6]!.name).toBe('age:60+');
    expect(ATTRIBUTES[7]!.name).toBe('gender:female');
    expect(ATTRIBUTES[10]!.name).toBe('city:tier1');
    expect(ATTRIBUTES[16]!.name).toBe('os:ios');
    expect(ATTRIBUTES[22]!.name).toBe('activity:very-high');
    expect(ATTRIBUTES[23]!.name).toBe('interest:auto');
    expect(ATTRIBUTES[63]!.name).toBe('interest:stocks');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(ATTRIBUTES)).toBe(true);
    expect(Object.isFrozen(ATTRIBUTES[0])).toBe(true);
    expect(Object.isFrozen(GROUP_OF_INDEX)).toBe(true);
  });
});

describe('encodeProfile / decodeVector', () => {
  it('encodes a profile as 0/1 bits at the schema positions', () => {
    const v = encodeProfile(sample);
    expect(v).toBeInstanceOf(Uint8Array);
    expect(v).toHaveLength(64);
    const ones = [...v.keys()].filter((i) => v[i] === 1).map((i) => ATTRIBUTES[i]!.name);
    expect(ones).toEqual(['age:30-34', 'gender:male', 'city:tier1', 'os:ios', 'activity:high', 'interest:auto', 'interest:luxury', 'interest:stocks']);
  });

  it('round-trips, with interests returned in schema order', () => {
    expect(decodeVector(encodeProfile(sample))).toEqual({ ...sample, interests: ['auto', 'luxury', 'stocks'] });
    const r = mulberry32(7);
    for (let i = 0; i < 500; i++) {
      const p = randomProfile(r);
      expect(decodeVector(encodeProfile(p))).toEqual(p);
    }
    const none = { ...sample, interests: [] };
    expect(decodeVector(encodeProfile(none))).toEqual(none);
    const all = { ...sample, interests: [...INTERESTS] };
    expect(decodeVector(encodeProfile(all))).toEqual(all);
  });

  it('sets exactly one bit per single-valued group, so a cohort sum has age totals = cohort size', () => {
    const r = mulberry32(11);
    const total = new Array<number>(64).fill(0);
    const n = 1000;
    for (let i = 0; i < n; i++) {
      const v = encodeProfile(randomProfile(r));
      for (const g of ATTRIBUTE_GROUPS.filter((x) => x.single)) {
        expect(v.subarray(g.offset, g.offset + g.values.length).reduce((a, b) => a + b, 0)).toBe(1);
      }
      v.forEach((b, j) => (total[j]! += b));
    }
    for (const g of ATTRIBUTE_GROUPS.filter((x) => x.single)) {
      expect(total.slice(g.offset, g.offset + g.values.length).reduce((a, b) => a + b, 0)).toBe(n);
    }
  });

  it.each([
    [{ ...sample, ageBand: '17-18' }, "expected ageBand one of 18-24|25-29|30-34|35-39|40-49|50-59|60+, got '17-18'"],
    [{ ...sample, gender: 'F' }, "expected gender one of female|male|unknown, got 'F'"],
    [{ ...sample, cityTier: 'tier0' }, "expected cityTier one of tier1|new-tier1|tier2|tier3|tier4|tier5, got 'tier0'"],
    [{ ...sample, deviceOs: 'harmony' }, "expected deviceOs one of ios|android|other, got 'harmony'"],
    [{ ...sample, activity: 3 }, 'expected activity one of low|medium|high|very-high, got number'],
    [{ ...sample, ageBand: undefined }, 'got undefined'],
    [{ ...sample, interests: ['auto', 'unicorns'] }, "expected interests entries among the 41 known interests, got 'unicorns'"],
    [{ ...sample, interests: ['auto', 'auto'] }, "expected distinct interests, got 'auto' twice"],
    [{ ...sample, interests: 'auto' }, "expected interests to be an array, got 'auto'"],
    [null, 'expected a UserProfile object, got null'],
  ])('rejects %j', (p, message) => {
    expect(() => encodeProfile(p as unknown as UserProfile)).toThrow(message);
  });

  it('rejects vectors that break the schema', () => {
    const good = encodeProfile(sample);
    expect(() => decodeVector(new Uint8Array(63))).toThrow('expected 64 attributes, got 63');
    expect(() => decodeVector([...good] as unknown as Uint8Array)).toThrow('expected a Uint8Array, got array');
    const two = good.slice();
    two[0] = 1;
    expect(() => decodeVector(two)).toThrow('expected exactly one age value, got 2');
    const none = good.slice();
    none[8] = 0;
    expect(() => decodeVector(none)).toThrow('expected exactly one gender value, got 0');
    const big = good.slice();
    big[40] = 2;
    expect(() => decodeVector(big)).toThrow('expected 0 or 1 at attribute 40, got 2');
  });
});
