/**
 * The lookup kind's result as CSV (RFC 4180, '\n' line ends): one line per valid ID the
 * advertiser looked up, in its input order — the normalised ID, whether a label came back,
 * and the label's columns (empty when none: not a media user, or no data-sharing consent;
 * the two are indistinguishable by design). Only A's own IDs appear.
 */
import { LABEL_COLUMNS, labelFields } from '../common/labels.ts';
import type { LookupRow } from '../protocol/lookup.ts';

export const LOOKUP_CSV_HEADER = ['id', 'labelled', ...LABEL_COLUMNS].join(',');

function field(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function lookupCsv(rows: readonly LookupRow[]): string {
  const lines = [...rows].sort((a, b) => a.index - b.index).map((r) =>
    [field(r.id), r.label ? '1' : '0', ...(r.label ? labelFields(r.label) : LABEL_COLUMNS.map(() => ''))].join(','));
  return [LOOKUP_CSV_HEADER, ...lines].join('\n') + '\n';
}
