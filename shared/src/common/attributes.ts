/**
 * The attribute schema: the 64 binary attributes media (B) holds per user and encrypts,
 * one BFV slot each, for the cohort profile.
 *
 * Layout (index ranges are fixed; changing them is a protocol version change):
 *   0–6   age       18-24, 25-29, 30-34, 35-39, 40-49, 50-59, 60+      (exactly one)
 *   7–9   gender    female, male, unknown                              (exactly one)
 *   10–15 city      tier1, new-tier1, tier2, tier3, tier4, tier5       (exactly one)
 *   16–18 os        ios, android, other                                (exactly one)
 *   19–22 activity  low, medium, high, very-high                       (exactly one)
 *   23–63 interest  41 interests, multi-hot (zero or more)
 *
 * Guarantees: `encodeProfile` returns a length-64 vector of 0/1 with exactly one 1 in each
 * single-valued group (age, gender, city, os, activity) and rejects unknown or duplicated
 * values; `decodeVector` is its inverse and rejects any vector that breaks those rules.
 * Because every user has exactly one value in each single-valued group, the sum of a
 * cohort's vectors has age-band totals (indices 0–6) that add up to the cohort size — and
 * likewise for every other single-valued group. The protocol relies on this: the cohort
 * size is read off the aggregate, not sent separately.
 */

export const AGE_BANDS = ['18-24', '25-29', '30-34', '35-39', '40-49', '50-59', '60+'] as const;
export const GENDERS = ['female', 'male', 'unknown'] as const;
export const CITY_TIERS = ['tier1', 'new-tier1', 'tier2', 'tier3', 'tier4', 'tier5'] as const;
export const DEVICE_OSES = ['ios', 'android', 'other'] as const;
export const ACTIVITIES = ['low', 'medium', 'high', 'very-high'] as const;
export const INTERESTS = [
  'auto', 'luxury', 'travel', 'beauty', 'sports', 'gaming', 'finance', 'parenting',
  'education', 'food', 'fashion', 'fitness', 'music', 'movies', 'books', 'tech',
  'home', 'pets', 'health', 'real-estate', 'insurance', 'outdoor', 'photography', 'anime',
  'esports', 'cooking', 'coffee', 'tea', 'wine', 'art', 'gardening', 'cycling',
  'running', 'basketball', 'football', 'jewelry', 'maternity', 'elderly-care', 'shopping', 'golf',
  'stocks',
] as const;

export type AgeBand = (typeof AGE_BANDS)[number];
export type Gender = (typeof GENDERS)[number];
export type CityTier = (typeof CITY_TIERS)[number];
export type DeviceOs = (typeof DEVICE_OSES)[number];
export type Activity = (typeof ACTIVITIES)[number];
export type Interest = (typeof INTERESTS)[number];

export interface UserProfile {
  ageBand: AgeBand;
  gender: Gender;
  cityTier: CityTier;
  deviceOs: DeviceOs;
  activity: Activity;
  /** Zero or more distinct interests, any order on input; schema order on decode. */
  interests: Interest[];
}

export type AttributeGroup = 'age' | 'gender' | 'city' | 'os' | 'activity' | 'interest';

export interface AttributeGroupSpec {
  group: AttributeGroup;
  /** The `UserProfile` field holding this group's value(s). */
  field: keyof UserProfile;
  values: readonly string[];
  /** First attribute index of the group. */
  offset: number;
  /** True for the single-valued groups (exactly one value per user). */
  single: boolean;
}

export interface Attribute {
  index: number;
  group: AttributeGroup;
  value: string;
  /** `${group}:${value}`, e.g. 'age:18-24', 'interest:auto'. */
  name: string;
}

export const ATTRIBUTE_COUNT = 64;

const GROUP_LIST: readonly Omit<AttributeGroupSpec, 'offset'>[] = [
  { group: 'age', field: 'ageBand', values: AGE_BANDS, single: true },
  { group: 'gender', field: 'gender', values: GENDERS, single: true },
  { group: 'city', field: 'cityTier', values: CITY_TIERS, single: true },
  { group: 'os', field: 'deviceOs', values: DEVICE_OSES, single: true },
  { group: 'activity', field: 'activity', values: ACTIVITIES, single: true },
  { group: 'interest', field: 'interests', values: INTERESTS, single: false },
];

function buildGroups(): readonly AttributeGroupSpec[] {
  let offset = 0;
  const out: AttributeGroupSpec[] = [];
  for (const g of GROUP_LIST) {
    out.push(Object.freeze({ ...g, offset }));
    offset += g.values.length;
  }
  if (offset !== ATTRIBUTE_COUNT) throw new Error(`expected ${ATTRIBUTE_COUNT} attributes, got ${offset}`);
  return Object.freeze(out);
}

/** The six groups in index order. */
export const ATTRIBUTE_GROUPS: readonly AttributeGroupSpec[] = buildGroups();

/** All 64 attributes in index order. */
export const ATTRIBUTES: readonly Attribute[] = Object.freeze(
  ATTRIBUTE_GROUPS.flatMap((g) =>
    g.values.map((value, i) => Object.freeze({ index: g.offset + i, group: g.group, value, name: `${g.group}:${value}` })),
  ),
);

/** `GROUP_OF_INDEX[i]` is the group of attribute i. */
export const GROUP_OF_INDEX: readonly AttributeGroup[] = Object.freeze(ATTRIBUTES.map((a) => a.group));

/** Attribute index by name ('age:18-24' → 0). */
export const ATTRIBUTE_INDEX: ReadonlyMap<string, number> = new Map(ATTRIBUTES.map((a) => [a.name, a.index]));

const VALUE_INDEX: ReadonlyMap<AttributeGroup, ReadonlyMap<string, number>> = new Map(
  ATTRIBUTE_GROUPS.map((g) => [g.group, new Map(g.values.map((v, i) => [v, g.offset + i]))]),
);

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Encodes a profile as a length-64 0/1 vector. Throws on an unknown value, a missing field
 * or a duplicated interest.
 */
export function encodeProfile(p: UserProfile): Uint8Array {
  if (p === null || typeof p !== 'object') throw new TypeError(`expected a UserProfile object, got ${show(p)}`);
  const v = new Uint8Array(ATTRIBUTE_COUNT);
  for (const g of ATTRIBUTE_GROUPS) {
    const index = VALUE_INDEX.get(g.group)!;
    const raw: unknown = p[g.field];
    if (g.single) {
      const i = typeof raw === 'string' ? index.get(raw) : undefined;
      if (i === undefined) throw new TypeError(`expected ${g.field} one of ${g.values.join('|')}, got ${show(raw)}`);
      v[i] = 1;
    } else {
      if (!Array.isArray(raw)) throw new TypeError(`expected ${g.field} to be an array, got ${show(raw)}`);
      for (const item of raw) {
        const i = typeof item === 'string' ? index.get(item) : undefined;
        if (i === undefined) throw new TypeError(`expected ${g.field} entries among the ${g.values.length} known interests, got ${show(item)}`);
        if (v[i] === 1) throw new TypeError(`expected distinct ${g.field}, got '${item as string}' twice`);
        v[i] = 1;
      }
    }
  }
  return v;
}

/**
 * Decodes a length-64 0/1 vector. Throws unless every single-valued group has exactly one 1.
 */
export function decodeVector(v: Uint8Array): UserProfile {
  if (!(v instanceof Uint8Array)) throw new TypeError(`expected a Uint8Array, got ${show(v)}`);
  if (v.length !== ATTRIBUTE_COUNT) throw new RangeError(`expected ${ATTRIBUTE_COUNT} attributes, got ${v.length}`);
  const out: Record<string, string | string[]> = {};
  for (const g of ATTRIBUTE_GROUPS) {
    const set: string[] = [];
    for (let i = 0; i < g.values.length; i++) {
      const bit = v[g.offset + i]!;
      if (bit > 1) throw new RangeError(`expected 0 or 1 at attribute ${g.offset + i}, got ${bit}`);
      if (bit === 1) set.push(g.values[i]!);
    }
    if (g.single) {
      if (set.length !== 1) throw new RangeError(`expected exactly one ${g.group} value, got ${set.length}`);
      out[g.field] = set[0]!;
    } else {
      out[g.field] = set;
    }
  }
  return out as unknown as UserProfile;
}

/**
 * Contribution bound for the cohort profile's differential privacy: a user's encrypted
 * vector counts at most MAX_COUNTED_INTERESTS interests (the first ones in schema order;
 * the rest are dropped from the profile only — scoring uses the full vector). With the five
 * single-valued groups, one user changes the totals vector by at most CONTRIBUTION_L1 in L1
 * norm: the sensitivity the noise is calibrated to (protocol/policy.ts).
 */
export const MAX_COUNTED_INTERESTS = 10;
export const CONTRIBUTION_L1 = ATTRIBUTE_GROUPS.filter((g) => g.single).length + MAX_COUNTED_INTERESTS;

const INTEREST_GROUP = ATTRIBUTE_GROUPS.find((g) => !g.single)!;

/** The vector as it enters the profile: at most MAX_COUNTED_INTERESTS interests kept. A copy. */
export function clipContribution(v: Uint8Array): Uint8Array {
  return clipContributionInPlace(v.slice());
}

/** clipContribution on `v` itself (no copy: media's publication clips each user in one reused buffer); returns v. */
export function clipContributionInPlace(v: Uint8Array): Uint8Array {
  let kept = 0;
  for (let i = INTEREST_GROUP.offset; i < INTEREST_GROUP.offset + INTEREST_GROUP.values.length; i++) {
    if (v[i] === 1 && ++kept > MAX_COUNTED_INTERESTS) v[i] = 0;
  }
  return v;
}
