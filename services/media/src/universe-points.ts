/**
 * Media's stored OPRF points: per ID type, points-<t>.bin in the prepared universe directory
 * (universe-files.ts) holds POINT_BYTES (32) per universe row, in row order — the unblinded OPRF
 * point X25519(k, H_dst(id)) of that row's normalised ID, which its token was finalised from
 * (token = finalize(id, point), crypto/oprf.ts) and its label key is derived from
 * (labelKey(id, point), crypto/label-box.ts) — or 32 zero bytes when the row has no ID of that
 * type (no point is zero: X25519 of a non-low-order point never gives 0).
 *
 * Written by the preparation from the token workers' own evaluation (crypto/oprf-tokens.ts: no
 * extra hash to group or X25519): in row order as the CSV streams (PointsWriter) or, when points
 * come in another order (an incremental preparation's new IDs, by id hash), spilled by row range
 * and written in row order (PointsScatter); the IDs it reuses take their point from the previous
 * preparation's file, read one row range at a time (PreviousPoints). Memory: one row range
 * (rows / BUCKETS points) and write buffers, whatever the universe's size.
 * Read by the label publication (label-store.ts) a row at a time (PointsFile.pointOf), so that it
 * never hashes to the group or exponentiates again.
 *
 * Guarantees: a points file is exactly users × POINT_BYTES long (checked on open); pointOf
 * returns no zero marker. A wrong point is not detected here: the label publication checks
 * finalize(id, point) against the published token before it seals a box, and fails if they differ.
 *
 * Security — points at rest: a point and a guessed ID confirm the guess against the token table
 * (finalize(guess, point) = token) and give that user's label key. Media's OPRF key sits in the
 * same state directory (key.bin beside these files, and <state>/universe/<epoch>.key, mode 0600):
 * whoever reads a points file can read the key and compute the point of any guess, so stored
 * points add no exposure beyond the key's. They are written mode 0600, as the key is.
 */
import { closeSync, fstatSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ELEMENT_BYTES, type ElementBytes } from '@cleanroom/shared/crypto/group.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import { Appender, BucketScratch, BUCKETS, preadFully } from '@cleanroom/shared/service/record-file.ts';

/** Bytes of one stored point (an X25519 u-coordinate). */
export const POINT_BYTES = ELEMENT_BYTES;
/** Secret state: owner read/write only, as the OPRF key. */
const SECRET_MODE = 0o600;
const ZEROS = new Uint8Array(POINT_BYTES * 256);

/** The points file of ID type `type` in prepared directory `dir`. */
export function pointsPath(dir: string, type: IdType): string {
  return join(dir, `points-${type}.bin`);
}

function isZero(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < POINT_BYTES; i++) if (b[at + i] !== 0) return false;
  return true;
}

/** Opens `path` for reading, checked to hold exactly `users` points. */
function openPoints(path: string, users: number): number {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  if (size !== users * POINT_BYTES) {
    closeSync(fd);
    throw new RangeError(`${path}: expected ${users * POINT_BYTES} bytes (${users} points of ${POINT_BYTES}), got ${size}`);
  }
  return fd;
}

/** One ID type's stored points, read a row at a time. */
export class PointsFile {
  readonly users: number;
  private readonly fd: number;
  private readonly path: string;

  /** Throws when the file is missing or not `users` points long. */
  constructor(path: string, users: number) {
    this.path = path;
    this.users = users;
    this.fd = openPoints(path, users);
  }

  /** The stored point of `row`, or undefined when the row has no ID of this type. */
  pointOf(row: number): ElementBytes | undefined {
    if (!Number.isInteger(row) || row < 0 || row >= this.users) throw new RangeError(`expected a row in [0, ${this.users}), got ${row}`);
    const p = preadFully(this.fd, new Uint8Array(POINT_BYTES), row * POINT_BYTES, this.path);
    return isZero(p, 0) ? undefined : p;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Writes a points file from points given in ascending row order; rows skipped get the zero marker. */
export class PointsWriter {
  private readonly out: Appender;
  private next = 0;

  constructor(path: string) {
    this.out = new Appender(path, 1 << 16, SECRET_MODE);
  }

  /** The point of `row` is points[at, at + POINT_BYTES); rows strictly ascending. */
  put(row: number, points: Uint8Array, at: number): void {
    if (row < this.next) throw new RangeError(`expected points in ascending row order, got row ${row} after ${this.next - 1}`);
    this.zeros(row - this.next);
    this.out.append(points, at, POINT_BYTES);
    this.next = row + 1;
  }

  /** Zero markers up to `rows` rows in all, then closes. */
  close(rows: number): void {
    if (rows < this.next) throw new RangeError(`expected at least ${this.next} rows, got ${rows}`);
    this.zeros(rows - this.next);
    this.next = rows;
    this.out.close();
  }

  private zeros(n: number): void {
    for (let left = n * POINT_BYTES; left > 0; left -= ZEROS.length) this.out.write(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
  }
}

/**
 * Points put in any row order, spilled as (row u32, point) records to BUCKETS files by row range
 * (`<spill>/<name>-<b>`), then written in row order by `finish`: one range in memory at a time.
 */
export class PointsScatter {
  private readonly span: number;
  private readonly files: string[];
  private readonly spill: Appender[];
  readonly rows: number;

  constructor(spillDir: string, name: string, rows: number) {
    this.rows = rows;
    this.span = Math.max(1, Math.ceil(rows / BUCKETS));
    this.files = Array.from({ length: BUCKETS }, (_, b) => join(spillDir, `${name}-${b}`));
    this.spill = this.files.map((f) => new Appender(f, 4096, SECRET_MODE));
  }

  /** The point of `row` is points[at, at + POINT_BYTES). */
  put(row: number, points: Uint8Array, at: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.rows) throw new RangeError(`expected a row in [0, ${this.rows}), got ${row}`);
    const a = this.spill[Math.floor(row / this.span)]!;
    a.appendU32(row);
    a.append(points, at, POINT_BYTES);
  }

  /** Writes `path` (every row in order, the zero marker where no point was put) and removes the spill files. */
  finish(path: string): void {
    for (const a of this.spill) a.close();
    const out = new Appender(path, 1 << 16, SECRET_MODE);
    const range = new Uint8Array(this.span * POINT_BYTES);
    const scratch = new BucketScratch();
    const rec = 4 + POINT_BYTES;
    for (let b = 0; b < BUCKETS; b++) {
      const first = b * this.span;
      const n = Math.max(0, Math.min(this.rows, first + this.span) - first);
      range.fill(0, 0, n * POINT_BYTES);
      const raw = scratch.read(this.files[b]!);
      rmSync(this.files[b]!, { force: true });
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
      for (let p = 0; p < raw.length; p += rec) range.set(raw.subarray(p + 4, p + rec), (dv.getUint32(p, true) - first) * POINT_BYTES);
      out.write(range.subarray(0, n * POINT_BYTES));
    }
    out.close();
  }
}

/**
 * The points an incremental preparation reuses from the previous preparation of the same epoch:
 * `want(previousRow, row)` pairs are spilled by previous row range, then `resolve` reads the
 * previous points file one range at a time and puts each point at its new row.
 */
export class PreviousPoints {
  private readonly span: number;
  private readonly files: string[];
  private readonly spill: Appender[];
  private readonly path: string;
  private readonly users: number;

  /** `path`: the previous preparation's points file, of `users` rows (checked). */
  constructor(spillDir: string, name: string, path: string, users: number) {
    closeSync(openPoints(path, users));
    this.path = path;
    this.users = users;
    this.span = Math.max(1, Math.ceil(users / BUCKETS));
    this.files = Array.from({ length: BUCKETS }, (_, b) => join(spillDir, `${name}-${b}`));
    this.spill = this.files.map((f) => new Appender(f, 4096, SECRET_MODE));
  }

  /** The new row `row` takes the point of the previous preparation's row `previousRow`. */
  want(previousRow: number, row: number): void {
    if (!Number.isInteger(previousRow) || previousRow < 0 || previousRow >= this.users) throw new RangeError(`expected a previous row in [0, ${this.users}), got ${previousRow}`);
    const a = this.spill[Math.floor(previousRow / this.span)]!;
    a.appendU32(previousRow);
    a.appendU32(row);
  }

  /** Puts every wanted point into `into`; returns how many. Throws if the previous file has none for a wanted row. */
  resolve(into: PointsScatter): number {
    for (const a of this.spill) a.close();
    const fd = openPoints(this.path, this.users);
    const scratch = new BucketScratch();
    let n = 0;
    try {
      const range = new Uint8Array(this.span * POINT_BYTES);
      for (let b = 0; b < BUCKETS; b++) {
        const raw = scratch.read(this.files[b]!);
        rmSync(this.files[b]!, { force: true });
        if (raw.length === 0) continue;
        const first = b * this.span;
        const rows = Math.min(this.users, first + this.span) - first;
        preadFully(fd, range.subarray(0, rows * POINT_BYTES), first * POINT_BYTES, this.path);
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
        for (let p = 0; p < raw.length; p += 8) {
          const at = (dv.getUint32(p, true) - first) * POINT_BYTES;
          if (isZero(range, at)) throw new Error(`${this.path}: no stored point for row ${first + at / POINT_BYTES}, whose token is reused: remove the prepared universe to prepare it from scratch`);
          into.put(dv.getUint32(p + 4, true), range, at);
          n++;
        }
      }
    } finally {
      closeSync(fd);
    }
    return n;
  }
}
