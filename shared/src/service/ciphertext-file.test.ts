// CiphertextFile: get and view return exactly ciphertext c (view in a reused buffer), and
// refuse indices outside the file; readSplit reads it into two buffers; the broker's
// aggregation straight from the file (readSplit into SEAL's memory) gives the same totals as
// through SEAL's load, and a ciphertext whose stored header differs goes through SEAL's checks.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CiphertextFile, CiphertextFileWriter } from './ciphertext-file.ts';
import { BfvFormatError } from '../crypto/bfv.ts';
import { bfvPair } from '../testing/bfv.ts';
import { mulberry32 } from '../testing/rng.ts';
import { primitiveDelta, primitiveSnapshot } from '../common/op-counts.ts';

const dir = mkdtempSync(join(tmpdir(), 'ctfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CiphertextFile', () => {
  it('appendParts writes the parts back to back, in order with append: the same file as appending the joined bytes', () => {
    const rng = mulberry32(5);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
    const list = [[bytes(100), bytes(3000)], [bytes(7)], [bytes(1), bytes(0), bytes(5000)], [bytes(64)]];
    const a = mkdtempSync(join(dir, 'parts-'));
    const b = mkdtempSync(join(dir, 'whole-'));
    const wa = new CiphertextFileWriter(a);
    const wb = new CiphertextFileWriter(b);
    list.forEach((parts, i) => {
      const joined = Buffer.concat(parts);
      if (i === 3) wa.append(joined); // mixed with the buffered path: order kept
      else wa.appendParts(parts);
      wb.append(joined);
    });
    wa.close();
    wb.close();
    const fa = new CiphertextFile(a);
    const fb = new CiphertextFile(b);
    try {
      expect(fa.count).toBe(list.length);
      for (let c = 0; c < list.length; c++) expect(Buffer.from(fa.get(c))).toEqual(Buffer.from(fb.get(c)));
      expect(readFileSync(join(a, 'ciphertexts.bin')).equals(readFileSync(join(b, 'ciphertexts.bin')))).toBe(true);
      expect(readFileSync(join(a, 'offsets.bin')).equals(readFileSync(join(b, 'offsets.bin')))).toBe(true);
    } finally {
      fa.close();
      fb.close();
    }
  });

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

  it('readSplit fills head and rest with ciphertext c\'s bytes when the lengths add up, and refuses otherwise', () => {
    const sub = mkdtempSync(join(dir, 'split-'));
    const cts = [5000, 70_000, 12].map((n, i) => Uint8Array.from({ length: n }, (_, j) => (j * 13 + i) & 255));
    const w = new CiphertextFileWriter(sub);
    for (const c of cts) w.append(c);
    w.close();
    const f = new CiphertextFile(sub);
    try {
      const head = new Uint8Array(113);
      const rest = new Uint8Array(70_000 - 113);
      expect(f.readSplit(1, head, rest)).toBe(true);
      expect(Buffer.concat([head, rest]).equals(Buffer.from(cts[1]!))).toBe(true);
      expect(f.readSplit(0, head, rest)).toBe(false);
      expect(f.readSplit(2, head, rest)).toBe(false);
      expect(() => f.readSplit(3, head, rest)).toThrow(RangeError);
    } finally {
      f.close();
    }
  });
});

describe('the broker\'s aggregation from its file', () => {
  it('reads ciphertexts straight into SEAL (same totals as SEAL\'s load, one read counted per ciphertext); a stored header that differs is loaded and refused by SEAL', async () => {
    const { media, broker } = await bfvPair();
    const sub = mkdtempSync(join(dir, 'agg-'));
    try {
      const rand = mulberry32(5);
      const vectors = Array.from({ length: 6 * 128 }, () => Uint8Array.from({ length: 64 }, () => (rand() < 0.5 ? 1 : 0)));
      const stored = media.encryptUsers(vectors).map((ct) => broker.toStoredForm(ct));
      const w = new CiphertextFileWriter(sub);
      for (const st of stored) w.append(st);
      w.close();
      const keep = new Uint8Array(vectors.length);
      for (const p of [3, 130, 131, 200, 300, 301, 302, 700, 767]) keep[p] = 1;
      for (let u = 0; u < 40; u++) keep[4 * 128 + u * 2] = 1;
      const positions = [...keep.keys()].filter((p) => keep[p] === 1);
      const totals = new Array<number>(64).fill(0);
      positions.forEach((p) => vectors[p]!.forEach((x, j) => (totals[j]! += x)));
      const zeros = new Array<number>(64).fill(0);
      const f = new CiphertextFile(sub);
      try {
        const before = primitiveSnapshot();
        const calls = { view: 0, readSplit: 0 };
        const counted = {
          view: (c: number) => (calls.view++, f.view(c)),
          readSplit: (c: number, head: Uint8Array, rest: Uint8Array) => (calls.readSplit++, f.readSplit(c, head, rest)),
        };
        const direct = broker.aggregateStored(counted, f.count, positions, zeros);
        expect(primitiveDelta(before).bfvReadStored).toBe(new Set(positions.map((p) => Math.floor(p / 128))).size);
        expect(calls.view).toBe(1); // SEAL loads the first one; every later one is read straight into SEAL's memory
        expect(calls.readSplit).toBeGreaterThan(4);
        expect(media.decryptProfile(direct).totals).toEqual(totals);
        expect(media.decryptProfile(broker.aggregateStored((c) => f.view(c), f.count, positions, zeros)).totals).toEqual(totals);
        // again on the same instance (the model header and the located coefficients are kept)
        expect(media.decryptProfile(broker.aggregateStored(f, f.count, positions.slice(1), zeros)).totals)
          .toEqual(totals.map((x, j) => x - vectors[positions[0]!]![j]!));
      } finally {
        f.close();
      }
      // ciphertext 2 stored in coefficient form (its NTT flag byte cleared): not taken as is
      const bad = stored.map((st) => st.slice());
      bad[2]![16 + 32] = 0;
      const sub2 = mkdtempSync(join(dir, 'agg-bad-'));
      const w2 = new CiphertextFileWriter(sub2);
      for (const st of bad) w2.append(st);
      w2.close();
      const g = new CiphertextFile(sub2);
      try {
        expect(() => broker.aggregateStored(g, g.count, positions, zeros)).toThrow(BfvFormatError);
      } finally {
        g.close();
      }
    } finally {
      broker.dispose();
      media.dispose();
    }
  });
});
