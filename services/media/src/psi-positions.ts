/**
 * H(version ‖ position) of every position of media's publication (crypto/dh-psi.ts
 * hashPositions), computed once per publication in the background and kept in a file beside
 * it (<publication dir>/psi-positions.bin, 32 bytes per position, position order), so that a
 * PSI session (retargeting, joint-activate) only exponentiates its own set — and so that the
 * node holds none of it in memory (32 bytes per user, 3.2 GB at 10^8). After them, in slots
 * users … users + padSlots − 1, random group elements: the inputs of the padding of media's
 * set, read and exponentiated exactly like a position's hash, so that a page costs media the
 * same whatever share of it is padding (a broker timing the pages learns nothing of how many
 * users are in media's set). padSlots = the largest power of two below `users` (at least 1):
 * media's set is padded to the next power of two, so its padding is always fewer elements.
 * A file of the right size is reused on restart (the hashes depend on the version and
 * position only; the padding inputs need only be distinct group elements, fixed per
 * publication — each session raises them to its own fresh scalar); one is written aside and
 * renamed into place, so a crash never leaves a partial file that would be read. The warm-up is
 * no session's work: its hashes and padding draws are tallied in no session's phases, though
 * sessions run while it does (common/op-counts.ts uncounted, one chunk at a time).
 */
import { closeSync, existsSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hashPositions } from '@cleanroom/shared/crypto/dh-psi.ts';
import { randomElementsInto } from '@cleanroom/shared/crypto/group.ts';
import { Appender } from '@cleanroom/shared/service/record-file.ts';
import { uncounted } from '@cleanroom/shared/common/op-counts.ts';

const HASH_BYTES = 32;
/** Positions hashed per event-loop turn while warming. */
const HASH_CHUNK = 16_384;
/** Positions read at a time when serving a session's set. */
const READ_WINDOW = 32_768;

/** Padding slots after `users` positions: the largest power of two below `users` (at least 1). */
export function padSlots(users: number): number {
  let n = 1;
  while (n * 2 < users) n *= 2;
  return n;
}

export class PositionHashFile {
  private readonly path: string;
  private readonly users: number;
  /** users + padSlots(users): the slots the file holds. */
  private readonly slots: number;
  private fd: number | undefined;

  constructor(dir: string, users: number) {
    this.path = join(dir, 'psi-positions.bin');
    this.users = users;
    this.slots = users + padSlots(users);
    if (existsSync(this.path) && statSync(this.path).size === this.slots * HASH_BYTES) this.fd = openSync(this.path, 'r');
  }

  get ready(): boolean {
    return this.fd !== undefined;
  }

  /** Hashes every position into the file, one chunk per event-loop turn; no-op when it is there. */
  async warm(version: string): Promise<void> {
    if (this.fd !== undefined) return;
    const tmp = `${this.path}.tmp-${process.pid}`;
    const out = new Appender(tmp);
    try {
      for (let first = 0; first < this.users; first += HASH_CHUNK) {
        // no session's work: counted in no session that runs meanwhile (op-counts uncounted)
        const list = uncounted(() => hashPositions(version, Array.from({ length: Math.min(HASH_CHUNK, this.users - first) }, (_, i) => first + i)));
        for (const e of list) out.write(e);
        await new Promise((r) => setImmediate(r));
      }
      const pads = new Uint8Array(HASH_CHUNK * HASH_BYTES);
      for (let first = this.users; first < this.slots; first += HASH_CHUNK) {
        const n = Math.min(HASH_CHUNK, this.slots - first);
        uncounted(() => randomElementsInto(pads, 0, n));
        out.write(pads.subarray(0, n * HASH_BYTES));
        await new Promise((r) => setImmediate(r));
      }
      out.close();
      renameSync(tmp, this.path);
    } catch (err) {
      out.close();
      rmSync(tmp, { force: true });
      throw err;
    }
    this.fd = openSync(this.path, 'r');
  }

  /**
   * The hashes of `positions` (in that order), packed: 32 bytes each, back to back, read
   * through a window (ascending positions read each window once); a slot at or above `users`
   * is a padding input (see the header). Undefined while not warmed.
   */
  read(positions: ArrayLike<number>): Uint8Array | undefined {
    const fd = this.fd;
    if (fd === undefined) return undefined;
    const out = new Uint8Array(positions.length * HASH_BYTES);
    const win = new Uint8Array(READ_WINDOW * HASH_BYTES);
    let start = 0;
    let len = 0;
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!;
      if (!Number.isInteger(p) || p < 0 || p >= this.slots) throw new RangeError(`expected a position or padding slot in [0, ${this.slots}), got ${p}`);
      if (p < start || p >= start + len) {
        start = p;
        len = Math.min(READ_WINDOW, this.slots - p);
        for (let got = 0; got < len * HASH_BYTES;) {
          const n = readSync(fd, win, got, len * HASH_BYTES - got, start * HASH_BYTES + got);
          if (n === 0) throw new RangeError(`${this.path}: ends at ${start * HASH_BYTES + got}, expected ${this.slots * HASH_BYTES} bytes`);
          got += n;
        }
      }
      const from = (p - start) * HASH_BYTES;
      for (let b = 0; b < HASH_BYTES; b++) out[i * HASH_BYTES + b] = win[from + b]!;
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
