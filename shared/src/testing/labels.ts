/**
 * Tests only: media's label publication for a test world (labels.csv written by the
 * generator), memoised per publication, and the ground truth a lookup must return.
 */
import { join } from 'node:path';
import { normalizeId } from '../common/ids.ts';
import { encodeLabel, type Label } from '../common/labels.ts';
import { readLabels, type LabelRow } from '../data/labels.ts';
import type { UniverseRow } from '../data/files.ts';
import { publishLabels, type LabelPublication } from '../protocol/label-publication.ts';
import type { IdType } from '../protocol/messages.ts';
import { computePoints } from '../crypto/oprf-tokens.ts';
import { oprfDst } from '../crypto/h2c.ts';
import type { Publication } from '../protocol/publication.ts';
import type { PreparedUniverse } from '../protocol/universe.ts';

const cache = new WeakMap<object, Promise<{ labels: LabelPublication; rows: Map<string, LabelRow> }>>();

export function testLabels(w: { dir: string; users: readonly UniverseRow[]; universe: PreparedUniverse; publication: Publication }): Promise<{ labels: LabelPublication; rows: Map<string, LabelRow> }> {
  let p = cache.get(w.publication);
  if (!p) {
    p = (async () => {
      const rows = await readLabels(join(w.dir, 'media', 'labels.csv'));
      const phoneOf = new Map<string, string>();
      const shares = new Set<string>();
      for (const u of w.users) {
        const n = normalizeId('phone', u.phone);
        if (n.ok) phoneOf.set(u.userId, n.value);
        if (u.consentShare) shares.add(u.userId);
      }
      const idOf = (row: number, t: IdType) => (t === 'phone' ? phoneOf.get(w.universe.userIds[row]!) : undefined);
      const enc = new TextEncoder();
      const { labels } = await publishLabels(w.publication, {
        order: w.publication.order,
        idOf,
        // the in-memory universe keeps no points: computed here (media's node reads the ones it stored)
        pointOf: (row, t) => {
          const id = idOf(row, t);
          return id === undefined ? undefined : computePoints(w.universe.key, [enc.encode(id)], oprfDst(t, w.universe.epoch))[0];
        },
        labelOf: (row) => {
          const id = w.universe.userIds[row]!;
          const r = rows.get(id);
          return r ? { label: encodeLabel(r.label), consentShare: shares.has(id) } : undefined;
        },
      });
      return { labels, rows };
    })();
    cache.set(w.publication, p);
  }
  return p;
}

/**
 * Ground truth of a phone lookup: normalised phone → the label A must receive, for every
 * media user in the publication (look-alike consent) who consented to data sharing.
 */
export function expectedLabels(users: readonly UniverseRow[], rows: ReadonlyMap<string, LabelRow>): Map<string, Label> {
  const out = new Map<string, Label>();
  for (const u of users) {
    if (!u.consent) continue;
    const n = normalizeId('phone', u.phone);
    const r = rows.get(u.userId);
    if (n.ok && r && u.consentShare) out.set(n.value, r.label);
  }
  return out;
}
