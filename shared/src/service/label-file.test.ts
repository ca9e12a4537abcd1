/**
 * Label boxes on disk (label-file.ts): readInto fills a caller's buffer with what read returns,
 * refuses a buffer too small and a range outside the file, and a labels version hashed through
 * it (one page buffer reused) equals the one hashed from the same boxes in memory.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';
import { labelBoxes, labelsVersion } from '../protocol/label-publication.ts';
import { LabelFile } from './label-file.ts';
import { mulberry32 } from '../testing/rng.ts';

describe('LabelFile', () => {
  const n = 70_000; // more than one hashing page (65,536 boxes)
  const rng = mulberry32(3);
  const bytes = Uint8Array.from({ length: n * LABEL_BOX_BYTES }, () => Math.floor(rng() * 256));
  const path = join(mkdtempSync(join(tmpdir(), 'cleanroom-labelfile-')), 'labels-phone.bin');
  writeFileSync(path, bytes);

  it('readInto gives read\'s bytes in the caller\'s buffer, and refuses what does not fit', () => {
    const f = new LabelFile(path);
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
  });

  it('a labels version hashed from the file equals the one from the same boxes in memory', () => {
    const f = new LabelFile(path);
    try {
      expect(labelsVersion('e1', 'v1', new Map([['phone', f]]))).toBe(labelsVersion('e1', 'v1', new Map([['phone', labelBoxes(bytes)]])));
    } finally {
      f.close();
    }
  });
});
