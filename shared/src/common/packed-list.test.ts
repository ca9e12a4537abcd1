/**
 * PackedList answers like the array of Uint8Arrays it replaces (same items, same order, views
 * not copies), refuses items of the wrong width naming the index; the packed BlindedBatch codec
 * is the same wire message as the array codec; the packed padding and the packed OPRF
 * evaluation give exactly what the array versions gave.
 */
import { describe, expect, it } from 'vitest';
import { PackedList } from './packed-list.ts';
import { ELEMENT_BYTES, randomElement } from '../crypto/group.ts';
import { BlindedBatchCodec, checkContiguous, joinBatches, joinPacked, PackedBlindedBatchCodec, splitBatches, splitPacked } from '../rpc/codec.ts';
import { drawDummies, padAndShuffle, unpad } from '../protocol/padding.ts';
import { OprfKey } from '../crypto/oprf.ts';
import { closeOprfWorkers, evaluateBatchParallel, evaluatePackedParallel, PARALLEL_THRESHOLD } from '../crypto/oprf-pool.ts';
import { refusalReason } from '../testing/refusal.ts';
import { ProtocolError } from '../protocol/messages.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const items = (n: number): Uint8Array[] => Array.from({ length: n }, () => randomElement());

describe('PackedList', () => {
  it('holds the items of the array it was built from, in order, as views into one buffer', () => {
    const arr = items(50);
    const p = PackedList.from(arr, ELEMENT_BYTES);
    expect(p.length).toBe(50);
    expect(p.bytes.length).toBe(50 * ELEMENT_BYTES);
    expect(p.toArray().map(hex)).toEqual(arr.map(hex));
    const v = p.at(7);
    expect(v.buffer).toBe(p.bytes.buffer); // a view, not a copy
    v[0] = v[0]! ^ 1;
    expect(p.bytes[7 * ELEMENT_BYTES]).toBe(v[0]);
  });

  it('slice shares the buffer and indexes from its own start; concat joins in order', () => {
    const arr = items(10);
    const p = PackedList.from(arr, ELEMENT_BYTES);
    const s = p.slice(3, 8);
    expect(s.length).toBe(5);
    expect(hex(s.at(0))).toBe(hex(arr[3]!));
    expect(s.bytes.buffer).toBe(p.bytes.buffer);
    const joined = PackedList.concat([p.slice(0, 3), p.slice(3, 10)], ELEMENT_BYTES);
    expect(joined.toArray().map(hex)).toEqual(arr.map(hex));
    expect(PackedList.concat([], ELEMENT_BYTES).length).toBe(0);
  });

  it('refuses wrong widths, indexes and ranges, naming what it expected', () => {
    expect(() => PackedList.from([new Uint8Array(32), new Uint8Array(33)], 32)).toThrow(/expected a 32-byte item at 1, got 33 bytes/);
    expect(() => new PackedList(new Uint8Array(33), 32)).toThrow(/whole number of 32-byte items, got 33 bytes/);
    expect(() => new PackedList(new Uint8Array(32), 0)).toThrow(/item width ≥ 1/);
    const p = PackedList.alloc(3, 32);
    expect(() => p.at(3)).toThrow(/index in \[0, 3\), got 3/);
    expect(() => p.at(-1)).toThrow(RangeError);
    expect(() => p.slice(2, 1)).toThrow(/0 ≤ from ≤ to ≤ 3/);
    expect(() => PackedList.concat([PackedList.alloc(1, 16)], 32)).toThrow(/32-byte items, got one of 16-byte/);
  });
});

describe('the packed BlindedBatch codec and batching', () => {
  it('encodes the same bytes as the array codec and decodes to the same items', () => {
    const arr = items(40);
    const wireArr = BlindedBatchCodec.encode({ offset: 5, items: arr });
    const wirePacked = PackedBlindedBatchCodec.encode({ offset: 5, items: PackedList.from(arr, ELEMENT_BYTES) });
    expect(hex(wirePacked)).toBe(hex(wireArr));
    const back = PackedBlindedBatchCodec.decode(wireArr);
    expect(back.offset).toBe(5);
    expect(back.items.toArray().map(hex)).toEqual(arr.map(hex));
  });

  it('writes the generic encoder\'s bytes for every offset width and an empty batch, and reads them back without it', () => {
    for (const [offset, n] of [[0, 3], [1, 1], [127, 2], [128, 2], [16_384, 5], [2_097_151, 1], [1e9, 2], [0, 0], [300, 0]] as const) {
      const arr = items(n);
      const packed = PackedBlindedBatchCodec.encode({ offset, items: PackedList.from(arr, ELEMENT_BYTES) });
      expect(hex(packed)).toBe(hex(BlindedBatchCodec.encode({ offset, items: arr })));
      const back = PackedBlindedBatchCodec.decode(packed);
      expect(back.offset).toBe(offset);
      expect(back.items.length).toBe(n);
      expect(back.items.toArray().map(hex)).toEqual(arr.map(hex));
    }
  });

  it('decodes any field order, a repeated offset (the last counts) and unknown fields as the generic decoder does', () => {
    const [a, b] = items(2);
    const el = (e: Uint8Array) => [0x1a, 0x20, ...e];
    const cases: number[][] = [
      [...el(a!), 0x10, 0x07, ...el(b!)], // offset between the elements
      [0x10, 0x05, ...el(a!), 0x10, 0x09], // the last offset counts
      [0x10, 0x80, 0x01, ...el(b!)], // offset 128 in two bytes
      [0x08, 0x01, ...el(a!)], // an unknown varint field 1: the generic decoder skips it
      [0x10, 0x85, 0x00, ...el(a!)], // a non-minimal varint (5)
    ];
    for (const c of cases) {
      const wire = new Uint8Array(c);
      const fast = PackedBlindedBatchCodec.decode(wire);
      const generic = BlindedBatchCodec.decode(wire);
      expect(fast.offset).toBe(generic.offset);
      expect(fast.items.toArray().map(hex)).toEqual(generic.items.map(hex));
    }
  });

  it('refuses truncated bytes and an offset above the bound as the generic decoder does', () => {
    const wire = PackedBlindedBatchCodec.encode({ offset: 3, items: PackedList.from(items(2), ELEMENT_BYTES) });
    const reason = refusalReason;
    const cut = wire.subarray(0, wire.length - 5);
    expect(reason(() => PackedBlindedBatchCodec.decode(cut))).toBe(reason(() => BlindedBatchCodec.decode(cut)));
    const far = new Uint8Array([0x10, 0x81, 0x94, 0xeb, 0xdc, 0x03]); // 1,000,000,001
    expect(reason(() => PackedBlindedBatchCodec.decode(far))).toMatch(/offset/);
    expect(reason(() => PackedBlindedBatchCodec.decode(far))).toBe(reason(() => BlindedBatchCodec.decode(far)));
  });

  it('refuses an element of the wrong length with INVALID_ARGUMENT naming its index', () => {
    const wire = BlindedBatchCodec.encode({ offset: 0, items: [randomElement(), new Uint8Array(33)] });
    let err: unknown;
    try {
      PackedBlindedBatchCodec.decode(wire);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('INVALID_ARGUMENT');
    expect((err as ProtocolError).message).toMatch(/^element 1: expected a 32-byte Uint8Array, got 33 bytes/);
  });

  it('splitPacked cuts where splitBatches cuts; joinPacked equals joinBatches and refuses gaps', () => {
    const arr = items(1000);
    const p = PackedList.from(arr, ELEMENT_BYTES);
    for (const [maxItems, maxBytes] of [[64, 1 << 20], [1000, 100 * ELEMENT_BYTES], [7, 5 * ELEMENT_BYTES + 3]] as const) {
      const a = splitBatches(arr, maxItems, maxBytes);
      const b = splitPacked(p, maxItems, maxBytes);
      expect(b.map((x) => [x.offset, x.items.length])).toEqual(a.map((x) => [x.offset, x.items.length]));
      expect(joinPacked(b, 'x').toArray().map(hex)).toEqual(joinBatches(a, 'x').map(hex));
    }
    expect(splitPacked(PackedList.alloc(0, ELEMENT_BYTES), 10, 100)).toEqual([{ offset: 0, items: expect.any(PackedList) }]);
    const b = splitPacked(p, 100, 1 << 20);
    expect(() => joinPacked([b[0]!, b[2]!], 'evaluated elements')).toThrow(/evaluated elements: expected a batch at offset 100, got offset 200/);
    expect(() => checkContiguous([b[1]!], 'blinded elements')).toThrow(/expected a batch at offset 0, got offset 100/);
  });
});

describe('packed padding and evaluation', () => {
  it('padAndShuffle + unpad on packed lists: every real element where padMap says, the dummies elsewhere, A\'s back in order', () => {
    const blinded = items(30);
    const dummies = drawDummies(270);
    expect(dummies.length).toBe(270);
    const { padded, padMap } = padAndShuffle(blinded, dummies, 300, Math.random);
    expect(padded.length).toBe(300);
    const dummySet = new Set(dummies.toArray().map(hex));
    padMap.forEach((src, pos) => {
      if (src >= 0) expect(hex(padded.at(pos))).toBe(hex(blinded[src]!));
      else expect(dummySet.has(hex(padded.at(pos)))).toBe(true);
    });
    expect(new Set(padded.toArray().map(hex)).size).toBe(300); // a permutation: nothing lost or doubled
    const key = OprfKey.generate();
    const evaluated = PackedList.from(padded.toArray().map((e) => key.evaluate(e)), ELEMENT_BYTES);
    expect(unpad(evaluated, padMap, 30).toArray().map(hex)).toEqual(blinded.map((e) => hex(key.evaluate(e))));
    expect(() => unpad(evaluated.slice(0, 299), padMap, 30)).toThrow(/expected 300 evaluated elements from media, got 299/);
  });

  it('evaluatePackedParallel equals evaluateBatchParallel, on the calling thread and on the workers', async () => {
    const key = OprfKey.generate();
    try {
      for (const [n, threads] of [[10, 1], [PARALLEL_THRESHOLD + 77, 2]] as const) {
        const es = items(n);
        const want = (await evaluateBatchParallel(key, es, threads)).map(hex);
        const got = await evaluatePackedParallel(key, PackedList.from(es, ELEMENT_BYTES), threads);
        expect(got.toArray().map(hex)).toEqual(want);
      }
    } finally {
      await closeOprfWorkers();
    }
  });
});
