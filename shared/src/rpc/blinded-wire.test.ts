/**
 * BlindedBatch by hand (blinded-wire.ts) against protobufjs (BlindedBatchCodec): the same bytes
 * out, the same offset and elements in, protobufjs's refusals refused with its wording, and the
 * element and offset checks of codec.ts.
 */
import { describe, expect, it } from 'vitest';
import { BlindedBatchCodec } from './codec.ts';
import { decodePackedBlinded, encodePackedBlinded } from './blinded-wire.ts';
import { encodePayload } from './proto.ts';
import { PackedList } from '../common/packed-list.ts';
import { ELEMENT_BYTES, randomElements } from '../crypto/group.ts';
import { ProtocolError } from '../protocol/messages.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function refusal(f: () => unknown): ProtocolError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('INVALID_ARGUMENT');
    return err as ProtocolError;
  }
  throw new Error('expected a refusal');
}

describe('BlindedBatch by hand', () => {
  it('encodes exactly protobufjs\'s bytes, for any offset and count (0, 1, many; offsets past 2^32)', () => {
    for (const [offset, n] of [[0, 0], [0, 1], [5, 40], [131_072, 3], [2 ** 33 + 7, 2]] as const) {
      const items = randomElements(n);
      expect(hex(encodePackedBlinded(offset, PackedList.from(items, ELEMENT_BYTES)))).toBe(hex(BlindedBatchCodec.encode({ offset, items })));
    }
  });

  it('decodes what protobufjs decodes: offset and elements in order, unknown fields skipped, the last offset kept', () => {
    const items = randomElements(7);
    const back = decodePackedBlinded(BlindedBatchCodec.encode({ offset: 123_456, items }));
    expect(back.offset).toBe(123_456);
    expect(back.items.toArray().map(hex)).toEqual(items.map(hex));
    // an unknown varint field 9, an unknown bytes field 10, a fixed32 field 11 and a second offset, interleaved
    const wire = Buffer.concat([
      Buffer.from([0x10, 0x01, 0x48, 0x96, 0x01, 0x52, 0x02, 0xaa, 0xbb]),
      Buffer.from(BlindedBatchCodec.encode({ offset: 0, items: items.slice(0, 3) })).subarray(2),
      Buffer.from([0x5d, 1, 2, 3, 4, 0x10, 0x09]),
    ]);
    const generic = BlindedBatchCodec.decode(wire);
    const packed = decodePackedBlinded(wire);
    expect(packed.offset).toBe(generic.offset);
    expect(packed.offset).toBe(9);
    expect(packed.items.toArray().map(hex)).toEqual(generic.items.map(hex));
  });

  it('refuses what protobufjs refuses, in its words: truncated, a length beyond the end, an invalid wire type', () => {
    const wire = BlindedBatchCodec.encode({ offset: 1, items: randomElements(2) });
    for (const bad of [wire.subarray(0, wire.length - 1), Uint8Array.from([0x1a, 0x40, 1, 2]), Uint8Array.from([0x0f])]) {
      const generic = refusal(() => BlindedBatchCodec.decode(bad));
      const mine = refusal(() => decodePackedBlinded(bad));
      expect(mine.message.startsWith('malformed cleanroom.v1.BlindedBatch payload: ')).toBe(true);
      expect(generic.message.startsWith('malformed cleanroom.v1.BlindedBatch payload: ')).toBe(true);
    }
    expect(refusal(() => decodePackedBlinded(Uint8Array.from([0x1a, 0x40, 1, 2]))).message).toBe('malformed cleanroom.v1.BlindedBatch payload: index out of range: 2 + 64 > 4');
    // an element under another wire type: refused (protobufjs would read it its own way)
    expect(refusal(() => decodePackedBlinded(Uint8Array.from([0x18, 0x01]))).message).toMatch(/invalid wire type 0 for field 3/);
  });

  it('refuses an element that is not 32 bytes, naming it as checkElement does, and an offset beyond 10^9', () => {
    const wire = encodePayload('cleanroom.v1.BlindedBatch', { offset: 0, elements: [...randomElements(2), new Uint8Array(31)] });
    expect(refusal(() => decodePackedBlinded(wire)).message).toMatch(/^element 2: expected a 32-byte Uint8Array, got 31 bytes/);
    expect(refusal(() => decodePackedBlinded(BlindedBatchCodec.encode({ offset: 1e9 + 1, items: [] }))).message).toMatch(/BlindedBatch\.offset: expected an integer in \[0, 1000000000\], got 1000000001/);
  });
});
