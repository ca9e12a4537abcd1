/**
 * H(version ‖ position) of every position of media's publication (crypto/dh-psi.ts
 * hashPositions), computed once per publication in the background and kept in a file beside
 * it (<publication dir>/psi-positions.bin, 32 bytes per position, position order), so that a
 * PSI session (retargeting, joint-activate) only exponentiates its own set — and so that the
 * node holds none of it in memory (32 bytes per user, 3.2 GB at 10^8). A file of the right size
 * is reused on restart (the hashes depend on the version and position only); one is written
 * aside and renamed into place, so a crash never leaves a partial file that would be read.
 */
import { closeSync, existsSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hashPositions } from '@cleanroom/shared/crypto/dh-psi.ts';
import type { ElementBytes } from '@cleanroom/shared/crypto/group.ts';
import { Appender } from '@cleanroom/shared/service/record-file.ts';

const HASH_BYTES = 32;
/** Positions hashed per event-loop turn while warming. */
const HASH_CHUNK = 16_384;
/** Positions read at a time when serving a session's set. */
const READ_WINDOW = 32_768;

export class PositionHashFile {
  private readonly path: string;
  private readonly users: number;
  private fd: number | undefined;

  constructor(dir: string, users: number) {
    this.path = join(dir, 'psi-positions.bin');
    this.users = users;
    if (existsSync(this.path) && statSync(this.path).size === users * HASH_BYTES) this.fd = openSync(this.path, 'r');
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
        const list = hashPositions(version, Array.from({ length: Math.min(HASH_CHUNK, this.users - first) }, (_, i) => first + i));
        for (const e of list) out.write(e);
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

  /** The hashes of `positions` (in that order), read through a window; undefined while not warmed. */
  read(positions: readonly number[]): ElementBytes[] | undefined {
    const fd = this.fd;
    if (fd === undefined) return undefined;
    const out = new Array<ElementBytes>(positions.length);
    const win = new Uint8Array(READ_WINDOW * HASH_BYTES);
    let start = 0;
    let len = 0;
    positions.forEach((p, i) => {
      if (!Number.isInteger(p) || p < 0 || p >= this.users) throw new RangeError(`expected a position in [0, ${this.users}), got ${p}`);
      if (p < start || p >= start + len) {
        start = p;
        len = Math.min(READ_WINDOW, this.users - p);
        for (let got = 0; got < len * HASH_BYTES;) {
          const n = readSync(fd, win, got, len * HASH_BYTES - got, start * HASH_BYTES + got);
          if (n === 0) throw new RangeError(`${this.path}: ends at ${start * HASH_BYTES + got}, expected ${this.users * HASH_BYTES} bytes`);
          got += n;
        }
      }
      out[i] = win.slice((p - start) * HASH_BYTES, (p - start + 1) * HASH_BYTES);
    });
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
