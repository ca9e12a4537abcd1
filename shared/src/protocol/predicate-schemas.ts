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
