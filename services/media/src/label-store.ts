/**
 * The media node's label publication on disk (lookup kind): <stateDir>/publication/<version>/
 * labels/ holds the sealed boxes per ID type and a manifest naming the labels CSV they were
 * made from (SHA-256). Reused on start when the publication and the CSV are unchanged;
 * otherwise made again (protocol/label-publication.ts) — fresh nonces, a new labels version,
 * and the broker re-syncs. Media's plaintext labels (CLEANROOM_LABELS) never leave media.
 *
 * The IDs a box is sealed to are read again from the universe CSV (the prepared universe keeps
 * no phone number or e-mail: tokens, id hashes and OPRF points only), for the users who
 * consented to data sharing (consent_share, `share` per universe row:
 * services/media/src/purposes.ts); everyone else gets random bytes. Each box's key comes from
 * the OPRF point the preparation stored for its row (universe-points.ts, DiskUniverse.pointOf):
 * no hash to group or X25519 here, so a label refresh costs a CSV pass, reads and symmetric
 * crypto per box, not an OPRF evaluation per user; the point is checked against the published
 * token before a box is sealed with it (a corrupt points file fails the publication). The
 * labels and IDs are joined to the rows on disk (label-join.ts) and the boxes written to their
 * files as they are sealed and served from there (service/label-file.ts): no map, string or
 * box per user stays in memory.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeStaleTemps } from '@cleanroom/shared/service/temp-dirs.ts';
import { labelsVersion, publishLabels, type LabelPublication, type LabelSink } from '@cleanroom/shared/protocol/label-publication.ts';
import type { Publication } from '@cleanroom/shared/protocol/publication.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import { progressGate, type Logger } from '@cleanroom/shared/service/log.ts';
import { LABEL_BOX_BYTES } from '@cleanroom/shared/crypto/label-box.ts';
import { LabelFile, LabelFileWriter } from '@cleanroom/shared/service/label-file.ts';
import { joinLabels } from './label-join.ts';
import type { DiskUniverse } from './universe-files.ts';
import { fileSha256 } from './universe-source.ts';

interface Manifest {
  epoch: string;
  publicationVersion: string;
  version: string;
  labelsSha256: string;
  idTypes: IdType[];
  labelled: Record<string, number>;
  seconds: number;
}

export async function openLabels(opts: {
  stateDir: string; labelsCsv: string; share: Uint8Array; universeFiles: readonly string[]; universe: DiskUniverse; publication: Publication; log: Logger;
}): Promise<{ labels: LabelPublication; reused: boolean; seconds: number; cpuSeconds: number; labelled: Record<string, number>; bytes: number }> {
  const pub = opts.publication;
  const dir = join(opts.stateDir, 'publication', pub.version, 'labels');
  // the labels CSV and everyone's consent_share: a change in either makes new boxes
  const sha = createHash('sha256').update(await fileSha256(opts.labelsCsv)).update(opts.share).digest('hex');
  const mf = join(dir, 'manifest.json');
  if (existsSync(mf)) {
    const m = JSON.parse(readFileSync(mf, 'utf8')) as Manifest;
    if (m.labelsSha256 === sha && m.publicationVersion === pub.version) {
      const boxes = new Map<IdType, LabelFile>(m.idTypes.map((t) => [t, new LabelFile(dir, t)]));
      if (labelsVersion(m.epoch, pub.version, boxes) === m.version) {
        opts.log.info({ version: m.version.slice(0, 12) }, 'label publication reused');
        const bytes = [...boxes.values()].reduce((a, b) => a + b.count * LABEL_BOX_BYTES, 0);
        return { labels: { epoch: m.epoch, publicationVersion: pub.version, version: m.version, boxes }, reused: true, seconds: 0, cpuSeconds: 0, labelled: m.labelled, bytes };
      }
      for (const f of boxes.values()) f.close();
    }
  }
  // the process's CPU (all threads) from the join to the installed files; nothing else runs
  // meanwhile — media serves gRPC only once its start-up stages are done (main.ts)
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const types = [...pub.tokens.keys()];
  const tmp = `${dir}.tmp-${process.pid}`;
  removeStaleTemps(dirname(dir), 'labels'); // what a stopped process left half-made
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'join'), { recursive: true });
  const joined = await joinLabels(join(tmp, 'join'), { labelsCsv: opts.labelsCsv, universeFiles: opts.universeFiles, universe: opts.universe, share: opts.share, types });
  const files = new Map<IdType, LabelFileWriter>();
  const made: LabelFile[] = [];
  const sink: LabelSink = {
    append(idType, b) {
      let f = files.get(idType);
      if (!f) {
        f = new LabelFileWriter(tmp, idType);
        files.set(idType, f);
      }
      f.write(b);
    },
    finish(idType) {
      const f = files.get(idType) ?? new LabelFileWriter(tmp, idType);
      f.close();
      const boxes = new LabelFile(tmp, idType);
      made.push(boxes);
      return boxes;
    },
  };
  let published;
  const due = progressGate();
  try {
    published = await publishLabels(pub, {
      order: pub.order,
      idOf: (row, t) => joined.idOf(row, t),
      pointOf: (row, t) => opts.universe.pointOf(t, row), // stored at preparation: never recomputed
      labelOf: (row) => {
        const label = joined.labelOf(row);
        return label ? { label, consentShare: opts.share[row] === 1 } : undefined;
      },
    }, {
      sink,
      // a line every 5 s (10^7 users: a symmetric seal and a few reads per box, on this thread)
      onProgress: (done, total) => {
        if (due()) opts.log.info({ done, total }, 'sealing the labels for publication');
      },
    });
  } catch (err) {
    for (const f of files.values()) f.abandon();
    rmSync(tmp, { recursive: true, force: true }); // nothing half-made is left, nor installed
    throw err;
  } finally {
    joined.close();
    for (const f of made) f.close();
  }
  const { labels, stats } = published;
  rmSync(join(tmp, 'join'), { recursive: true, force: true });
  const manifest: Manifest = { epoch: labels.epoch, publicationVersion: pub.version, version: labels.version, labelsSha256: sha, idTypes: types, labelled: stats.labelled, seconds: (performance.now() - t0) / 1000 };
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  // served from the installed files, read on demand
  const boxes = new Map<IdType, LabelFile>(types.map((t) => [t, new LabelFile(dir, t)]));
  const bytes = [...boxes.values()].reduce((a, b) => a + b.count * LABEL_BOX_BYTES, 0);
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  opts.log.info({ version: labels.version.slice(0, 12), labelled: stats.labelled, bytes, seconds: Math.round(seconds * 10) / 10, cpuSeconds: Math.round(cpuSeconds * 10) / 10 }, 'labels published beside the tokens');
  return { labels: { ...labels, boxes }, reused: false, seconds, cpuSeconds, labelled: stats.labelled, bytes };
}
