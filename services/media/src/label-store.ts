/**
 * The media node's label publication on disk (lookup kind): <stateDir>/publication/<version>/
 * labels/ holds the sealed boxes per ID type and a manifest naming the labels CSV they were
 * made from (SHA-256). Reused on start when the publication and the CSV are unchanged;
 * otherwise made again (protocol/label-publication.ts) — fresh nonces, a new labels version,
 * and the broker re-syncs. Media's plaintext labels (CLEANROOM_LABELS) never leave media.
 *
 * The IDs a box is sealed to are read again from the universe CSV (the prepared universe keeps
 * tokens only), for the users who consented to data sharing (consent_share, `share` per
 * universe row: services/media/src/purposes.ts); everyone else gets random bytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { encodeLabel } from '@cleanroom/shared/common/labels.ts';
import { readLabels } from '@cleanroom/shared/data/labels.ts';
import { readUniverse } from '@cleanroom/shared/data/files.ts';
import { labelsVersion, publishLabels, type LabelPublication } from '@cleanroom/shared/protocol/label-publication.ts';
import type { Publication } from '@cleanroom/shared/protocol/publication.ts';
import type { Universe } from '@cleanroom/shared/protocol/universe.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import type { Logger } from '@cleanroom/shared/service/log.ts';

interface Manifest {
  epoch: string;
  publicationVersion: string;
  version: string;
  labelsSha256: string;
  idTypes: IdType[];
  labelled: Record<string, number>;
  seconds: number;
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function openLabels(opts: {
  stateDir: string; labelsCsv: string; share: Uint8Array; universeCsv: string; universe: Universe; publication: Publication; threads: number; log: Logger;
}): Promise<{ labels: LabelPublication; reused: boolean; seconds: number; labelled: Record<string, number>; bytes: number }> {
  const pub = opts.publication;
  const dir = join(opts.stateDir, 'publication', pub.version, 'labels');
  // the labels CSV and everyone's consent_share: a change in either makes new boxes
  const sha = createHash('sha256').update(await fileSha256(opts.labelsCsv)).update(opts.share).digest('hex');
  const mf = join(dir, 'manifest.json');
  if (existsSync(mf)) {
    const m = JSON.parse(readFileSync(mf, 'utf8')) as Manifest;
    if (m.labelsSha256 === sha && m.publicationVersion === pub.version) {
      const boxes = new Map<IdType, Uint8Array>();
      for (const t of m.idTypes) boxes.set(t, new Uint8Array(readFileSync(join(dir, `labels-${t}.bin`))));
      if (labelsVersion(m.epoch, pub.version, boxes) === m.version) {
        opts.log.info({ version: m.version.slice(0, 12) }, 'label publication reused');
        const bytes = [...boxes.values()].reduce((a, b) => a + b.length, 0);
        return { labels: { epoch: m.epoch, publicationVersion: pub.version, version: m.version, boxes }, reused: true, seconds: 0, labelled: m.labelled, bytes };
      }
    }
  }
  const rows = await readLabels(opts.labelsCsv);
  const want = new Set<string>();
  for (let row = 0; row < opts.universe.size; row++) if (opts.share[row] === 1) want.add(opts.universe.userId(row));
  const types = [...pub.tokens.keys()];
  const ids = new Map<string, Partial<Record<IdType, string>>>();
  for await (const r of readUniverse(opts.universeCsv)) {
    if (!want.has(r.userId)) continue;
    const e: Partial<Record<IdType, string>> = {};
    for (const t of types) {
      const n = normalizeId(t, t === 'phone' ? r.phone : t === 'email' ? r.email : r.deviceId);
      if (n.ok) e[t] = n.value;
    }
    ids.set(r.userId, e);
  }
  const { labels, stats } = await publishLabels(pub, opts.universe.key, {
    order: pub.order,
    idOf: (row, t) => ids.get(opts.universe.userId(row))?.[t],
    labelOf: (row) => {
      const r = rows.get(opts.universe.userId(row));
      return r ? { label: encodeLabel(r.label), consentShare: opts.share[row] === 1 } : undefined;
    },
  }, { threads: opts.threads });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [t, b] of labels.boxes) writeFileSync(join(tmp, `labels-${t}.bin`), b);
  const manifest: Manifest = { epoch: labels.epoch, publicationVersion: pub.version, version: labels.version, labelsSha256: sha, idTypes: types, labelled: stats.labelled, seconds: stats.seconds };
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  const bytes = [...labels.boxes.values()].reduce((a, b) => a + b.length, 0);
  opts.log.info({ version: labels.version.slice(0, 12), labelled: stats.labelled, bytes, seconds: Math.round(stats.seconds * 10) / 10 }, 'labels published beside the tokens');
  return { labels, reused: false, seconds: stats.seconds, labelled: stats.labelled, bytes };
}
