/**
 * Files of fixed-width records sorted by key and indexed by the key's first byte — the
 * on-disk form of large tables (media's prepared universe, the broker's token table) that a
 * node reads by bucket or by binary search (pread) instead of loading whole.
 *
 * A table is `<name>.bin` (records back to back) and `<name>.idx` (BUCKETS+1 float64 record
 * offsets: records whose first byte is b are in [idx[b], idx[b+1])). Built by spilling
 * records into one file per first byte (Appender), then sorting each bucket in memory
 * (sortRecords): memory is one bucket, whatever the table's size. Float64 offsets are exact to
 * 2^53 (no 4 GiB wrap).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';

export const BUCKETS = 256;
const WRITE_BUFFER = 1 << 16;

/** Appends to a file through a fixed buffer (one open file descriptor until close). */
export class Appender {
  private readonly fd: number;
  private readonly buf: Uint8Array;
  private used = 0;
  private written = 0;
  private closed = false;

  constructor(path: string, bufferBytes = WRITE_BUFFER, mode = 0o644) {
    this.fd = openSync(path, 'w', mode);
    this.buf = new Uint8Array(bufferBytes);
  }

  /** Bytes appended so far (written or buffered). */
  get size(): number {
    return this.written + this.used;
  }

  write(bytes: Uint8Array): void {
    if (bytes.length > this.buf.length - this.used) this.flush();
    if (bytes.length > this.buf.length) {
      this.raw(bytes);
      return;
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  private raw(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.written += bytes.length;
  }

  flush(): void {
    if (this.used > 0) this.raw(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  /** Flushes and closes; idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    closeSync(this.fd);
    this.closed = true;
  }
}

export function readAll(path: string): Uint8Array {
  return existsSync(path) ? new Uint8Array(readFileSync(path)) : new Uint8Array(0);
}

export function f64File(path: string, values: Float64Array): void {
  writeFileSync(path, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

export function readF64(path: string): Float64Array {
  const raw = readFileSync(path);
  if (raw.length % 8 !== 0) throw new RangeError(`${path}: expected float64 values, got ${raw.length} bytes`);
  return new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
}

export function compareBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Indices of `n` fixed-width records sorted by their first `keyBytes` bytes, then by `tie`. */
export function sortRecords(recs: Uint8Array, width: number, n: number, keyBytes: number, tie: (a: number, b: number) => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // 48-bit prefixes as doubles decide nearly every comparison; equal prefixes compare in full.
  const prefix = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * width;
    prefix[i] = ((recs[o]! * 256 + recs[o + 1]!) * 256 + recs[o + 2]!) * 2 ** 24 + ((recs[o + 3]! << 16) | (recs[o + 4]! << 8) | recs[o + 5]!);
  }
  order.sort((a, b) => prefix[a]! - prefix[b]! || compareBytes(recs, a * width, recs, b * width, keyBytes) || tie(a, b));
  return order;
}

/** Reads one file of fixed-width records by pread, record by record or by ranges. */
export class RecordFile {
  readonly fd: number;
  readonly count: number;
  readonly idx: Float64Array;
  readonly width: number;
  constructor(path: string, width: number) {
    this.width = width;
    this.fd = openSync(path, 'r');
    this.count = fstatSync(this.fd).size / width;
    this.idx = readF64(`${path.slice(0, -4)}.idx`);
    if (!Number.isInteger(this.count) || this.idx.length !== BUCKETS + 1 || this.idx[BUCKETS] !== this.count) {
      throw new RangeError(`${path}: expected ${width}-byte records indexed by ${BUCKETS} buckets`);
    }
  }

  read(from: number, to: number): Uint8Array {
    const out = new Uint8Array((to - from) * this.width);
    let got = 0;
    while (got < out.length) {
      const n = readSync(this.fd, out, got, out.length - got, from * this.width + got);
      if (n === 0) throw new RangeError(`record file ends at ${from * this.width + got}`);
      got += n;
    }
    return out;
  }

  bucket(b: number): Uint8Array {
    return this.read(this.idx[b]!, this.idx[b + 1]!);
  }

  /** Index of the first record whose key (first `keyBytes` bytes) equals `key`, or -1. */
  find(key: Uint8Array, keyBytes: number): number {
    let lo = this.idx[key[0]!]!;
    let hi = this.idx[key[0]! + 1]!;
    const rec = new Uint8Array(this.width);
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      readSync(this.fd, rec, 0, this.width, mid * this.width);
      if (compareBytes(rec, 0, key, 0, keyBytes) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= this.idx[key[0]! + 1]!) return -1;
    readSync(this.fd, rec, 0, this.width, lo * this.width);
    return compareBytes(rec, 0, key, 0, keyBytes) === 0 ? lo : -1;
  }

  close(): void {
    closeSync(this.fd);
  }
}

