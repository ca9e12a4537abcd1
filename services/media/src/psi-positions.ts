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
 * renamed into place, so a crash never leaves a partial file that would be read.
 *
 * The warm-up runs on worker threads (psi-positions-worker.ts, on crypto/keyed-workers.ts,
 * by default at the lowest scheduling priority, nice 19): each job is a range of slots that a worker hashes
 * (or draws, for the padding) and writes at its place in the file aside; the main thread only
 * hands out the ranges and renames the file when every one is written — no hashing and no
 * I/O of it on the event loop, so media's sessions, the broker's sync it serves and its
 * /healthz stay responsive, and the warm-up takes only CPU the node leaves idle. It is no
 * session's work: its hashes and padding draws are tallied in no session's phases, though
 * sessions run while it does (the workers' op-counts tallies are never read; the main thread
 * counts nothing for them, common/op-counts.ts). A PSI session that comes before the file is
 * there hashes its own set (`read` answers undefined). `close` ends a warm-up under way: its
 * workers stop and its partial file is removed.
 */
import { closeSync, existsSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyedWorkers } from '@cleanroom/shared/crypto/keyed-workers.ts';
import type { PositionJob } from './psi-positions-worker.ts';

const HASH_BYTES = 32;
/** Slots per warm-up job: one positioned write of 512 KiB by the worker. */
const JOB_SLOTS = 16_384;
/** Jobs in flight per worker: one computing, one queued, so no worker waits on the main thread. */
const JOBS_PER_WORKER = 2;
const WORKER_URL = new URL('./psi-positions-worker.ts', import.meta.url);

/** What a warm-up that wrote the file did: its slots, its workers, their nice value and its wall time. */
export interface WarmFigures {
  slots: number;
  threads: number;
  nice: number;
  seconds: number;
}
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
  /** The warm-up's workers while one runs. */
  private warming: KeyedWorkers | undefined;
  private closed = false;

  constructor(dir: string, users: number) {
    this.path = join(dir, 'psi-positions.bin');
    this.users = users;
    this.slots = users + padSlots(users);
    if (existsSync(this.path) && statSync(this.path).size === this.slots * HASH_BYTES) this.fd = openSync(this.path, 'r');
  }

  get ready(): boolean {
    return this.fd !== undefined;
  }

  /**
   * Hashes every position and draws the padding into the file on `threads` worker threads
   * (default 1), each at nice value `nice` (default 19: see the header); the figures of the
   * warm-up, or undefined when the file was already there or `close` ended the warm-up. A
   * worker's failure rejects (the partial file removed).
   */
  async warm(version: string, { threads = 1, nice = 19 }: { threads?: number; nice?: number } = {}): Promise<WarmFigures | undefined> {
    if (this.fd !== undefined || this.closed) return undefined;
    if (typeof version !== 'string' || version.length === 0) throw new TypeError(`expected a publication version, got ${typeof version === 'string' ? 'an empty string' : typeof version}`);
    if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new RangeError(`expected a nice value in 0..19, got ${nice}`);
    if (this.warming) throw new Error(`expected one warm-up of ${this.path} at a time, got a second while the first runs`);
    const started = performance.now();
    const pool = new KeyedWorkers(WORKER_URL, undefined, threads, 'position-hash worker');
    this.warming = pool;
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, new Uint8Array(0)); // the workers write their ranges into it
      /** The jobs handed out; a worker's failure rejects every one. */
      const jobs: Promise<Uint8Array>[] = [];
      let next = 0;
      const dispatch = (): void => {
        const count = Math.min(JOB_SLOTS, (next < this.users ? this.users : this.slots) - next);
        const job: PositionJob = next < this.users ? { kind: 'hash', path: tmp, version, first: next, count, nice } : { kind: 'pad', path: tmp, first: next, count, nice };
        const done = pool.send(jobs.length % threads, job);
        done.catch(() => {}); // awaited in order below; one failure must not be unhandled in the others
        jobs.push(done);
        next += count;
      };
      while (next < this.slots && jobs.length < JOBS_PER_WORKER * threads) dispatch();
      for (let j = 0; j < jobs.length; j++) {
        await jobs[j];
        if (next < this.slots) dispatch();
      }
      const size = statSync(tmp).size;
      if (size !== this.slots * HASH_BYTES) throw new Error(`expected the position-hash workers to write ${this.slots * HASH_BYTES} bytes, found ${size}`);
      renameSync(tmp, this.path);
    } catch (err) {
      rmSync(tmp, { force: true });
      if (this.closed) return undefined; // close() ended the warm-up: not a failure
      throw err;
    } finally {
      this.warming = undefined;
      await pool.close();
    }
    if (this.closed) return undefined;
    this.fd = openSync(this.path, 'r');
    return { slots: this.slots, threads, nice, seconds: (performance.now() - started) / 1000 };
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

  /** Closes the file and ends a warm-up under way (its workers stop; its partial file is removed). */
  close(): void {
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    void this.warming?.close();
  }
}
