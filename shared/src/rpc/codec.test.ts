// Batch codecs (codec.ts): items come back byte for byte, in order; an item of the wrong length
// in a fixed-size batch is refused with an error naming the item; media's universe tokens are
// TOKEN_BYTES (12) each, and a 16-byte token (the former width) is refused; so are bad entries of
// the universe sync's token and label pages (decoded without a field name per entry when valid).
import { describe, expect, it } from 'vitest';
import { BlindedBatchCodec, CiphertextBatchCodec, CiphertextBatchWriter, EncodedCiphertextBatchCodec, LabelBatchCodec, UniverseLabelsCodec, UniverseTokensCodec, splitBatches } from './codec.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { decodePayload, encodePayload, warmPayloadTypes, type PayloadType } from './proto.ts';
import { PackedBlindedBatchCodec } from './codec.ts';
import { CohortProfileCodec } from './codec.ts';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';

describe('batch codecs', () => {
  it('decode gives back every item byte for byte, in order, with the offset', () => {
    const items = Array.from({ length: 3000 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (i * 31 + j) & 255));
    const got = BlindedBatchCodec.decode(BlindedBatchCodec.encode({ offset: 16384, items }));
    expect(got.offset).toBe(16384);
    expect(got.items.length).toBe(items.length);
    got.items.forEach((x, i) => expect(Buffer.from(x)).toEqual(Buffer.from(items[i]!)));
  });

  it('BlindedBatch has one decoder for both shapes: the bytes and items of the protobuf (generic) codec, an odd element length still decoded for the roles to refuse', () => {
    const el = (i: number, n = 32) => Uint8Array.from({ length: n }, (_, j) => (i * 7 + j * 13) & 255);
    for (const offset of [0, 5, 127, 128, 16_384, 1e9]) {
      for (const count of [0, 1, 3, 300]) {
        const items = Array.from({ length: count }, (_, i) => el(i));
        const wire = BlindedBatchCodec.encode({ offset, items });
        expect(Buffer.from(wire).equals(Buffer.from(encodePayload('cleanroom.v1.BlindedBatch', { offset, elements: items })))).toBe(true);
        const got = BlindedBatchCodec.decode(wire);
        const generic = decodePayload<{ offset: number; elements: Uint8Array[] }>('cleanroom.v1.BlindedBatch', wire);
        expect(got.offset).toBe(Number(generic.offset ?? 0));
        expect(got.items.map((x) => Buffer.from(x).toString('hex'))).toEqual((generic.elements ?? []).map((x) => Buffer.from(x).toString('hex')));
        expect(PackedBlindedBatchCodec.decode(wire).items.toArray().map((x) => Buffer.from(x).toString('hex'))).toEqual(got.items.map((x) => Buffer.from(x).toString('hex')));
      }
    }
    // a 33-byte element: the array shape decodes it (the role refuses it with its index), the packed shape refuses it here
    const odd = BlindedBatchCodec.encode({ offset: 2, items: [el(0), el(1, 33), el(2)] });
    expect(Buffer.from(odd).equals(Buffer.from(encodePayload('cleanroom.v1.BlindedBatch', { offset: 2, elements: [el(0), el(1, 33), el(2)] })))).toBe(true);
    expect(BlindedBatchCodec.decode(odd).items.map((x) => x.length)).toEqual([32, 33, 32]);
    expect(() => PackedBlindedBatchCodec.decode(odd)).toThrow(/element 1: expected a 32-byte Uint8Array, got 33 bytes/);
  });

  it('refuses an item of the wrong length in a fixed-size batch, naming it', () => {
    const ok = new Uint8Array(LABEL_BOX_BYTES);
    const bytes = LabelBatchCodec.encode({ offset: 0, items: [ok, new Uint8Array(LABEL_BOX_BYTES - 1), ok] });
    expect(() => LabelBatchCodec.decode(bytes)).toThrow(/boxes\[1\].*expected \d+ bytes, got \d+/);
    expect(LabelBatchCodec.decode(LabelBatchCodec.encode({ offset: 0, items: [ok, ok] })).items.length).toBe(2);
  });

  it('universe tokens are TOKEN_BYTES (12) each: the former 16-byte width is refused, naming the token', () => {
    expect(TOKEN_BYTES).toBe(12);
    const ok = new Uint8Array(TOKEN_BYTES).fill(7);
    const good = UniverseTokensCodec.decode(UniverseTokensCodec.encode({ idType: 'phone', offset: 0, tokens: [ok, ok], positions: [0, 1] }));
    expect(good.tokens.map((t) => t.length)).toEqual([12, 12]);
    const old = UniverseTokensCodec.encode({ idType: 'phone', offset: 0, tokens: [ok, new Uint8Array(16)], positions: [0, 1] });
    expect(() => UniverseTokensCodec.decode(old)).toThrow(/tokens\[1\].*expected 12 bytes, got 16/);
  });
});

describe('universe sync pages', () => {
  const token = (i: number) => Uint8Array.from({ length: TOKEN_BYTES }, (_, j) => (i * 7 + j) & 255);

  it('a token page comes back byte for byte with its positions; a bad token or position is named', () => {
    const tokens = Array.from({ length: 1000 }, (_, i) => token(i));
    const positions = tokens.map((_, i) => (i * 7919) % 100_000);
    const got = UniverseTokensCodec.decode(UniverseTokensCodec.encode({ idType: 'phone', offset: 5, tokens, positions }));
    expect(got.idType).toBe('phone');
    expect(got.offset).toBe(5);
    expect(got.positions).toEqual(positions);
    got.tokens.forEach((x, i) => expect(Buffer.from(x)).toEqual(Buffer.from(tokens[i]!)));
    const short = UniverseTokensCodec.encode({ idType: 'phone', offset: 0, tokens: [token(0), token(1).subarray(0, TOKEN_BYTES - 1)], positions: [0, 1] });
    expect(() => UniverseTokensCodec.decode(short)).toThrow(new RegExp(`tokens\\[1\\].*expected ${TOKEN_BYTES} bytes, got ${TOKEN_BYTES - 1}`));
  });

  it('a label page refuses a box of the wrong length, naming it', () => {
    const ok = new Uint8Array(LABEL_BOX_BYTES);
    const bad = UniverseLabelsCodec.encode({ idType: 'email', offset: 0, boxes: [ok, ok, new Uint8Array(LABEL_BOX_BYTES + 1)] });
    expect(() => UniverseLabelsCodec.decode(bad)).toThrow(/boxes\[2\].*expected \d+ bytes, got \d+/);
    expect(UniverseLabelsCodec.decode(UniverseLabelsCodec.encode({ idType: 'email', offset: 3, boxes: [ok] })).boxes.length).toBe(1);
  });
});

describe('CiphertextBatchWriter', () => {
  /** Items of the given sizes, each filled in its place, and the same items as plain arrays. */
  function written(sizes: number[], maxItems: number, maxBytes: number, expectedItems = 0): { payloads: Uint8Array[]; items: Uint8Array[] } {
    const w = new CiphertextBatchWriter(maxItems, maxBytes, expectedItems);
    const items = sizes.map((n, i) => {
      const place = w.next(n);
      for (let b = 0; b < n; b++) place[b] = (i * 7 + b * 13) & 255;
      return place.slice();
    });
    return { payloads: w.finish(), items };
  }

  it('gives byte for byte CiphertextBatchCodec.encode of the batches splitBatches cuts (offsets past 127, items past 127 and 16,383 bytes, a larger item alone, none)', () => {
    for (const [sizes, maxItems, maxBytes] of [
      [Array.from({ length: 300 }, (_, i) => 1 + (i % 5)), 128, 1 << 20],
      [[196_802, 196_802, 196_802, 196_802, 196_802], 1024, 3 * 196_802],
      [[10, 500_000, 20, 20, 16_384, 200], 1024, 1000],
      [[0, 0, 5], 2, 10],
      [[], 1024, 100],
    ] as [number[], number, number][]) {
      const { payloads, items } = written(sizes, maxItems, maxBytes);
      const want = splitBatches(items, maxItems, maxBytes).map((b) => CiphertextBatchCodec.encode(b));
      expect(payloads.map((p) => Buffer.from(p).toString('hex'))).toEqual(want.map((p) => Buffer.from(p).toString('hex')));
      // and they decode to the items, in order, with their offsets
      const back = payloads.flatMap((p) => {
        const b = CiphertextBatchCodec.decode(EncodedCiphertextBatchCodec.decode(p));
        return b.items.map((item, i) => ({ at: b.offset + i, item: Buffer.from(item).toString('hex') }));
      });
      expect(back).toEqual(items.map((item, at) => ({ at, item: Buffer.from(item).toString('hex') })));
    }
  });

  it('with expectedItems, carves every batch out of one buffer and gives the same payloads, whatever items actually come', () => {
    const ct = 196_802;
    const uniform = Array.from({ length: 7 }, () => ct);
    // 7 items of one size, 3 per batch: three payloads, one ArrayBuffer behind them
    const one = written(uniform, 1024, 3 * ct, 7);
    expect(one.payloads).toHaveLength(3);
    expect(new Set(one.payloads.map((p) => p.buffer)).size).toBe(1);
    expect(one.payloads.map((p) => Buffer.from(p).toString('hex'))).toEqual(written(uniform, 1024, 3 * ct).payloads.map((p) => Buffer.from(p).toString('hex')));
    // fewer or more items than expected, items of other sizes, a larger one alone, none: byte for byte the batches splitBatches cuts
    for (const [sizes, maxItems, maxBytes, expected] of [
      [uniform, 1024, 3 * ct, 3],
      [uniform, 1024, 3 * ct, 20],
      [[ct, ct, ct + 5, ct - 5, 2 * ct, 10, ct], 1024, 3 * ct, 7],
      [[10, 500_000, 20, 20, 16_384, 200], 1024, 1000, 6],
      [[5, 5, 5, 5, 5], 2, 10, 5],
      [[0, 0, 5], 2, 10, 3],
      [[], 1024, 100, 4],
    ] as [number[], number, number, number][]) {
      const { payloads, items } = written(sizes, maxItems, maxBytes, expected);
      const want = splitBatches(items, maxItems, maxBytes).map((b) => CiphertextBatchCodec.encode(b));
      expect(payloads.map((p) => Buffer.from(p).toString('hex')), `${sizes.length} items, ${expected} expected`).toEqual(want.map((p) => Buffer.from(p).toString('hex')));
    }
    expect(() => new CiphertextBatchWriter(10, 100, -1)).toThrow(RangeError);
    expect(() => new CiphertextBatchWriter(10, 100, 1.5)).toThrow(RangeError);
  });

  it('release() frees its own buffers (the slab, a batch moved out of it) and never a pooled Buffer', () => {
    const ct = 196_802;
    const w = new CiphertextBatchWriter(1024, 3 * ct, 4);
    for (const n of [ct, ct, ct, ct, 2 * ct]) w.next(n).fill(1); // the last, larger item: a buffer of its own
    const payloads = w.finish();
    const buffers = new Set(payloads.map((p) => p.buffer));
    expect(buffers.size).toBe(2);
    const before = process.memoryUsage().arrayBuffers;
    w.release();
    expect(payloads.every((p) => p.byteLength === 0)).toBe(true);
    expect(before - process.memoryUsage().arrayBuffers).toBeGreaterThanOrEqual(5 * ct);
    // small batches come from Buffer's shared pool: left alone (a neighbour in the pool keeps its bytes)
    const neighbour = Buffer.from('neighbour');
    const small = new CiphertextBatchWriter(2, 10);
    for (const n of [5, 5, 5]) small.next(n).fill(2);
    const smallPayloads = small.finish();
    small.release();
    expect(smallPayloads.every((p) => p.byteLength > 0)).toBe(true);
    expect(neighbour.toString()).toBe('neighbour');
  });

  it('EncodedCiphertextBatchCodec seals the payload as it is and refuses bytes that are not a CiphertextBatch', () => {
    const { payloads } = written([3, 4], 10, 100);
    expect(EncodedCiphertextBatchCodec.encode(payloads[0]!)).toBe(payloads[0]);
    expect(() => EncodedCiphertextBatchCodec.decode(Uint8Array.of(0x1a, 0x05, 1))).toThrow(/malformed/);
  });

  it('refuses bad sizes and a place asked after finish()', () => {
    expect(() => new CiphertextBatchWriter(0, 10)).toThrow(RangeError);
    expect(() => new CiphertextBatchWriter(10, 0)).toThrow(RangeError);
    const w = new CiphertextBatchWriter(10, 100);
    expect(() => w.next(-1)).toThrow(RangeError);
    expect(() => w.next(1.5)).toThrow(RangeError);
    w.finish();
    expect(() => w.next(1)).toThrow(/after finish/);
  });
});

describe('warmPayloadTypes', () => {
  it('generates the types\' code without changing what they encode and decode; an unknown type is refused', () => {
    const before = Buffer.from(CohortProfileCodec.encode({ outcome: 'COMPLETED', profile: Uint8Array.of(1, 2, 3), audienceSize: 7 })).toString('hex');
    warmPayloadTypes([CohortProfileCodec.type, CiphertextBatchCodec.type]);
    const bytes = CohortProfileCodec.encode({ outcome: 'COMPLETED', profile: Uint8Array.of(1, 2, 3), audienceSize: 7 });
    expect(Buffer.from(bytes).toString('hex')).toBe(before);
    expect(CohortProfileCodec.decode(bytes)).toEqual({ outcome: 'COMPLETED', profile: Uint8Array.of(1, 2, 3), audienceSize: 7 });
    expect(() => warmPayloadTypes(['cleanroom.v1.NoSuchMessage' as PayloadType])).toThrow(/unknown payload type/);
  });
});
