/**
 * Sorted record files (record-file.ts): a table spilled by first byte and sorted per bucket
 * finds every key it holds at its first occurrence and no key it lacks — keys sharing their
 * first six bytes (the in-memory sample's resolution) and duplicate keys included — as one
 * file or as bucket files, which read every range as the single file does.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appender, BucketFilesWriter, BucketScratch, BUCKETS, bucketFile, f64File, readAll, RecordFile, sortRecords } from './record-file.ts';
import { mulberry32 } from '../testing/rng.ts';

const WIDTH = 20;
const KEY = 16;

describe('RecordFile', () => {
  it('finds the first record of every key it holds, and none it lacks, in one file or in bucket files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-records-'));
    const rng = mulberry32(11);
    const n = 6000;
    const recs = new Uint8Array(n * WIDTH);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < WIDTH; j++) recs[i * WIDTH + j] = Math.floor(rng() * 256);
      if (i % 7 === 1) recs.copyWithin(i * WIDTH, (i - 1) * WIDTH, (i - 1) * WIDTH + 6); // same 6-byte prefix, other key
      if (i % 11 === 2) recs.copyWithin(i * WIDTH, (i - 1) * WIDTH, (i - 1) * WIDTH + KEY); // duplicate key, other value
      if (i % 5 === 0) recs[i * WIDTH] = 42; // a crowded bucket
    }
    const spill = Array.from({ length: BUCKETS }, (_, b) => new Appender(join(dir, `s-${b}`), 256));
    for (let i = 0; i < n; i++) spill[recs[i * WIDTH]!]!.write(recs.subarray(i * WIDTH, (i + 1) * WIDTH));
    for (const a of spill) a.close();
    // the same table in both layouts: one file with its index, and bucket files (a few buckets
    // left empty, as a small table has: their files exist and are empty)
    const out = new Appender(join(dir, 't.bin'));
    const files = new BucketFilesWriter(join(dir, 't'));
    const idx = new Float64Array(BUCKETS + 1);
    for (let b = 0; b < BUCKETS; b++) {
      idx[b] = out.size / WIDTH;
      const raw = b % 50 === 3 ? new Uint8Array(0) : readAll(join(dir, `s-${b}`));
      if (raw.length === 0) continue;
      const w = files.bucket(b);
      for (const i of sortRecords(raw, WIDTH, raw.length / WIDTH, KEY, () => 0)) {
        out.write(raw.subarray(i * WIDTH, (i + 1) * WIDTH));
        w.write(raw.subarray(i * WIDTH, (i + 1) * WIDTH));
      }
    }
    idx[BUCKETS] = out.size / WIDTH;
    out.close();
    files.close();
    f64File(join(dir, 't.idx'), idx);

    const one = new RecordFile(join(dir, 't.bin'), WIDTH);
    const all = one.read(0, one.count);
    const firstOf = (key: Uint8Array): number => {
      for (let i = 0; i < one.count; i++) if (Buffer.compare(all.subarray(i * WIDTH, i * WIDTH + KEY), key) === 0) return i;
      return -1;
    };
    const bucketed = new RecordFile(join(dir, 't'), WIDTH);
    expect(bucketed.count).toBe(one.count);
    expect(Array.from(bucketed.idx)).toEqual(Array.from(one.idx));
    // any range, across bucket files too, reads the same bytes
    expect(Buffer.from(bucketed.read(0, bucketed.count)).equals(Buffer.from(all))).toBe(true);
    for (const [from, to] of [[0, 1], [17, 900], [one.idx[42]! - 3, one.idx[43]! + 2], [one.count - 5, one.count]] as const) {
      expect(Buffer.from(bucketed.read(from, to)).equals(Buffer.from(one.read(from, to))), `${from}…${to}`).toBe(true);
    }
    for (let b = 0; b < BUCKETS; b++) expect(Buffer.from(bucketed.bucket(b)).equals(Buffer.from(one.bucket(b))), `bucket ${b}`).toBe(true);
    for (const f of [one, bucketed]) {
      for (let i = 0; i < n; i += 3) {
        const key = recs.slice(i * WIDTH, i * WIDTH + KEY);
        expect(f.find(key, KEY)).toBe(firstOf(key));
        if (key[0]! % 50 !== 3) expect(f.find(key, KEY)).toBeGreaterThanOrEqual(0);
        const absent = key.slice();
        absent[KEY - 1]! ^= 0x5a;
        expect(f.find(absent, KEY)).toBe(firstOf(absent));
      }
      f.close();
      expect(() => f.read(0, 1)).toThrow(/read after close/);
      f.close(); // idempotent
    }
    // a bucket file missing, or cut mid-record: refused on open, naming it
    writeFileSync(bucketFile(join(dir, 't'), 7), new Uint8Array(WIDTH + 1));
    expect(() => new RecordFile(join(dir, 't'), WIDTH)).toThrow(/07\.bin: expected 20-byte records, got 21 bytes/);
    const { rmSync } = await import('node:fs');
    rmSync(bucketFile(join(dir, 't'), 7));
    expect(() => new RecordFile(join(dir, 't'), WIDTH)).toThrow(/expected 256 bucket files, .*07\.bin is missing/);
    // bucket files are written in ascending order, each once
    const w = new BucketFilesWriter(join(dir, 'w'));
    w.bucket(5);
    expect(() => w.bucket(5)).toThrow(/expected bucket 6…255 in ascending order, got 5/);
    w.close();
  });

  it('Appender.writeUtf8 appends the UTF-8 bytes of each string, across buffer flushes and longer than the buffer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-utf8-'));
    const texts = ['u-1', '', 'é中文🙂', 'x'.repeat(100), 'ascii:_.-', '🙂'.repeat(30), 'z'];
    const a = new Appender(join(dir, 'u.bin'), 64);
    const lengths = texts.map((t) => a.writeUtf8(t));
    a.close();
    expect(lengths).toEqual(texts.map((t) => Buffer.byteLength(t, 'utf8')));
    expect(Buffer.from(readAll(join(dir, 'u.bin')))).toEqual(Buffer.from(texts.join(''), 'utf8'));
  });

  it('Appender.append and appendU32 write the same bytes as write, across flushes and longer than the buffer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-append-'));
    const src = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff);
    const a = new Appender(join(dir, 'a.bin'), 64);
    const b = new Appender(join(dir, 'b.bin'), 64);
    const parts: [number, number][] = [[0, 16], [5, 0], [7, 60], [1, 200], [250, 50], [3, 3]];
    for (const [start, length] of parts) {
      a.append(src, start, length);
      a.appendU32(0xdeadbeef ^ start);
      b.write(src.subarray(start, start + length));
      const u = new Uint8Array(4);
      new DataView(u.buffer).setUint32(0, (0xdeadbeef ^ start) >>> 0, true);
      b.write(u);
    }
    expect(a.size).toBe(b.size);
    a.close();
    b.close();
    expect(Buffer.from(readAll(join(dir, 'a.bin')))).toEqual(Buffer.from(readAll(join(dir, 'b.bin'))));
  });

  it('sortRecords orders as the comparator sort did: 48-bit prefix, key bytes, tie, then index', () => {
    const rng = mulberry32(5);
    for (const n of [0, 1, 2, 3, 100, 5000]) {
      const recs = new Uint8Array(n * WIDTH);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < WIDTH; j++) recs[i * WIDTH + j] = Math.floor(rng() * 256);
        if (i % 2 === 0) recs.fill(7, i * WIDTH, i * WIDTH + 3); // shared leading bytes: equal top bits
        if (i % 7 === 1) recs.copyWithin(i * WIDTH, (i - 1) * WIDTH, (i - 1) * WIDTH + 6); // same 6-byte prefix, other key
        if (i % 11 === 2) recs.copyWithin(i * WIDTH, (i - 1) * WIDTH, (i - 1) * WIDTH + KEY); // duplicate key
        if (i % 13 === 3) recs.copyWithin(i * WIDTH, (i - 1) * WIDTH, i * WIDTH); // duplicate record
      }
      const dv = new DataView(recs.buffer);
      const tie = (x: number, y: number): number => dv.getUint32(x * WIDTH + KEY, true) - dv.getUint32(y * WIDTH + KEY, true);
      const byKey = (x: number, y: number): number => {
        for (let j = 0; j < KEY; j++) {
          const d = recs[x * WIDTH + j]! - recs[y * WIDTH + j]!;
          if (d !== 0) return d;
        }
        return 0;
      };
      const all = Array.from({ length: n }, (_, i) => i);
      expect(Array.from(sortRecords(recs, WIDTH, n, KEY, tie))).toEqual([...all].sort((x, y) => byKey(x, y) || tie(x, y) || x - y));
      expect(Array.from(sortRecords(recs, WIDTH, n, KEY, () => 0))).toEqual([...all].sort((x, y) => byKey(x, y) || x - y));
    }
  });
});

describe('BucketScratch', () => {
  it('reads and sorts each bucket as readAll and sortRecords do, in buffers it reuses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-scratch-'));
    const rng = mulberry32(5);
    const sizes = [900, 3000, 1200, 0, 2999]; // growing, shrinking, empty
    const scratch = new BucketScratch();
    const buffers = new Set<ArrayBufferLike>();
    const orders = new Set<ArrayBufferLike>();
    sizes.forEach((n, b) => {
      const recs = Uint8Array.from({ length: n * WIDTH }, (_, i) => (i % WIDTH < 2 ? 7 : Math.floor(rng() * 256))); // shared prefixes: the comparator runs
      writeFileSync(join(dir, `b-${b}`), recs);
      const raw = scratch.read(join(dir, `b-${b}`));
      expect(Buffer.from(raw).equals(Buffer.from(readAll(join(dir, `b-${b}`))))).toBe(true);
      const dv = new DataView(raw.buffer, raw.byteOffset);
      const tie = (x: number, y: number) => dv.getUint32(x * WIDTH + KEY, true) - dv.getUint32(y * WIDTH + KEY, true);
      const order = scratch.sort(raw, WIDTH, n, KEY, tie);
      expect([...order]).toEqual([...sortRecords(recs, WIDTH, n, KEY, tie)]);
      if (n > 0) {
        buffers.add(raw.buffer);
        orders.add(order.buffer);
      }
    });
    expect(scratch.read(join(dir, 'absent')).length).toBe(0);
    // one buffer for the first bucket, one when a larger one came, then reused
    expect(buffers.size).toBe(2);
    expect(orders.size).toBe(2);
  });
});
