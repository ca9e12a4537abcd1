/**
 * Segment files: one sequence of records split into files of a bounded count, each named by
 * the index of its first record (ten digits, `0000001024.bin`) in a directory of its own, so
 * that no file holds a universe's worth of them (at 10^9 users: docs/operations.md, the design
 * for 10^9) and each is ready to be an object of object storage. The broker's and media's
 * ciphertexts (ciphertext-file.ts) and label boxes (label-file.ts) are stored this way.
 *
 * Guarantees: `listSegments` returns the firsts in ascending order and ignores other names;
 * `OpenFiles` keeps at most `max` descriptors open, closing the least recently used first, and
 * opens none after closeAll() (a reader used after its close() throws instead of leaking one);
 * `SegmentAppender` creates the segment of record i exactly when i is a multiple of its count,
 * syncing and closing the one before, and `abandon()` closes without syncing.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const SEGMENT_NAME = /^(\d{10})\.bin$/;

/** The segment file of `dir` whose first record is `first`. */
export function segmentFile(dir: string, first: number): string {
  return join(dir, `${String(first).padStart(10, '0')}.bin`);
}

/** The first record of every segment file in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  return readdirSync(dir).flatMap((f) => {
    const m = SEGMENT_NAME.exec(f);
    return m ? [Number(m[1])] : [];
  }).sort((a, b) => a - b);
}

/** The segment holding record i: the last of `firsts` (ascending, firsts[0] ≤ i) not after i. */
export function segmentOf(firsts: readonly number[], i: number): number {
  let lo = 0;
  let hi = firsts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (firsts[mid]! <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A few open descriptors by key, the least recently used closed first beyond `max`. */
export class OpenFiles {
  private readonly fds = new Map<number, number>();
  private readonly max: number;
  private readonly open: (key: number) => number;
  private closed = false;

  constructor(max: number, open: (key: number) => number) {
    this.max = max;
    this.open = open;
  }

  get(key: number): number {
    const fd = this.fds.get(key);
    if (fd !== undefined) {
      this.fds.delete(key); // now the most recently used
      this.fds.set(key, fd);
      return fd;
    }
    if (this.closed) throw new Error('segment files read after close()');
    if (this.fds.size >= this.max) {
      const [oldest, ofd] = this.fds.entries().next().value!;
      this.fds.delete(oldest);
      closeSync(ofd);
    }
    const opened = this.open(key);
    this.fds.set(key, opened);
    return opened;
  }

  closeAll(): void {
    this.closed = true;
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/**
 * The segment files of one sequence written front to back: `descriptorFor(i)` is where record
 * i goes — at a segment's first record (i a multiple of `perFile`) the segment before is synced
 * and closed and `<dir>/<i>.bin` created (a writer that buffers flushes first).
 */
export class SegmentAppender {
  readonly perFile: number;
  private readonly dir: string;
  private fd = -1;

  constructor(dir: string, perFile: number, what: string) {
    if (!Number.isInteger(perFile) || perFile < 1) throw new RangeError(`expected a positive number of ${what} per file, got ${perFile}`);
    this.dir = dir;
    this.perFile = perFile;
    mkdirSync(dir, { recursive: true });
  }

  descriptorFor(i: number): number {
    if (i % this.perFile !== 0) {
      if (this.fd < 0) throw new Error(`record ${i}: its segment file is not open (written after abandon, or not from the start)`);
      return this.fd;
    }
    this.end();
    this.fd = openSync(segmentFile(this.dir, i), 'w');
    return this.fd;
  }

  /** Syncs and closes the segment being written, if any. */
  end(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Closes the segment being written without syncing it (a failed write, whose files are removed). */
  abandon(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
