/**
 * The one definition of media's per-user label (the lookup kind's payload): a leads score
 * and a small member record, encoded in exactly LABEL_BYTES bytes whatever the values, so
 * that a label's size says nothing about its content.
 *
 * Layout (LABEL_BYTES = 16): [0] format version (1), [1] leads score 0–100, [2] tier,
 * [3] last-active band, [4] tenure band, [5..15] zero padding. Decoding refuses any other
 * version, out-of-range value or non-zero padding.
 */
import { LABEL_BYTES } from '../crypto/label-box.ts';

export const LABEL_FORMAT = 1;
export const TIERS = ['none', 'silver', 'gold', 'platinum'] as const;
export const LAST_ACTIVE = ['7d', '30d', '90d', 'older'] as const;
export const TENURES = ['<1y', '1-3y', '3-5y', '5y+'] as const;

export interface Label {
  /** Leads score, an integer in [0, 100]. */
  leadsScore: number;
  tier: (typeof TIERS)[number];
  lastActive: (typeof LAST_ACTIVE)[number];
  tenure: (typeof TENURES)[number];
}

/** The CSV columns of a label, in order (data/labels.ts, the lookup result). */
export const LABEL_COLUMNS = ['leads_score', 'tier', 'last_active', 'tenure'] as const;

function indexIn(list: readonly string[], v: string, field: string): number {
  const i = list.indexOf(v);
  if (i < 0) throw new RangeError(`expected ${field} one of ${list.join('|')}, got '${String(v).slice(0, 40)}'`);
  return i;
}

export function encodeLabel(l: Label): Uint8Array {
  if (!Number.isInteger(l.leadsScore) || l.leadsScore < 0 || l.leadsScore > 100) throw new RangeError(`expected leadsScore an integer in [0, 100], got ${l.leadsScore}`);
  const out = new Uint8Array(LABEL_BYTES);
  out[0] = LABEL_FORMAT;
  out[1] = l.leadsScore;
  out[2] = indexIn(TIERS, l.tier, 'tier');
  out[3] = indexIn(LAST_ACTIVE, l.lastActive, 'lastActive');
  out[4] = indexIn(TENURES, l.tenure, 'tenure');
  return out;
}

export function decodeLabel(b: Uint8Array): Label {
  if (b.length !== LABEL_BYTES) throw new RangeError(`expected a ${LABEL_BYTES}-byte label, got ${b.length}`);
  if (b[0] !== LABEL_FORMAT) throw new RangeError(`expected label format ${LABEL_FORMAT}, got ${b[0]}`);
  if (b[1]! > 100) throw new RangeError(`expected a leads score in [0, 100], got ${b[1]}`);
  for (let i = 5; i < LABEL_BYTES; i++) if (b[i] !== 0) throw new RangeError(`expected zero padding at label byte ${i}`);
  const pick = <T extends readonly string[]>(list: T, v: number, field: string): T[number] => {
    const x = list[v];
    if (x === undefined) throw new RangeError(`expected a ${field} index below ${list.length}, got ${v}`);
    return x;
  };
  return { leadsScore: b[1]!, tier: pick(TIERS, b[2]!, 'tier'), lastActive: pick(LAST_ACTIVE, b[3]!, 'last-active band'), tenure: pick(TENURES, b[4]!, 'tenure') };
}

/** A label as CSV fields in LABEL_COLUMNS order. */
export function labelFields(l: Label): string[] {
  return [String(l.leadsScore), l.tier, l.lastActive, l.tenure];
}
