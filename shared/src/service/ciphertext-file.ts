/**
 * Ciphertexts on disk, read one at a time: `<dir>/ciphertexts.bin` holds them back to back,
 * `<dir>/offsets.bin` count+1 little-endian float64 byte offsets. Media's publication and
 * the broker's copy of it both live this way, so neither holds the encrypted universe in
 * memory (≈ 197 KB per ciphertext of 128 users as media sends it, ≈ 393 KB in the broker's stored form).
 *
 * Guarantees: `get(c)` returns a fresh copy of exactly ciphertext c or throws RangeError
 * (`view(c)` the same bytes in a reused buffer, overwritten by the next `view`);
 * the writer's `close()` writes the data it still buffers, then the offsets, so a reader never
 * sees offsets pointing past the data written.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, readvSync, writeFileSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import type { CiphertextSource } from '../protocol/publication.ts';

export class CiphertextFile implements CiphertextSource {
  readonly count: number;
  private readonly fd: number;
  private readonly offsets: Float64Array;

  constructor(dir: string) {
    const raw = readFileSync(join(dir, 'offsets.bin'));
    if (raw.length % 8 !== 0 || raw.length < 8) throw new RangeError(`expected offsets.bin as count+1 float64 values, got ${raw.length} bytes`);
    this.offsets = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    this.count = this.offsets.length - 1;
    this.fd = openSync(join(dir, 'ciphertexts.bin'), 'r');
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, 'offsets.bin')) && existsSync(join(dir, 'ciphertexts.bin'));
  }

  get(c: number): Uint8Array {
    if (!Number.isInteger(c) || c < 0 || c >= this.count) throw new RangeError(`expected a ciphertext index in [0, ${this.count}), got ${c}`);
    const start = this.offsets[c]!;
    const len = this.offsets[c + 1]! - start;
    return this.readInto(c, new Uint8Array(len), start);
  }

  /**
   * Ciphertext c read into this reader's scratch buffer: valid only until the next `view`
   * call, for a consumer that copies it at once (SEAL's load does). A fresh buffer per
   * ciphertext (`get`) costs a page-faulted allocation of ≈ 393 KB each time — about 1 ms
   * of CPU per stored ciphertext, more than the masking product it feeds; this costs the copy.
   */
  view(c: number): Uint8Array {
    if (!Number.isInteger(c) || c < 0 || c >= this.count) throw new RangeError(`expected a ciphertext index in [0, ${this.count}), got ${c}`);
    const start = this.offsets[c]!;
    const len = this.offsets[c + 1]! - start;
    if (this.scratch.length < len) this.scratch = new Uint8Array(len);
    return this.readInto(c, this.scratch.subarray(0, len), start);
  }

  /** CiphertextSource.readSplit: one positioned vectored read (readv) into both buffers. */
  readSplit(c: number, head: Uint8Array, rest: Uint8Array): boolean {
    if (!Number.isInteger(c) || c < 0 || c >= this.count) throw new RangeError(`expected a ciphertext index in [0, ${this.count}), got ${c}`);
    const start = this.offsets[c]!;
    const len = this.offsets[c + 1]! - start;
    if (len !== head.length + rest.length) return false;
    let got = readvSync(this.fd, [head, rest], start);
    // a short read (rare: a signal, a file shorter than its offsets) is finished piece by piece
    while (got < len) {
      const [buf, at] = got < head.length ? [head, got] : [rest, got - head.length];
      const n = readSync(this.fd, buf, at, buf.length - at, start + got);
      if (n === 0) throw new RangeError(`ciphertext ${c}: file ends after ${got} of ${len} bytes`);
      got += n;
    }
    return true;
  }

  /** Fills `out` with ciphertext c's bytes, which start at `start` in the file. */
  private readInto(c: number, out: Uint8Array, start: number): Uint8Array {
    const len = out.length;
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, out, got, len - got, start + got);
      if (n === 0) throw new RangeError(`ciphertext ${c}: file ends after ${got} of ${len} bytes`);
      got += n;
    }
    return out;
  }

  private scratch = new Uint8Array(0);

  close(): void {
    closeSync(this.fd);
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

export class CiphertextFileWriter {
  private readonly fd: number;
  private readonly dir: string;
  private readonly offsets: number[] = [0];
  private readonly buf = new Uint8Array(WRITE_BUFFER);
  private used = 0;

  constructor(dir: string) {
    this.dir = dir;
    this.fd = openSync(join(dir, 'ciphertexts.bin'), 'w');
  }

  get count(): number {
    return this.offsets.length - 1;
  }

  /** Appends ciphertext c = count; its bytes reach the file by close() at the latest. */
  append(ct: Uint8Array): void {
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
    this.flush();
    this.offsets.push(this.offsets.at(-1)! + writevFully(this.fd, parts, null));
  }

  /**
   * Records ciphertext c = count as `length` bytes that another writer put at its place in the
   * file (the broker's sync workers write each stored form at c × its fixed length: positioned
   * writes through their own descriptors); this writer writes none of it. Not to be mixed with
   * append / appendParts in one file.
   */
  appendWritten(length: number): void {
    this.offsets.push(this.offsets.at(-1)! + length);
  }

  /**
   * Sets the file's length to `bytes` before other writers fill it at known places
   * (appendWritten): their positioned writes then never extend the file.
   */
  reserve(bytes: number): void {
    ftruncateSync(this.fd, bytes);
  }

  /** The file the ciphertexts go to. */
  get path(): string {
    return join(this.dir, 'ciphertexts.bin');
  }

  private flush(): void {
    this.writeAll(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private writeAll(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }

  close(): void {
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    writeFileSync(join(this.dir, 'offsets.bin'), new Uint8Array(Float64Array.from(this.offsets).buffer));
  }
}
