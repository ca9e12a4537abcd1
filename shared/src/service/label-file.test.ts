/**
 * Label boxes on disk (label-file.ts): readInto fills a caller's buffer with what read returns,
 * refuses a buffer too small and a range outside the boxes; the writer splits the boxes into
 * segment files of a fixed count, whatever the sizes it is given, and a range read across their
 * boundaries gives the boxes written; the layout before segments (one file) is still read; a
 * segment missing or not a whole number of boxes is refused at open; a labels version hashed
 * through either (one page buffer reused) equals the one hashed from the same boxes in memory.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';
import { labelBoxes, labelsVersion } from '../protocol/label-publication.ts';
import { LabelFile, LabelFileWriter, labelsDir } from './label-file.ts';
import { segmentFile } from './segment-files.ts';
import { mulberry32 } from '../testing/rng.ts';

describe('LabelFile', () => {
  const n = 70_000; // more than one hashing page (65,536 boxes)
  const rng = mulberry32(3);
  const bytes = Uint8Array.from({ length: n * LABEL_BOX_BYTES }, () => Math.floor(rng() * 256));
  const root = mkdtempSync(join(tmpdir(), 'cleanroom-labelfile-'));
  // the boxes as segment files of 30,000 boxes, given to the writer in pieces of uneven sizes
  const segmented = join(root, 'segmented');
  const w = new LabelFileWriter(segmented, 'phone', 30_000);
  for (const [from, to] of [[0, 1], [1, 29_999], [29_999, 30_001], [30_001, 65_000], [65_000, n]] as const) w.write(bytes.subarray(from * LABEL_BOX_BYTES, to * LABEL_BOX_BYTES));
  w.close();
  // the layout before segments: one file
  const single = join(root, 'single');
  const s = new LabelFileWriter(single, 'phone');
  s.write(bytes);
  s.close();
  renameSync(segmentFile(labelsDir(single, 'phone'), 0), join(single, 'labels-phone.bin'));
  rmSync(labelsDir(single, 'phone'), { recursive: true });

  it('the writer makes segment files of a fixed count, named by their first box; a range read across them gives the boxes written', () => {
    expect(w.count).toBe(n);
    expect(readdirSync(labelsDir(segmented, 'phone')).sort()).toEqual(['0000000000.bin', '0000030000.bin', '0000060000.bin']);
    expect(() => w.write(new Uint8Array(LABEL_BOX_BYTES + 1))).toThrow(/whole 56-byte boxes/);
    const f = new LabelFile(segmented, 'phone');
    try {
      expect(f.count).toBe(n);
      for (const [from, to] of [[0, n], [29_990, 30_010], [59_999, 60_001], [5, 6], [n, n]] as const) {
        expect(Buffer.from(f.read(from, to)).equals(Buffer.from(bytes.subarray(from * LABEL_BOX_BYTES, to * LABEL_BOX_BYTES))), `[${from}, ${to})`).toBe(true);
      }
    } finally {
      f.close();
    }
  });

  it('readInto gives read\'s bytes in the caller\'s buffer, and refuses what does not fit', () => {
    for (const dir of [segmented, single]) {
      const f = new LabelFile(dir, 'phone');
      try {
        const into = new Uint8Array(10 * LABEL_BOX_BYTES);
        const got = f.readInto(n - 7, n, into);
        expect(got.buffer).toBe(into.buffer);
        expect(Buffer.from(got).equals(Buffer.from(f.read(n - 7, n)))).toBe(true);
        expect(Buffer.from(got).equals(Buffer.from(bytes.subarray((n - 7) * LABEL_BOX_BYTES)))).toBe(true);
        expect(() => f.readInto(0, 11, into)).toThrow(/room for 11 boxes/);
        expect(() => f.readInto(n - 1, n + 1, into)).toThrow(/box range within/);
      } finally {
        f.close();
      }
    }
  });

  it('a labels version hashed from the files equals the one from the same boxes in memory, in either layout', () => {
    const inMemory = labelsVersion('e1', 'v1', new Map([['phone', labelBoxes(bytes)]]));
    for (const dir of [segmented, single]) {
      expect(LabelFile.exists(dir, 'phone')).toBe(true);
      const f = new LabelFile(dir, 'phone');
      try {
        expect(labelsVersion('e1', 'v1', new Map([['phone', f]]))).toBe(inMemory);
      } finally {
        f.close();
      }
    }
    expect(LabelFile.exists(root, 'email')).toBe(false);
  });

  it('refuses a segment that is not a whole number of boxes, or a gap between segments, naming the file', () => {
    const broken = join(root, 'broken');
    const b = new LabelFileWriter(broken, 'phone', 30_000);
    b.write(bytes);
    b.close();
    const dir = labelsDir(broken, 'phone');
    truncateSync(segmentFile(dir, 30_000), 30_000 * LABEL_BOX_BYTES - 1);
    expect(() => new LabelFile(broken, 'phone')).toThrow(/0000030000\.bin: expected a whole number of 56-byte boxes, got 1679999 bytes/);
    truncateSync(segmentFile(dir, 30_000), 29_999 * LABEL_BOX_BYTES);
    expect(() => new LabelFile(broken, 'phone')).toThrow(/0000060000\.bin: expected a segment from box 59999, got one from 60000/);
    rmSync(segmentFile(dir, 0));
    expect(() => new LabelFile(broken, 'phone')).toThrow(/0000030000\.bin: expected a segment from box 0, got one from 30000/);
  });
});
