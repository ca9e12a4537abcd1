// CiphertextFile: get and view return exactly ciphertext c (view in a reused buffer), and
// refuse indices outside the file; readSplit reads it into two buffers; the ciphertexts are
// split into segment files of a fixed count, written in order or at their places by other
// writers (the broker's sync workers) to the same bytes, read across segment boundaries, the
// layout before segments (one file) still read, a missing or short segment refused at open;
// the broker's aggregation straight from the files (readSplit into SEAL's memory) gives the
// same totals as through SEAL's load, and a ciphertext whose stored header differs goes
// through SEAL's checks.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CiphertextFile, CiphertextFileWriter, CiphertextPlaceWriter, segmentPath } from './ciphertext-file.ts';
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
      expect(readFileSync(segmentPath(a, 0)).equals(readFileSync(segmentPath(b, 0)))).toBe(true);
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

  it('splits the ciphertexts into segment files of a fixed count, read across their boundaries; places written by other writers give the same bytes; the one-file layout is still read; a missing or short segment is refused', () => {
    const sub = mkdtempSync(join(dir, 'segments-'));
    const len = 1000; // fixed, as the broker's stored form
    const cts = Array.from({ length: 11 }, (_, i) => Uint8Array.from({ length: len }, (_, j) => (j * 17 + i * 29) & 255));
    const seq = join(sub, 'seq');
    const w = new CiphertextFileWriter(seq, 4);
    cts.forEach((c, i) => (i % 2 === 0 ? w.append(c) : w.appendParts([c.subarray(0, 100), c.subarray(100)])));
    w.close();
    expect(readdirSync(join(seq, 'ciphertexts')).sort()).toEqual(['0000000000.bin', '0000000004.bin', '0000000008.bin']);
    const f = new CiphertextFile(seq);
    try {
      expect(f.count).toBe(11);
      for (const c of [3, 4, 0, 10, 7, 8]) expect(Buffer.from(f.view(c)).equals(Buffer.from(cts[c]!)), `ciphertext ${c}`).toBe(true);
      const head = new Uint8Array(10);
      const rest = new Uint8Array(len - 10);
      expect(f.readSplit(8, head, rest)).toBe(true);
      expect(Buffer.concat([head, rest]).equals(Buffer.from(cts[8]!))).toBe(true);
    } finally {
      f.close();
    }

    // the sync workers' path: segment files created at their lengths, written out of order at their places
    const placed = join(sub, 'placed');
    const pw = new CiphertextFileWriter(placed, 4);
    const places = pw.reserve(cts.length, len);
    const out = new CiphertextPlaceWriter(places);
    for (const c of [10, 3, 4, 0, 9, 1, 2, 8, 5, 7, 6]) out.write(c, [cts[c]!.subarray(0, 7), cts[c]!.subarray(7)]);
    out.close();
    for (let c = 0; c < cts.length; c++) pw.appendWritten(len);
    pw.close();
    for (const first of [0, 4, 8]) expect(readFileSync(segmentPath(placed, first)).equals(readFileSync(segmentPath(seq, first))), `segment ${first}`).toBe(true);
    expect(readFileSync(join(placed, 'offsets.bin')).equals(readFileSync(join(seq, 'offsets.bin')))).toBe(true);

    // the layout before segments: one ciphertexts.bin, read as one segment
    const old = join(sub, 'old');
    const wo = new CiphertextFileWriter(old, 100);
    for (const c of cts) wo.append(c);
    wo.close();
    renameSync(segmentPath(old, 0), join(old, 'ciphertexts.bin'));
    rmSync(join(old, 'ciphertexts'), { recursive: true });
    expect(CiphertextFile.exists(old)).toBe(true);
    const g = new CiphertextFile(old);
    try {
      for (const c of [10, 0, 5]) expect(Buffer.from(g.get(c)).equals(Buffer.from(cts[c]!))).toBe(true);
    } finally {
      g.close();
    }

    // a segment missing, short, or beyond the ciphertexts: refused at open, naming the file
    const broken = join(sub, 'broken');
    const wb = new CiphertextFileWriter(broken, 4);
    for (const c of cts) wb.append(c);
    wb.close();
    renameSync(segmentPath(broken, 4), join(sub, 'aside.bin'));
    expect(() => new CiphertextFile(broken)).toThrow(/0000000000\.bin: expected 8000 bytes \(ciphertexts 0\.\.7\), got 4000/);
    copyFileSync(join(sub, 'aside.bin'), segmentPath(broken, 4));
    truncateSync(segmentPath(broken, 8), 2999);
    expect(() => new CiphertextFile(broken)).toThrow(/0000000008\.bin: expected 3000 bytes \(ciphertexts 8\.\.10\), got 2999/);
    truncateSync(segmentPath(broken, 8), 3000);
    copyFileSync(segmentPath(broken, 0), segmentPath(broken, 12));
    expect(() => new CiphertextFile(broken)).toThrow(/0000000012\.bin: a segment from ciphertext 12, beyond the 11 ciphertexts/);
    rmSync(segmentPath(broken, 12));
    rmSync(segmentPath(broken, 0));
    expect(() => new CiphertextFile(broken)).toThrow(/expected the first segment to start at ciphertext 0, got 4/);
  });

  it('a reader keeps a bounded number of segment files open, and close() releases them all', () => {
    const sub = mkdtempSync(join(dir, 'many-'));
    const w = new CiphertextFileWriter(sub, 1);
    for (let i = 0; i < 40; i++) w.append(Uint8Array.of(i, i + 1));
    w.close();
    const openIn = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(sub);
      } catch {
        return false;
      }
    }).length;
    const f = new CiphertextFile(sub);
    for (let round = 0; round < 2; round++) for (let c = 0; c < 40; c++) expect(Array.from(f.view(c))).toEqual([c, c + 1]);
    expect(openIn()).toBeGreaterThan(0);
    expect(openIn()).toBeLessThanOrEqual(16);
    f.close();
    expect(openIn()).toBe(0);
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
      const w = new CiphertextFileWriter(sub, 4); // two segment files: 0–3 and 4–5
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
