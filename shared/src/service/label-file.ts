/**
 * One ID type's label boxes on disk (LABEL_BOX_BYTES each, token-table order), read by pread on
 * demand: media's label publication and the broker's copy of it both serve boxes this way, so
 * neither holds a box per token in memory. The boxes are split into segment files of
 * BOXES_PER_FILE boxes, `<dir>/labels-<type>/<first>.bin` (segment-files.ts), so that no file
 * holds a box per token of the universe (10^9 boxes, 56 GB, at 10^9 users); a directory written
 * before the segments (one `<dir>/labels-<type>.bin`) is read as one segment.
 *
 * Guarantees: opening checks that the segments start at box 0, follow one another without a
 * gap and each hold a whole number of boxes (RangeError naming the file otherwise); a range read
 * may cross segments and returns exactly boxes [from, to) or throws RangeError; a reader keeps
 * at most MAX_OPEN_SEGMENTS descriptors open. The writer syncs each segment it completes.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';
import type { LabelBoxes } from '../protocol/label-publication.ts';
import { listSegments, OpenFiles, SegmentAppender, segmentFile, segmentOf } from './segment-files.ts';

/** Boxes per segment file: 4,194,304 × 56 B ≈ 235 MB. */
export const BOXES_PER_FILE = 1 << 22;
/** Segment files a reader keeps open (least recently used closed first). */
const MAX_OPEN_SEGMENTS = 8;

/** The segment directory of one ID type's boxes in `dir`. */
export function labelsDir(dir: string, idType: string): string {
  return join(dir, `labels-${idType}`);
}

export class LabelFile implements LabelBoxes {
  readonly count: number;
  /** Where the boxes are (the segment directory, or the one file before segments), for messages. */
  readonly path: string;
  /** Each segment's first box (ascending, from 0) and its file. */
  private readonly firsts: number[];
  private readonly paths: string[];
  private readonly files: OpenFiles;

  /** One ID type's boxes in `dir`, in either layout (LabelFile.exists). */
  constructor(dir: string, idType: string) {
    const segments = labelsDir(dir, idType);
    if (existsSync(segments)) {
      this.path = segments;
      this.firsts = listSegments(segments);
      this.paths = this.firsts.map((f) => segmentFile(segments, f));
    } else {
      this.path = join(dir, `labels-${idType}.bin`); // the layout before segments: one file
      this.firsts = [0];
      this.paths = [this.path];
    }
    this.count = this.checkSegments();
    this.files = new OpenFiles(MAX_OPEN_SEGMENTS, (s) => openSync(this.paths[s]!, 'r'));
  }

  static exists(dir: string, idType: string): boolean {
    return existsSync(labelsDir(dir, idType)) || existsSync(join(dir, `labels-${idType}.bin`));
  }

  /** The boxes in all segments; each segment a whole number of boxes, starting where the previous one ends. */
  private checkSegments(): number {
    let count = 0;
    for (let s = 0; s < this.paths.length; s++) {
      const fd = openSync(this.paths[s]!, 'r');
      const size = fstatSync(fd).size;
      closeSync(fd);
      if (size % LABEL_BOX_BYTES !== 0) throw new RangeError(`${this.paths[s]}: expected a whole number of ${LABEL_BOX_BYTES}-byte boxes, got ${size} bytes`);
      if (this.firsts[s] !== count) throw new RangeError(`${this.paths[s]}: expected a segment from box ${count}, got one from ${this.firsts[s]}`);
      count += size / LABEL_BOX_BYTES;
    }
    return count;
  }

  read(from: number, to: number): Uint8Array {
    return this.readInto(from, to, new Uint8Array(Math.max(0, to - from) * LABEL_BOX_BYTES));
  }

  readInto(from: number, to: number, into: Uint8Array): Uint8Array {
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from || to > this.count) throw new RangeError(`expected a box range within [0, ${this.count}], got [${from}, ${to})`);
    if (into.length < (to - from) * LABEL_BOX_BYTES) throw new RangeError(`expected room for ${to - from} boxes, got ${into.length} bytes`);
    const out = into.subarray(0, (to - from) * LABEL_BOX_BYTES);
    for (let box = from; box < to;) {
      const s = segmentOf(this.firsts, box);
      const end = Math.min(to, s + 1 < this.firsts.length ? this.firsts[s + 1]! : this.count);
      const fd = this.files.get(s);
      const at = (box - from) * LABEL_BOX_BYTES;
      const want = (end - box) * LABEL_BOX_BYTES;
      for (let got = 0; got < want;) {
        const n = readSync(fd, out, at + got, want - got, (box - this.firsts[s]!) * LABEL_BOX_BYTES + got);
        if (n === 0) throw new RangeError(`${this.paths[s]}: ends at box ${box + got / LABEL_BOX_BYTES}, expected ${end}`);
        got += n;
      }
      box = end;
    }
    return out;
  }

  close(): void {
    this.files.closeAll();
  }
}

/** Writes one ID type's boxes into `dir` as segment files of `perFile` boxes (LabelFile reads them). */
export class LabelFileWriter {
  private readonly segments: SegmentAppender;
  private written = 0;

  constructor(dir: string, idType: string, perFile = BOXES_PER_FILE) {
    this.segments = new SegmentAppender(labelsDir(dir, idType), perFile, 'boxes');
  }

  /** Boxes written so far. */
  get count(): number {
    return this.written;
  }

  /** Appends whole boxes (a multiple of LABEL_BOX_BYTES), across segment files as they fill. */
  write(boxes: Uint8Array): void {
    if (boxes.length % LABEL_BOX_BYTES !== 0) throw new RangeError(`expected whole ${LABEL_BOX_BYTES}-byte boxes, got ${boxes.length} bytes`);
    const n = boxes.length / LABEL_BOX_BYTES;
    const perFile = this.segments.perFile;
    for (let i = 0; i < n;) {
      const fd = this.segments.descriptorFor(this.written);
      const k = Math.min(n - i, perFile - (this.written % perFile));
      const part = boxes.subarray(i * LABEL_BOX_BYTES, (i + k) * LABEL_BOX_BYTES);
      for (let done = 0; done < part.length;) done += writeSync(fd, part, done, part.length - done);
      i += k;
      this.written += k;
    }
  }

  /** Stops writing without syncing (a failed download or publication, whose files are removed). */
  abandon(): void {
    this.segments.abandon();
  }

  close(): void {
    this.segments.end();
  }
}
