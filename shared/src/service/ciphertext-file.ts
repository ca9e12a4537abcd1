/**
 * Ciphertexts on disk, read one at a time. `<dir>/offsets.bin` holds count+1 little-endian
 * float64 byte offsets of the ciphertexts laid back to back; their bytes are split into
 * segment files of CIPHERTEXTS_PER_FILE ciphertexts, `<dir>/ciphertexts/<first>.bin` (`<first>`:
 * the index of its first ciphertext, ten digits), so that no file holds the encrypted universe:
 * at 10^9 users 7.8·10^6 ciphertexts of 128 users, ≈ 3.1 TB in the broker's stored form, are
 * ≈ 7,600 files of ≈ 400 MB, each ready to be an object of object storage (docs/operations.md,
 * the design for 10^9). A directory written before the segments (one `<dir>/ciphertexts.bin`)
 * is read as one segment. Media's publication and the broker's copy of it both live this way,
 * so neither holds the encrypted universe in memory (≈ 197 KB per ciphertext of 128 users as
 * media sends it, ≈ 393 KB in the broker's stored form).
 *
 * Guarantees: `get(c)` returns a fresh copy of exactly ciphertext c or throws RangeError
 * (`view(c)` the same bytes in a reused buffer, overwritten by the next `view`); opening checks
 * that the segments start at 0, follow one another and each holds exactly the bytes its
 * offsets say (RangeError naming the file otherwise); a reader keeps at most
 * MAX_OPEN_SEGMENTS descriptors open. The writer's `close()` writes the data it still buffers
 * and syncs every segment, then writes the offsets, so a reader never sees offsets pointing
 * past the data written.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, readvSync, writeFileSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import type { CiphertextSource } from '../protocol/publication.ts';
import { listSegments, OpenFiles, SegmentAppender, segmentFile, segmentOf } from './segment-files.ts';

/** Ciphertexts per segment file: ≈ 400 MB of the broker's stored form, ≈ 200 MB of media's wire form. */
export const CIPHERTEXTS_PER_FILE = 1024;
/** Segment files a reader keeps open (least recently used closed first). */
const MAX_OPEN_SEGMENTS = 16;
const SEGMENTS_DIR = 'ciphertexts';

/** The segment file whose first ciphertext is `first`. */
export function segmentPath(dir: string, first: number): string {
  return segmentFile(join(dir, SEGMENTS_DIR), first);
}

export class CiphertextFile implements CiphertextSource {
  readonly count: number;
  private readonly offsets: Float64Array;
  /** Each segment's first ciphertext (ascending, from 0) and its file. */
  private readonly firsts: number[];
  private readonly paths: string[];
  private readonly files: OpenFiles;

  constructor(dir: string) {
    const raw = readFileSync(join(dir, 'offsets.bin'));
    if (raw.length % 8 !== 0 || raw.length < 8) throw new RangeError(`expected offsets.bin as count+1 float64 values, got ${raw.length} bytes`);
    this.offsets = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    this.count = this.offsets.length - 1;
    if (existsSync(join(dir, SEGMENTS_DIR))) {
      this.firsts = listSegments(join(dir, SEGMENTS_DIR));
      this.paths = this.firsts.map((f) => segmentPath(dir, f));
    } else {
      this.firsts = [0]; // the layout before segments: one file
      this.paths = [join(dir, 'ciphertexts.bin')];
    }
    this.checkSegments();
    this.files = new OpenFiles(MAX_OPEN_SEGMENTS, (s) => openSync(this.paths[s]!, 'r'));
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, 'offsets.bin')) && (existsSync(join(dir, SEGMENTS_DIR)) || existsSync(join(dir, 'ciphertexts.bin')));
  }

  /** The segments start at 0, each within the ciphertexts, and hold exactly their ciphertexts' bytes. */
  private checkSegments(): void {
    const n = this.firsts.length;
    if (this.count > 0 && this.firsts[0] !== 0) throw new RangeError(`${this.paths[0] ?? 'ciphertexts'}: expected the first segment to start at ciphertext 0, got ${this.firsts[0] ?? 'none'}`);
    for (let s = 0; s < n; s++) {
      const first = this.firsts[s]!;
      if (first >= this.count && !(first === 0 && this.count === 0)) throw new RangeError(`${this.paths[s]}: a segment from ciphertext ${first}, beyond the ${this.count} ciphertexts`);
    }
    for (let s = 0; s < n; s++) {
      const first = this.firsts[s]!;
      const end = s + 1 < n ? this.firsts[s + 1]! : this.count;
      const want = this.offsets[end]! - this.offsets[first]!;
      const fd = openSync(this.paths[s]!, 'r');
      const got = fstatSync(fd).size;
      closeSync(fd);
      if (got !== want) throw new RangeError(`${this.paths[s]}: expected ${want} bytes (ciphertexts ${first}..${end - 1}), got ${got}`);
    }
  }

  get(c: number): Uint8Array {
    const len = this.lengthOf(c);
    return this.readInto(c, new Uint8Array(len));
  }

  /**
   * Ciphertext c read into this reader's scratch buffer: valid only until the next `view`
   * call, for a consumer that copies it at once (SEAL's load does). A fresh buffer per
   * ciphertext (`get`) costs a page-faulted allocation of ≈ 393 KB each time — about 1 ms
   * of CPU per stored ciphertext, more than the masking product it feeds; this costs the copy.
   */
  view(c: number): Uint8Array {
    const len = this.lengthOf(c);
    if (this.scratch.length < len) this.scratch = new Uint8Array(len);
    return this.readInto(c, this.scratch.subarray(0, len));
  }

  /** CiphertextSource.readSplit: one positioned vectored read (readv) into both buffers. */
  readSplit(c: number, head: Uint8Array, rest: Uint8Array): boolean {
    const len = this.lengthOf(c);
    if (len !== head.length + rest.length) return false;
    const { fd, at } = this.place(c);
    let got = readvSync(fd, [head, rest], at);
    // a short read (rare: a signal, a file shorter than its offsets) is finished piece by piece
    while (got < len) {
      const [buf, from] = got < head.length ? [head, got] : [rest, got - head.length];
      const n = readSync(fd, buf, from, buf.length - from, at + got);
      if (n === 0) throw new RangeError(`ciphertext ${c}: file ends after ${got} of ${len} bytes`);
      got += n;
    }
    return true;
  }

  private lengthOf(c: number): number {
    if (!Number.isInteger(c) || c < 0 || c >= this.count) throw new RangeError(`expected a ciphertext index in [0, ${this.count}), got ${c}`);
    return this.offsets[c + 1]! - this.offsets[c]!;
  }

  /** Ciphertext c's segment file (open) and where in it its bytes start. */
  private place(c: number): { fd: number; at: number } {
    const s = segmentOf(this.firsts, c);
    return { fd: this.files.get(s), at: this.offsets[c]! - this.offsets[this.firsts[s]!]! };
  }

  /** Fills `out` with ciphertext c's bytes. */
  private readInto(c: number, out: Uint8Array): Uint8Array {
    const { fd, at } = this.place(c);
    const len = out.length;
    let got = 0;
    while (got < len) {
      const n = readSync(fd, out, got, len - got, at + got);
      if (n === 0) throw new RangeError(`ciphertext ${c}: file ends after ${got} of ${len} bytes`);
      got += n;
    }
    return out;
  }

  private scratch = new Uint8Array(0);

  close(): void {
    this.files.closeAll();
  }
}

/**
 * Bytes the writer gathers before one write: a few ciphertexts. Each ciphertext a writer gets
 * is a fresh array (SEAL's saveToArray); copying it into this reused buffer and writing that,
 * one write per few ciphertexts, took less CPU than one write from each fresh array in paired
 * runs of the broker's store path (bench/publication-steps.ts reports its "codec and write").
 */
const WRITE_BUFFER = 2 << 20;

/**
 * Writes `parts` back to back with one vectored write — at `position`, or at the descriptor's
 * current offset when null — finishing a short write (rare: a signal; a full disk reports by
 * throwing) part by part. Returns the bytes written (all of them).
 */
export function writevFully(fd: number, parts: readonly Uint8Array[], position: number | null): number {
  let len = 0;
  for (const p of parts) len += p.length;
  let done = position === null ? writevSync(fd, parts as Uint8Array[]) : writevSync(fd, parts as Uint8Array[], position);
  for (let i = 0, start = 0; done < len && i < parts.length; start += parts[i]!.length, i++) {
    const p = parts[i]!;
    for (let at = Math.max(0, done - start); at < p.length;) at += writeSync(fd, p, at, p.length - at, position === null ? null : position + start + at);
    done = Math.max(done, start + p.length);
  }
  return len;
}

/**
 * Where other writers put fixed-length stored forms (CiphertextFileWriter.reserve): ciphertext c
 * at (c − its segment's first) × `length` in segment file ⌊c / perFile⌋ × perFile of `dir`.
 */
export interface CiphertextPlaces {
  dir: string;
  perFile: number;
  length: number;
}

/** Positioned writes of stored forms at their CiphertextPlaces (the broker's sync workers), a few segment files open at a time. */
export class CiphertextPlaceWriter {
  private readonly files: OpenFiles;
  private readonly places: CiphertextPlaces;
  constructor(places: CiphertextPlaces) {
    this.places = places;
    this.files = new OpenFiles(4, (first) => openSync(segmentPath(places.dir, first), 'r+'));
  }

  /** Ciphertext c's stored form, given as parts written back to back (one vectored write). */
  write(c: number, parts: readonly Uint8Array[]): void {
    const { perFile, length } = this.places;
    const first = c - (c % perFile);
    writevFully(this.files.get(first), parts, (c - first) * length);
  }

  close(): void {
    this.files.closeAll();
  }
}

export class CiphertextFileWriter {
  private readonly dir: string;
  private readonly segments: SegmentAppender;
  private readonly offsets: number[] = [0];
  private readonly buf = new Uint8Array(WRITE_BUFFER);
  private used = 0;
  /** The current segment's descriptor (append / appendParts). */
  private fd = -1;
  /** Ciphertexts whose segments reserve() created for other writers (synced at close). */
  private reserved = 0;

  /** Writes into `dir` (its `ciphertexts/` segments and offsets.bin); `perFile`: ciphertexts per segment file (tests lower it). */
  constructor(dir: string, perFile = CIPHERTEXTS_PER_FILE) {
    this.dir = dir;
    this.segments = new SegmentAppender(join(dir, SEGMENTS_DIR), perFile, 'ciphertexts');
  }

  get count(): number {
    return this.offsets.length - 1;
  }

  /** Appends ciphertext c = count; its bytes reach the file by close() at the latest. */
  append(ct: Uint8Array): void {
    this.segmentFor(this.count);
    if (ct.length > this.buf.length - this.used) this.flush();
    if (ct.length > this.buf.length) this.writeAll(ct);
    else {
      this.buf.set(ct, this.used);
      this.used += ct.length;
    }
    this.offsets.push(this.offsets.at(-1)! + ct.length);
  }

  /**
   * Appends ciphertext c = count given as parts written back to back (BrokerBfv.storedFormParts:
   * SEAL's header and a view of the coefficients in its memory), written at once by one
   * vectored write — no copy into the write buffer; the parts may change after the call.
   */
  appendParts(parts: readonly Uint8Array[]): void {
    this.segmentFor(this.count);
    this.flush();
    this.offsets.push(this.offsets.at(-1)! + writevFully(this.fd, parts, null));
  }

  /**
   * Records ciphertext c = count as `length` bytes that another writer put at its place
   * (reserve: the broker's sync workers write each stored form there through their own
   * descriptors); this writer writes none of it. Not to be mixed with append / appendParts.
   */
  appendWritten(length: number): void {
    this.offsets.push(this.offsets.at(-1)! + length);
  }

  /**
   * Creates the segment files of `count` ciphertexts of `length` bytes each at their final
   * lengths, for other writers to fill at known places (CiphertextPlaceWriter; recorded here
   * by appendWritten): their positioned writes then never extend a file.
   */
  reserve(count: number, length: number): CiphertextPlaces {
    const perFile = this.segments.perFile;
    for (let first = 0; first < count; first += perFile) {
      const fd = openSync(segmentPath(this.dir, first), 'w');
      try {
        ftruncateSync(fd, Math.min(perFile, count - first) * length);
      } finally {
        closeSync(fd);
      }
    }
    this.reserved = count;
    return { dir: this.dir, perFile, length };
  }

  /** Ciphertext c's segment made current: at a segment's first ciphertext what is buffered for the one before goes first. */
  private segmentFor(c: number): void {
    if (c % this.segments.perFile === 0) this.flush();
    this.fd = this.segments.descriptorFor(c);
  }

  private flush(): void {
    this.writeAll(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private writeAll(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }

  /** Stops writing without syncing or writing the offsets (a failed download, whose files are removed). */
  abandon(): void {
    this.segments.abandon();
    this.used = 0;
  }

  close(): void {
    this.flush();
    this.segments.end();
    for (let first = 0; first < this.reserved; first += this.segments.perFile) {
      const fd = openSync(segmentPath(this.dir, first), 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    writeFileSync(join(this.dir, 'offsets.bin'), new Uint8Array(Float64Array.from(this.offsets).buffer));
  }
}
