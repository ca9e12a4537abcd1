/**
 * Files of fixed-width records sorted by key and indexed by the key's first byte — the
 * on-disk form of large tables (media's prepared universe, the broker's token table) that a
 * node reads by bucket or by binary search (pread) instead of loading whole.
 *
 * A table is `<name>.bin` (records back to back) and `<name>.idx` (BUCKETS+1 float64 record
 * offsets: records whose first byte is b are in [idx[b], idx[b+1])), or — bucket files, for
 * tables of 10^8–10^9 entries — a directory `<name>/` of BUCKETS files `00.bin` … `ff.bin`, one
 * per first byte (BucketFilesWriter), so that no file holds more than one bucket (≈ 3.9·10^6
 * entries at 10^9) and each can be stored, copied or fetched on its own. Built by spilling
 * records into one file per first byte (Appender), then sorting each bucket in memory
 * (sortRecords): memory is one bucket, whatever the table's size. Float64 offsets are exact to
 * 2^53 (no 4 GiB wrap). RecordFile reads either layout with the same record numbering.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const BUCKETS = 256;
const WRITE_BUFFER = 1 << 16;
/** One record in SAMPLE is kept in memory per bucket for lookups (RecordFile.find). */
const SAMPLE = 32;

/** The first 6 bytes at `off` as a number (exact in a double). */
function prefix48(a: Uint8Array, off: number): number {
  return ((a[off]! * 256 + a[off + 1]!) * 256 + a[off + 2]!) * 2 ** 24 + ((a[off + 3]! << 16) | (a[off + 4]! << 8) | a[off + 5]!);
}

/** Fills `out` from `fd` at byte `at` (positioned reads until whole); a RangeError naming `what` if the file ends first. Returns `out`. */
export function preadFully(fd: number, out: Uint8Array, at: number, what: string): Uint8Array {
  for (let got = 0; got < out.length;) {
    const n = readSync(fd, out, got, out.length - got, at + got);
    if (n === 0) throw new RangeError(`${what}: ends at ${at + got}, expected ${at + out.length} bytes`);
    got += n;
  }
  return out;
}

/** Appends to a file through a fixed buffer (one open file descriptor until close). */
const UTF8 = new TextEncoder();

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

  /**
   * Appends bytes[start, start + length) — a short record part copied byte by byte into the
   * write buffer, without a subarray per call (the hot path of spilling millions of records).
   */
  append(bytes: Uint8Array, start: number, length: number): void {
    if (length > this.buf.length - this.used) this.flush();
    if (length > this.buf.length) {
      this.raw(bytes.subarray(start, start + length));
      return;
    }
    const buf = this.buf;
    let at = this.used;
    for (let i = 0; i < length; i++) buf[at++] = bytes[start + i]!;
    this.used = at;
  }

  /** Appends `v` as 4 bytes little-endian (an unsigned 32-bit integer). */
  appendU32(v: number): void {
    if (this.buf.length - this.used < 4) this.flush();
    const buf = this.buf;
    const at = this.used;
    buf[at] = v & 0xff;
    buf[at + 1] = (v >>> 8) & 0xff;
    buf[at + 2] = (v >>> 16) & 0xff;
    buf[at + 3] = v >>> 24;
    this.used = at + 4;
  }

  /** Appends the UTF-8 of `text` (encoded straight into the write buffer); returns its byte length. */
  writeUtf8(text: string): number {
    if (3 * text.length > this.buf.length - this.used) this.flush();
    if (3 * text.length > this.buf.length) {
      const bytes = UTF8.encode(text);
      this.raw(bytes);
      return bytes.length;
    }
    const { written } = UTF8.encodeInto(text, this.buf.subarray(this.used));
    this.used += written;
    return written;
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

  /**
   * Closes without writing what is buffered (a failed download whose files are removed: on a
   * full volume the flush would throw, and a descriptor left open would keep a removed file's
   * space); idempotent.
   */
  abandon(): void {
    if (this.closed) return;
    this.used = 0;
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
export function sortRecords(recs: Uint8Array, width: number, n: number, keyBytes: number, tie: (a: number, b: number) => number, scratch?: { keys: Float64Array; order: Uint32Array }): Uint32Array {
  const order = scratch ? scratch.order.subarray(0, n) : new Uint32Array(n);
  if (n === 0) return order;
  // One native numeric sort (no comparator call per comparison) of 53-bit doubles: the top
  // `keyBits` bits of each record's 48-bit prefix, then its index in the low `indexBits` —
  // distinct, so ties keep index order as the stable comparator sort did. Runs of equal key
  // bits (rare: keys are hashes) are then ordered by the full comparator, so the result is
  // the order of (48-bit prefix, first keyBytes bytes, tie, index), exactly as before.
  const indexBits = Math.max(1, Math.ceil(Math.log2(n)));
  const keyBits = Math.min(48, 53 - indexBits);
  const keyScale = 2 ** (48 - keyBits);
  const indexScale = 2 ** indexBits;
  const keys = scratch ? scratch.keys.subarray(0, n) : new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = Math.floor(prefix48(recs, i * width) / keyScale) * indexScale + i;
  keys.sort();
  for (let j = 0; j < n; j++) order[j] = keys[j]! % indexScale;
  const full = (a: number, b: number): number => prefix48(recs, a * width) - prefix48(recs, b * width) || compareBytes(recs, a * width, recs, b * width, keyBytes) || tie(a, b) || a - b;
  for (let j = 0; j < n;) {
    const top = Math.floor(keys[j]! / indexScale);
    let e = j + 1;
    while (e < n && Math.floor(keys[e]! / indexScale) === top) e++;
    if (e - j > 1) order.subarray(j, e).sort(full);
    j = e;
  }
  return order;
}

/**
 * Reused buffers for a pass over bucket files (read a bucket whole, sort its records, write
 * them out): per bucket, `read` and `sort` return views into buffers that grow to the largest
 * bucket and are reused, where readAll and sortRecords allocate ≈ 3 × the bucket in fresh
 * ArrayBuffers. Over 256 buckets that garbage is collected late — the broker, whose GC policy
 * (service/gc-policy.ts) counts ArrayBuffers in its global heap limit, peaked 866 MiB at the end
 * of a 10^7-user sync, 465 MiB above the sync before it. A view is valid until the next call of
 * the same method: a pass that holds two buckets at once uses two scratches.
 */
export class BucketScratch {
  private bytes = new Uint8Array(0);
  private readonly sorting = { keys: new Float64Array(0), order: new Uint32Array(0) };

  /** The whole file (empty when it does not exist), in the reused buffer. */
  read(path: string): Uint8Array {
    if (!existsSync(path)) return this.bytes.subarray(0, 0);
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (this.bytes.length < size) this.bytes = new Uint8Array(Math.max(size, Math.ceil(this.bytes.length * 1.5)));
      for (let got = 0; got < size;) {
        const n = readSync(fd, this.bytes, got, size - got, got);
        if (n === 0) throw new RangeError(`${path}: ended at byte ${got} of ${size}`);
        got += n;
      }
      return this.bytes.subarray(0, size);
    } finally {
      closeSync(fd);
    }
  }

  /** sortRecords into the reused key and order buffers. */
  sort(recs: Uint8Array, width: number, n: number, keyBytes: number, tie: (a: number, b: number) => number): Uint32Array {
    if (this.sorting.order.length < n) {
      const room = Math.max(n, Math.ceil(this.sorting.order.length * 1.5));
      this.sorting.keys = new Float64Array(room);
      this.sorting.order = new Uint32Array(room);
    }
    return sortRecords(recs, width, n, keyBytes, tie, this.sorting);
  }
}

/** The file of bucket b in a table's bucket-file directory: two lowercase hex digits. */
export function bucketFile(dir: string, b: number): string {
  return join(dir, `${b.toString(16).padStart(2, '0')}.bin`);
}

/**
 * Writes a table as bucket files: `bucket(b)` (b ascending, each once) gives the Appender of
 * `<dir>/<bb>.bin`, closing the previous bucket's; `close()` writes the buckets not asked for
 * as empty files, so a complete table always has all BUCKETS files.
 */
export class BucketFilesWriter {
  private readonly dir: string;
  private next = 0;
  private current: Appender | undefined;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  bucket(b: number): Appender {
    if (!Number.isInteger(b) || b < this.next || b >= BUCKETS) throw new RangeError(`expected bucket ${this.next}…${BUCKETS - 1} in ascending order, got ${b}`);
    this.current?.close();
    for (; this.next < b; this.next++) writeFileSync(bucketFile(this.dir, this.next), new Uint8Array(0));
    this.next = b + 1;
    this.current = new Appender(bucketFile(this.dir, b));
    return this.current;
  }

  close(): void {
    this.current?.close();
    this.current = undefined;
    for (; this.next < BUCKETS; this.next++) writeFileSync(bucketFile(this.dir, this.next), new Uint8Array(0));
  }

  /** Closes the bucket being written without flushing it (Appender.abandon). */
  abandon(): void {
    this.current?.abandon();
    this.current = undefined;
  }
}

/**
 * Reads a table of fixed-width records by pread, record by record or by ranges: `<name>.bin`
 * with its `.idx`, or a directory of bucket files (`path` without `.bin`; its index is the
 * files' sizes, and a bucket's file is opened when first read, then kept until close()).
 */
export class RecordFile {
  readonly count: number;
  readonly idx: Float64Array;
  readonly width: number;
  private readonly path: string;
  /** The single file's descriptor, or per bucket its file's (-1 until opened). */
  private readonly fds: number[];
  private readonly bucketed: boolean;
  private closed = false;

  constructor(path: string, width: number) {
    this.width = width;
    this.path = path;
    this.bucketed = !path.endsWith('.bin');
    if (this.bucketed) {
      this.idx = new Float64Array(BUCKETS + 1);
      for (let b = 0; b < BUCKETS; b++) {
        const f = bucketFile(path, b);
        if (!existsSync(f)) throw new RangeError(`${path}: expected ${BUCKETS} bucket files, ${f} is missing`);
        const n = statSync(f).size / width;
        if (!Number.isInteger(n)) throw new RangeError(`${f}: expected ${width}-byte records, got ${statSync(f).size} bytes`);
        this.idx[b + 1] = this.idx[b]! + n;
      }
      this.count = this.idx[BUCKETS]!;
      this.fds = new Array<number>(BUCKETS).fill(-1);
      return;
    }
    this.fds = [openSync(path, 'r')];
    this.count = fstatSync(this.fds[0]!).size / width;
    this.idx = readF64(`${path.slice(0, -4)}.idx`);
    if (!Number.isInteger(this.count) || this.idx.length !== BUCKETS + 1 || this.idx[BUCKETS] !== this.count) {
      closeSync(this.fds[0]!);
      throw new RangeError(`${path}: expected ${width}-byte records indexed by ${BUCKETS} buckets`);
    }
  }

  /** The bucket holding record i (bucket files: the last of equal offsets, i.e. the non-empty one). */
  private bucketOf(i: number): number {
    let lo = 0;
    let hi = BUCKETS - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.idx[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private fdOf(b: number): number {
    if (this.closed) throw new RangeError(`${this.path}: read after close`);
    if (!this.bucketed) return this.fds[0]!;
    if (this.fds[b] === -1) this.fds[b] = openSync(bucketFile(this.path, b), 'r');
    return this.fds[b]!;
  }

  read(from: number, to: number): Uint8Array {
    const out = new Uint8Array((to - from) * this.width);
    if (!this.bucketed) return preadFully(this.fdOf(0), out, from * this.width, this.path);
    // bucket files: the range's part in each bucket it spans, from that bucket's file
    for (let i = from; i < to;) {
      const b = this.bucketOf(i);
      const end = Math.min(to, this.idx[b + 1]!);
      preadFully(this.fdOf(b), out.subarray((i - from) * this.width, (end - from) * this.width), (i - this.idx[b]!) * this.width, bucketFile(this.path, b));
      i = end;
    }
    return out;
  }

  bucket(b: number): Uint8Array {
    return this.read(this.idx[b]!, this.idx[b + 1]!);
  }

  /** Per bucket, the 48-bit key prefix of every SAMPLE-th record (built on first use of the bucket). */
  private readonly samples = new Map<number, Float64Array>();

  private samplesOf(b: number): Float64Array {
    let s = this.samples.get(b);
    if (!s) {
      const recs = this.bucket(b);
      const n = recs.length / this.width;
      s = new Float64Array(Math.ceil(n / SAMPLE));
      for (let k = 0; k * SAMPLE < n; k++) s[k] = prefix48(recs, k * SAMPLE * this.width);
      this.samples.set(b, s);
    }
    return s;
  }

  /**
   * Index of the first record whose key (first `keyBytes` bytes, at least 6) equals `key`, or
   * -1. An in-memory sample of each bucket (1 record in SAMPLE, 8 bytes each) narrows the
   * search to about SAMPLE records, read with one pread.
   */
  find(key: Uint8Array, keyBytes: number): number {
    const b = key[0]!;
    const first = this.idx[b]!;
    const end = this.idx[b + 1]!;
    if (first === end) return -1;
    const s = this.samplesOf(b);
    const kp = prefix48(key, 0);
    // records before sample lo have prefixes < kp; records from sample hi on have prefixes > kp
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]! < kp) lo = mid + 1;
      else hi = mid;
    }
    let top = lo;
    while (top < s.length && s[top]! <= kp) top++;
    const from = first + Math.max(0, lo - 1) * SAMPLE;
    const to = Math.min(end, first + top * SAMPLE);
    if (to <= from) return -1;
    const recs = this.read(from, to);
    for (let i = 0; i < to - from; i++) {
      const c = compareBytes(recs, i * this.width, key, 0, keyBytes);
      if (c === 0) return from + i;
      if (c > 0) return -1;
    }
    return -1;
  }

  /** Closes every descriptor opened; idempotent; reads after it throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds) if (fd >= 0) closeSync(fd);
  }
}

