/**
 * Media's labels joined to its universe rows on disk, for the label publication
 * (label-store.ts): per row, its label (labels CSV, by user_id) and its normalised IDs (the
 * universe CSV) — without a map or a string per user in memory, so that memory does not grow
 * with the universe. The IDs come from the CSV, not from the prepared universe, which keeps
 * their OPRF points (universe-points.ts) but no phone number or e-mail: one streamed pass
 * (I/O and parsing, no OPRF work) instead of a copy of every ID at rest in the state
 * directory, and the pass checks the CSV's consented rows are still the prepared ones.
 *
 *   1. the labels CSV streams once: (SHA-256(user_id)[0..16], label) records are spilled to
 *      BUCKETS files by the hash's first byte;
 *   2. the universe CSV streams once: its consented rows are the prepared universe's rows in
 *      order (universe-files.ts, pass 1), checked against users.bin batch by batch; each row
 *      with consent_share writes its normalised IDs (ids-<t>.bin, offsets in ids-<t>.off) and
 *      spills (hash, row) by the hash's first byte;
 *   3. per bucket (one in memory at a time): both sides sorted by hash and merged; a matched
 *      row's label goes to label-rows.bin at row · ROW_LABEL (flag 1 | label).
 * Reading (labelOf, idOf) is a pread or two per call. Peak memory: one bucket and write buffers.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { SHA256_BYTES, sha256Into } from '@cleanroom/shared/crypto/digest-into.ts';
import { encodeLabel } from '@cleanroom/shared/common/labels.ts';
import { LABEL_BYTES, type LabelBytes } from '@cleanroom/shared/crypto/label-box.ts';
import { readLabelRows } from '@cleanroom/shared/data/labels.ts';
import { readUniverse, type UniverseRow } from '@cleanroom/shared/data/files.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import type { Universe } from '@cleanroom/shared/protocol/universe.ts';
import { Appender, BucketScratch, BUCKETS, compareBytes, preadFully } from '@cleanroom/shared/service/record-file.ts';

const KEY = 16;
const LAB_RECORD = KEY + LABEL_BYTES;
const ROW_RECORD = KEY + 4;
const ROW_LABEL = 1 + LABEL_BYTES;
/** Universe rows whose user ids are checked against users.bin at once. */
const CHECK_BATCH = 8192;

const keyEncoder = new TextEncoder();
let keyInput = new Uint8Array(256);
const keyDigest = new Uint8Array(SHA256_BYTES);

/** SHA-256(user_id)[0..KEY] in a scratch the caller copies before the next call (libsodium's, into reused buffers: no Buffer per user). */
function keyOf(userId: string): Uint8Array {
  // UTF-8 is at most 3 bytes per UTF-16 unit
  if (keyInput.length < userId.length * 3) keyInput = new Uint8Array(userId.length * 3);
  const { written } = keyEncoder.encodeInto(userId, keyInput);
  return sha256Into(keyDigest, keyInput.subarray(0, written)).subarray(0, KEY);
}

export class JoinedLabels {
  private readonly labelFd: number;
  private readonly ids = new Map<IdType, { bytes: number; offsets: number }>();
  private readonly size: number;
  private readonly dec = new TextDecoder();
  private readonly rec = new Uint8Array(ROW_LABEL);
  private readonly off = new Float64Array(2);

  constructor(dir: string, size: number, types: readonly IdType[]) {
    this.size = size;
    this.labelFd = openSync(join(dir, 'label-rows.bin'), 'r');
    for (const t of types) this.ids.set(t, { bytes: openSync(join(dir, `ids-${t}.bin`), 'r'), offsets: openSync(join(dir, `ids-${t}.off`), 'r') });
  }

  /** The encoded label of `row`, or undefined (no label in the CSV, or no consent_share: nothing was joined). */
  labelOf(row: number): LabelBytes | undefined {
    if (!Number.isInteger(row) || row < 0 || row >= this.size) throw new RangeError(`expected a row in [0, ${this.size}), got ${row}`);
    preadFully(this.labelFd, this.rec, row * ROW_LABEL, 'label-rows.bin');
    return this.rec[0] === 1 ? this.rec.slice(1) : undefined;
  }

  /** The normalised `type` ID of `row` (rows with consent_share only), or undefined. */
  idOf(row: number, type: IdType): string | undefined {
    const f = this.ids.get(type);
    if (!f || !Number.isInteger(row) || row < 0 || row >= this.size) return undefined;
    preadFully(f.offsets, new Uint8Array(this.off.buffer), row * 8, `ids-${type}.off`);
    const start = this.off[0]!;
    const stop = this.off[1]!;
    if (stop === start) return undefined;
    return this.dec.decode(preadFully(f.bytes, new Uint8Array(stop - start), start, `ids-${type}.bin`));
  }

  close(): void {
    closeSync(this.labelFd);
    for (const f of this.ids.values()) {
      closeSync(f.bytes);
      closeSync(f.offsets);
    }
  }
}

/** The rows of the universe's files (a split source has several: universe-source.ts), in order, as one CSV. */
async function* readUniverseFiles(files: readonly string[]): AsyncGenerator<UniverseRow> {
  for (const f of files) yield* readUniverse(f);
}

/**
 * Joins the labels CSV to the universe's rows in `dir` (a scratch directory the caller
 * removes). `share[row]` = consent_share; only those rows get IDs and labels.
 * Throws when the universe CSV's consented rows are not the prepared universe's rows, or a
 * user_id appears twice in the labels CSV.
 */
export async function joinLabels(dir: string, o: {
  labelsCsv: string; universeFiles: readonly string[]; universe: Universe; share: Uint8Array; types: readonly IdType[];
}): Promise<JoinedLabels> {
  const u = o.universe;
  const lab = Array.from({ length: BUCKETS }, (_, b) => new Appender(join(dir, `lab-${b}`), 4096));
  const rec = new Uint8Array(LAB_RECORD);
  for await (const r of readLabelRows(o.labelsCsv)) {
    const k = keyOf(r.userId);
    rec.set(k, 0);
    rec.set(encodeLabel(r.label), KEY);
    lab[k[0]!]!.write(rec);
  }
  for (const a of lab) a.close();

  const spill = Array.from({ length: BUCKETS }, (_, b) => new Appender(join(dir, `row-${b}`), 4096));
  const ids = new Map(o.types.map((t) => [t, { bytes: new Appender(join(dir, `ids-${t}.bin`)), offsets: new Appender(join(dir, `ids-${t}.off`)) }]));
  const off = new Float64Array(1);
  const offBytes = new Uint8Array(off.buffer);
  for (const f of ids.values()) f.offsets.write(offBytes);
  const rowRec = new Uint8Array(ROW_RECORD);
  const rowView = new DataView(rowRec.buffer);
  let row = 0;
  let pending: string[] = [];
  const check = (): void => {
    const want = u.userIdsOf(Uint32Array.from({ length: pending.length }, (_, i) => row - pending.length + i));
    pending.forEach((id, i) => {
      if (want[i] !== id) throw new Error(`the universe CSV's consented row ${row - pending.length + i} is user '${id.slice(0, 64)}', the prepared universe has '${String(want[i]).slice(0, 64)}': prepare it again`);
    });
    pending = [];
  };
  for await (const r of readUniverseFiles(o.universeFiles)) {
    if (!r.consent) continue; // the prepared universe's rows are the consented rows in order
    if (row >= u.size) throw new Error(`the universe CSV has more consented rows than the ${u.size} prepared: prepare it again`);
    pending.push(r.userId);
    const shared = o.share[row] === 1;
    for (const [t, f] of ids) {
      if (shared) {
        const n = normalizeId(t, t === 'phone' ? r.phone : t === 'email' ? r.email : r.deviceId);
        if (n.ok) f.bytes.writeUtf8(n.value);
      }
      off[0] = f.bytes.size;
      f.offsets.write(offBytes);
    }
    if (shared) {
      const k = keyOf(r.userId);
      rowRec.set(k, 0);
      rowView.setUint32(KEY, row, true);
      spill[k[0]!]!.write(rowRec);
    }
    row++;
    if (pending.length === CHECK_BATCH) check();
  }
  check();
  if (row !== u.size) throw new Error(`the universe CSV has ${row} consented rows, the prepared universe ${u.size}: prepare it again`);
  for (const a of spill) a.close();
  for (const f of ids.values()) {
    f.bytes.close();
    f.offsets.close();
  }

  const fd = openSync(join(dir, 'label-rows.bin'), 'w+');
  try {
    ftruncateSync(fd, u.size * ROW_LABEL);
    const out = new Uint8Array(ROW_LABEL);
    out[0] = 1;
    // two buckets held at once (labels, rows): two scratches of reused buffers
    const labScratch = new BucketScratch();
    const rowScratch = new BucketScratch();
    for (let b = 0; b < BUCKETS; b++) {
      const l = labScratch.read(join(dir, `lab-${b}`));
      const ln = l.length / LAB_RECORD;
      const lo = labScratch.sort(l, LAB_RECORD, ln, KEY, () => 0);
      for (let i = 1; i < ln; i++) {
        if (compareBytes(l, lo[i - 1]! * LAB_RECORD, l, lo[i]! * LAB_RECORD, KEY) === 0) throw new Error(`${o.labelsCsv}: a user_id appears twice`);
      }
      const s = rowScratch.read(join(dir, `row-${b}`));
      const sn = s.length / ROW_RECORD;
      const sv = new DataView(s.buffer, s.byteOffset);
      const so = rowScratch.sort(s, ROW_RECORD, sn, KEY, () => 0);
      let i = 0;
      for (let j = 0; j < sn; j++) {
        const at = so[j]! * ROW_RECORD;
        while (i < ln && compareBytes(l, lo[i]! * LAB_RECORD, s, at, KEY) < 0) i++;
        if (i < ln && compareBytes(l, lo[i]! * LAB_RECORD, s, at, KEY) === 0) {
          out.set(l.subarray(lo[i]! * LAB_RECORD + KEY, (lo[i]! + 1) * LAB_RECORD), 1);
          writeSync(fd, out, 0, ROW_LABEL, sv.getUint32(at + KEY, true) * ROW_LABEL);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return new JoinedLabels(dir, u.size, o.types);
}
