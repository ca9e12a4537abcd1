/**
 * One ID type's label boxes in a file (LABEL_BOX_BYTES each, token-table order), read by
 * pread on demand: media's label publication and the broker's copy of it both serve boxes
 * this way, so neither holds a box per token in memory. The file's length must be a whole
 * number of boxes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';
import type { LabelBoxes } from '../protocol/label-publication.ts';

export class LabelFile implements LabelBoxes {
  readonly count: number;
  private readonly fd: number;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'r');
    const size = fstatSync(this.fd).size;
    if (size % LABEL_BOX_BYTES !== 0) {
      closeSync(this.fd);
      throw new RangeError(`${path}: expected a whole number of ${LABEL_BOX_BYTES}-byte boxes, got ${size} bytes`);
    }
    this.count = size / LABEL_BOX_BYTES;
  }

  read(from: number, to: number): Uint8Array {
    return this.readInto(from, to, new Uint8Array(Math.max(0, to - from) * LABEL_BOX_BYTES));
  }

  readInto(from: number, to: number, into: Uint8Array): Uint8Array {
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from || to > this.count) throw new RangeError(`expected a box range within [0, ${this.count}], got [${from}, ${to})`);
    if (into.length < (to - from) * LABEL_BOX_BYTES) throw new RangeError(`expected room for ${to - from} boxes, got ${into.length} bytes`);
    const out = into.subarray(0, (to - from) * LABEL_BOX_BYTES);
    for (let got = 0; got < out.length;) {
      const n = readSync(this.fd, out, got, out.length - got, from * LABEL_BOX_BYTES + got);
      if (n === 0) throw new RangeError(`${this.path}: ends at box ${from + got / LABEL_BOX_BYTES}, expected ${this.count}`);
      got += n;
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}
