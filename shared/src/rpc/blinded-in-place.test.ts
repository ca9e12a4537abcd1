/**
 * BlindedBatchInPlaceCodec and joinInPlace: the BLIND round's evaluated elements read where
 * media's messages carry them. Checked against the generic protobuf decoder (BlindedBatchCodec)
 * on every layout the packed decoder's tests use — the same items and offset, or the same
 * refusal — and against joinBatches; the regular layout is read without a copy.
 */
import { describe, expect, it } from 'vitest';
import { PackedList } from '../common/packed-list.ts';
import { ELEMENT_BYTES, randomElement } from '../crypto/group.ts';
import { BlindedBatchCodec, BlindedBatchInPlaceCodec, joinBatches, joinInPlace, PackedBlindedBatchCodec, splitBatches, splitPacked } from './codec.ts';
import { refusalReason } from '../testing/refusal.ts';
import { unpad } from '../protocol/padding.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const items = (n: number): Uint8Array[] => Array.from({ length: n }, () => randomElement());
const all = (s: { length: number; at(i: number): Uint8Array }): string[] => Array.from({ length: s.length }, (_, i) => hex(s.at(i)));
const reason = refusalReason;

describe('BlindedBatchInPlaceCodec', () => {
  it('reads the packed layout in place (views of the message bytes) for every offset width and an empty batch', () => {
    for (const [offset, n] of [[0, 3], [1, 1], [127, 2], [128, 2], [16_384, 5], [2_097_151, 1], [1e9, 2], [0, 0], [300, 0]] as const) {
      const arr = items(n);
      const wire = PackedBlindedBatchCodec.encode({ offset, items: PackedList.from(arr, ELEMENT_BYTES) });
      const back = BlindedBatchInPlaceCodec.decode(wire);
      expect(back.offset).toBe(offset);
      expect(all(back.items)).toEqual(arr.map(hex));
      if (n > 0) expect(back.items.at(0).buffer).toBe(wire.buffer); // not copied
      expect(hex(BlindedBatchInPlaceCodec.encode(back))).toBe(hex(wire));
    }
  });

  it('decodes other field orders, repeated offsets and unknown fields as the generic decoder does', () => {
    const [a, b] = items(2);
    const el = (e: Uint8Array) => [0x1a, 0x20, ...e];
    for (const c of [
      [...el(a!), 0x10, 0x07, ...el(b!)],
      [0x10, 0x05, ...el(a!), 0x10, 0x09],
      [0x10, 0x80, 0x01, ...el(b!)],
      [0x08, 0x01, ...el(a!)],
      [0x10, 0x85, 0x00, ...el(a!)],
      [...el(a!)],
    ]) {
      const wire = new Uint8Array(c);
      const got = BlindedBatchInPlaceCodec.decode(wire);
      const generic = BlindedBatchCodec.decode(wire);
      expect(got.offset).toBe(generic.offset);
      expect(all(got.items)).toEqual(generic.items.map(hex));
    }
  });

  it('refuses truncated bytes, an offset above the bound and an element of another length as the generic decoder does', () => {
    const wire = PackedBlindedBatchCodec.encode({ offset: 3, items: PackedList.from(items(3), ELEMENT_BYTES) });
    for (let cut = 1; cut < wire.length; cut += 7) {
      const bytes = wire.subarray(0, cut);
      let generic: string | undefined;
      try {
        BlindedBatchCodec.decode(bytes);
      } catch (e) {
        generic = (e as Error).message;
      }
      if (generic === undefined) expect(() => BlindedBatchInPlaceCodec.decode(bytes)).not.toThrow();
      else expect(reason(() => BlindedBatchInPlaceCodec.decode(bytes))).toBe(generic);
    }
    const far = new Uint8Array([0x10, 0x81, 0x94, 0xeb, 0xdc, 0x03]); // 1,000,000,001
    expect(reason(() => BlindedBatchInPlaceCodec.decode(far))).toBe(reason(() => BlindedBatchCodec.decode(far)));
    // a regular layout but for one element of 33 bytes: refused, naming it
    const odd = BlindedBatchCodec.encode({ offset: 0, items: [randomElement(), new Uint8Array(33), randomElement()] });
    expect(reason(() => BlindedBatchInPlaceCodec.decode(odd))).toMatch(/^element 1: expected a 32-byte Uint8Array, got 33 bytes/);
  });
});

describe('joinInPlace', () => {
  it('equals joinBatches over any cut, refuses gaps, and bounds its index', () => {
    const arr = items(1000);
    for (const [maxItems, maxBytes] of [[64, 1 << 20], [1000, 100 * ELEMENT_BYTES], [7, 5 * ELEMENT_BYTES + 3], [1000, 1 << 20]] as const) {
      const wires = splitPacked(PackedList.from(arr, ELEMENT_BYTES), maxItems, maxBytes).map((b) => PackedBlindedBatchCodec.encode(b));
      const joined = joinInPlace(wires.map((w) => BlindedBatchInPlaceCodec.decode(w)), 'x');
      expect(joined.length).toBe(1000);
      expect(all(joined)).toEqual(joinBatches(splitBatches(arr, maxItems, maxBytes), 'x').map(hex));
      expect(() => joined.at(1000)).toThrow(RangeError);
      expect(() => joined.at(-1)).toThrow(RangeError);
    }
    const b = splitPacked(PackedList.from(arr, ELEMENT_BYTES), 100, 1 << 20).map((x) => BlindedBatchInPlaceCodec.decode(PackedBlindedBatchCodec.encode(x)));
    expect(() => joinInPlace([b[0]!, b[2]!], 'evaluated elements')).toThrow(/evaluated elements: expected a batch at offset 100, got offset 200/);
  });

  it('unpad reads A\'s elements from it as from the packed join', () => {
    const evaluated = items(300);
    const padMap = Int32Array.from({ length: 300 }, (_, i) => (i % 10 === 3 ? (i - 3) / 10 : -1));
    const wires = splitPacked(PackedList.from(evaluated, ELEMENT_BYTES), 64, 1 << 20).map((x) => PackedBlindedBatchCodec.encode(x));
    const inPlace = unpad(joinInPlace(wires.map((w) => BlindedBatchInPlaceCodec.decode(w)), 'x'), padMap, 30);
    expect(inPlace.toArray().map(hex)).toEqual(unpad(PackedList.from(evaluated, ELEMENT_BYTES), padMap, 30).toArray().map(hex));
    expect(inPlace.toArray().map(hex)).toEqual(evaluated.filter((_, i) => i % 10 === 3).map(hex));
  });
});
