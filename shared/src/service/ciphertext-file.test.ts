// CiphertextFile: get and view return exactly ciphertext c (view in a reused buffer), and
// refuse indices outside the file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CiphertextFile, CiphertextFileWriter } from './ciphertext-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'ctfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CiphertextFile', () => {
  it('view(c) holds the same bytes as get(c), for ciphertexts of different lengths, in one reused buffer', () => {
    const cts = [300, 1, 5000, 42].map((n, i) => Uint8Array.from({ length: n }, (_, j) => (j * 7 + i) & 255));
    const w = new CiphertextFileWriter(dir);
    for (const c of cts) w.append(c);
    w.close();
    const f = new CiphertextFile(dir);
    try {
      expect(f.count).toBe(cts.length);
      for (const c of [2, 0, 3, 1, 2]) {
        expect(Buffer.from(f.view(c))).toEqual(Buffer.from(cts[c]!));
        expect(Buffer.from(f.get(c))).toEqual(Buffer.from(cts[c]!));
      }
      const a = f.view(0);
      const b = f.view(3);
      expect(a.buffer).toBe(b.buffer); // reused: the caller copies before the next view
      expect(() => f.view(4)).toThrow(/expected a ciphertext index in \[0, 4\), got 4/);
      expect(() => f.view(-1)).toThrow(RangeError);
      expect(() => f.view(1.5)).toThrow(RangeError);
    } finally {
      f.close();
    }
  });

  it('the writer gathers ciphertexts in its buffer and writes them in order, a ciphertext larger than the buffer directly', () => {
    const sub = mkdtempSync(join(dir, 'big-'));
    // around the 2 MiB write buffer: many that fill it unevenly, one larger than it, more after
    const sizes = [393_000, 393_000, 700_000, 393_000, 1, 3 << 20, 196_802, 393_000, 2 << 20, 5];
    const cts = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (j * 31 + i * 7 + (j >> 11)) & 255));
    const w = new CiphertextFileWriter(sub);
    for (const c of cts) w.append(c);
    expect(w.count).toBe(cts.length);
    w.close();
    const f = new CiphertextFile(sub);
    try {
      expect(f.count).toBe(cts.length);
      cts.forEach((c, i) => expect(Buffer.from(f.get(i)).equals(Buffer.from(c))).toBe(true));
    } finally {
      f.close();
    }
  });
});
