/**
 * The two predicate schemas (protocol/predicate.ts) and their record readers:
 *   - advertiser: first-party tags of a CRM row (data/format.ts CRM_TAG_FIELDS), key "tag";
 *   - media: the attribute groups of common/attributes.ts (age, gender, city, os, activity,
 *     interest — the last multi-valued), key "attr", read from a user's packed vector.
 * Each party compiles only its own: the advertiser never sees media's schema applied to data,
 * media never sees a tag.
 */
import { ATTRIBUTE_GROUPS } from '../common/attributes.ts';
import { CRM_TAG_FIELDS, type CrmTags } from '../data/format.ts';
import { compilePredicate, type CompiledPredicate, type FieldReader, type FieldSpec, type PredicateSchema } from './predicate.ts';

export const ADVERTISER_SCHEMA: PredicateSchema = Object.freeze({ key: 'tag', noun: 'advertiser tag', fields: CRM_TAG_FIELDS });

export const MEDIA_SCHEMA: PredicateSchema = Object.freeze({
  key: 'attr',
  noun: 'media attribute',
  fields: Object.fromEntries(ATTRIBUTE_GROUPS.map((g): [string, FieldSpec] => [g.group, { type: 'enum', values: g.values, multi: !g.single }])),
});

export function compileAdvertiserPredicate(p: unknown): CompiledPredicate {
  return compilePredicate(p, ADVERTISER_SCHEMA);
}

export function compileMediaPredicate(p: unknown): CompiledPredicate {
  return compilePredicate(p, MEDIA_SCHEMA);
}

const NO_TAGS: CrmTags = { purchaser: false, rfm: '', visited_90d: false, purchased_90d: false, cart_abandoned: false, orders_12m: 0, member_tier: 'none' };

/** A CRM row's tags as a predicate reads them (a row without tags has none set). */
export function tagReader(tags: CrmTags | undefined): FieldReader {
  const t = tags ?? NO_TAGS;
  return (field) => t[field as keyof CrmTags];
}

/** A user's attributes as a predicate reads them, from the packed vector (8 bytes, bit j = attribute j). */
export function packedReader(packed: Uint8Array, offset: number): FieldReader {
  const bit = (j: number): boolean => ((packed[offset + (j >> 3)]! >> (j & 7)) & 1) === 1;
  return (field) => {
    const g = ATTRIBUTE_GROUPS.find((x) => x.group === field);
    if (!g) return '';
    const on = g.values.filter((_, i) => bit(g.offset + i));
    return g.single ? (on[0] ?? '') : on;
  };
}

/** Most attribute bits a memoised media predicate (packedPredicateTest) keys its verdicts on: a table of 2^20 bytes. */
const MEMO_BITS = 20;

/**
 * A media predicate as a test of one user's packed vector (`packed` at `offset`), with the
 * verdict memoised on the bits it can read: packedReader reads, for a field, only the bits of
 * that field's attribute group, so the predicate's value is a function of the bits of the
 * groups in `compiled.fields`. Those bits, gathered into a key (one table lookup per packed
 * byte), index a table of verdicts; each distinct key is evaluated once, with compiled.test on
 * the first user that has it — the verdict evaluating every user gives, at one evaluation per
 * distinct key instead of per user. Above MEMO_BITS bits it evaluates every user. One memo per
 * call: use it for one pass (a session's selection).
 */
export function packedPredicateTest(compiled: CompiledPredicate): (packed: Uint8Array, offset: number) => boolean {
  const bits: number[] = [];
  for (const g of ATTRIBUTE_GROUPS) if (compiled.fields.has(g.group)) for (let i = 0; i < g.values.length; i++) bits.push(g.offset + i);
  if (bits.length > MEMO_BITS) return (packed, offset) => compiled.test(packedReader(packed, offset));
  const bytes = [...new Set(bits.map((j) => j >> 3))];
  // gather[k·256 + v]: the key bits of byte value v at packed byte bytes[k].
  const gather = new Uint32Array(bytes.length * 256);
  bits.forEach((j, keyBit) => {
    const k = bytes.indexOf(j >> 3);
    for (let v = 0; v < 256; v++) if ((v >> (j & 7)) & 1) gather[k * 256 + v]! |= 1 << keyBit;
  });
  const memo = new Uint8Array(1 << bits.length); // 0: not evaluated yet, 1: false, 2: true
  return (packed, offset) => {
    let key = 0;
    for (let k = 0; k < bytes.length; k++) key |= gather[k * 256 + packed[offset + bytes[k]!]!]!;
    let verdict = memo[key]!;
    if (verdict === 0) memo[key] = verdict = compiled.test(packedReader(packed, offset)) ? 2 : 1;
    return verdict === 2;
  };
}
