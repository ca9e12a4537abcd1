/**
 * Sorted record files (record-file.ts): a table spilled by first byte and sorted per bucket
 * finds every key it holds at its first occurrence and no key it lacks — keys sharing their
 * first six bytes (the in-memory sample's resolution) and duplicate keys included.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appender, BucketScratch, BUCKETS, f64File, readAll, RecordFile, sortRecords } from './record-file.ts';
import { mulberry32 } from '../testing/rng.ts';

const WIDTH = 20;
const KEY = 16;

describe('RecordFile', () => {
  it('finds the first record of every key it holds, and none it lacks', () => {
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
    const out = new Appender(join(dir, 't.bin'));
    const idx = new Float64Array(BUCKETS + 1);
    for (let b = 0; b < BUCKETS; b++) {
      idx[b] = out.size / WIDTH;
      const raw = readAll(join(dir, `s-${b}`));
      for (const i of sortRecords(raw, WIDTH, raw.length / WIDTH, KEY, () => 0)) out.write(raw.subarray(i * WIDTH, (i + 1) * WIDTH));
    }
    idx[BUCKETS] = out.size / WIDTH;
    out.close();
    f64File(join(dir, 't.idx'), idx);

    const f = new RecordFile(join(dir, 't.bin'), WIDTH);
    const all = f.read(0, f.count);
    const firstOf = (key: Uint8Array): number => {
      for (let i = 0; i < f.count; i++) if (Buffer.compare(all.subarray(i * WIDTH, i * WIDTH + KEY), key) === 0) return i;
      return -1;
    };
    for (let i = 0; i < n; i += 3) {
      const key = recs.slice(i * WIDTH, i * WIDTH + KEY);
      expect(f.find(key, KEY)).toBe(firstOf(key));
      expect(f.find(key, KEY)).toBeGreaterThanOrEqual(0);
      const absent = key.slice();
      absent[KEY - 1]! ^= 0x5a;
      expect(f.find(absent, KEY)).toBe(firstOf(absent));
    }
    f.close();
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
