// The packed universe-sync codecs (sync-codec.ts) against the protobufjs codecs media encodes
// with (codec.ts): a valid page decodes to the same entries, positions, ID type and offset
// (packed or unpacked positions, unknown fields skipped); every truncation of a page, a length
// past its end and an invalid wire type are refused as protobufjs refuses them (the same words;
// the reader positions protobufjs adds to some may differ); an entry of the
// wrong width, a position count that differs, a bad ID type and an offset out of range are
// refused with codec.ts's message, in its order.
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../protocol/messages.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';
import { PackedList } from '../common/packed-list.ts';
import { mulberry32 } from '../testing/rng.ts';
import { UniverseLabelsCodec, UniverseTokensCodec, type UniverseTokens } from './codec.ts';
import { PackedUniverseLabelsCodec, PackedUniverseTokensCodec } from './sync-codec.ts';

const rng = mulberry32(13);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));

function page(n: number, over: Partial<UniverseTokens> = {}): UniverseTokens {
  return { idType: 'email', offset: 3 * 65_536, tokens: Array.from({ length: n }, () => bytes(TOKEN_BYTES)), positions: Array.from({ length: n }, () => Math.floor(rng() * 2 ** 32)), ...over };
}

/** What a decode gives, or how it refuses: the same shape for both codecs. */
function outcome(f: () => { idType: string; offset: number; tokens: Uint8Array[]; positions: number[] }): unknown {
  try {
    const v = f();
    return { idType: v.idType, offset: v.offset, tokens: v.tokens.map((t) => Buffer.from(t).toString('hex')), positions: v.positions };
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return { code: (err as ProtocolError).code, message: (err as Error).message };
  }
}

/** A refusal of malformed wire bytes up to protobufjs's words (its message may add reader positions that differ). */
function words(o: unknown): unknown {
  const m = (o as { message?: string }).message;
  return m === undefined ? o : { ...(o as object), message: m.replace(/^(malformed \S+ payload: (index out of range|invalid wire type \d+)).*$/, '$1') };
}

const oldTokens = (b: Uint8Array) => outcome(() => UniverseTokensCodec.decode(b));
const newTokens = (b: Uint8Array) => outcome(() => {
  const p = PackedUniverseTokensCodec.decode(b);
  return { idType: p.idType, offset: p.offset, tokens: p.tokens.toArray(), positions: Array.from(p.positions) };
});

/** Protobuf bytes by hand: a tag, a varint. */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const field = (n: number, wire: number, body: number[]) => [...varint(n * 8 + wire), ...body];
const len = (b: ArrayLike<number>) => [...varint(b.length), ...Array.from(b)];

describe('PackedUniverseTokensCodec', () => {
  it('decodes a page to exactly what UniverseTokensCodec gives: tokens in one packed buffer, positions in one Uint32Array', () => {
    for (const p of [page(0), page(1), page(1000, { idType: 'phone', offset: 0 }), page(3, { idType: 'device', offset: 1e10 })]) {
      const wire = UniverseTokensCodec.encode(p);
      expect(newTokens(wire)).toEqual(oldTokens(wire));
      const got = PackedUniverseTokensCodec.decode(wire);
      expect(got.tokens.width).toBe(TOKEN_BYTES);
      expect(got.positions).toBeInstanceOf(Uint32Array);
      // its own encoding is media's
      expect(Buffer.from(PackedUniverseTokensCodec.encode(got)).equals(Buffer.from(wire))).toBe(true);
    }
  });

  it('reads unpacked positions and skips unknown fields of every wire type, as protobufjs does', () => {
    const t = [bytes(TOKEN_BYTES), bytes(TOKEN_BYTES)];
    const wire = Uint8Array.from([
      ...field(9, 0, varint(300)), ...field(1, 0, [2]), ...field(2, 0, varint(70_000)),
      ...field(3, 2, len(t[0]!)), ...field(10, 1, [1, 2, 3, 4, 5, 6, 7, 8]), ...field(4, 0, varint(4_000_000_000)),
      ...field(11, 5, [1, 2, 3, 4]), ...field(3, 2, len(t[1]!)), ...field(12, 2, len([1, 2, 3])), ...field(4, 0, varint(5)),
      ...field(13, 3, [...field(1, 0, [1]), ...varint(13 * 8 + 4)]),
    ]);
    const want = oldTokens(wire);
    expect(want).toMatchObject({ idType: 'email', offset: 70_000, positions: [4_000_000_000, 5] });
    expect(newTokens(wire)).toEqual(want);
  });

  it('every truncation of a page is refused (or decoded) exactly as UniverseTokensCodec does it', () => {
    const wire = UniverseTokensCodec.encode(page(4));
    for (let cut = 0; cut < wire.length; cut++) {
      const b = wire.subarray(0, cut);
      expect(words(newTokens(b)), `cut at ${cut}`).toEqual(words(oldTokens(b)));
    }
  });

  it('a length past the end and an invalid wire type: malformed payload, the words protobufjs uses', () => {
    const past = Uint8Array.from([...field(1, 0, [1]), ...field(3, 2, varint(1000)), 1, 2, 3]);
    const badWire = Uint8Array.from([...field(1, 0, [1]), ...field(7, 7, [])]);
    for (const b of [past, badWire]) {
      const want = oldTokens(b);
      expect(want).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^malformed cleanroom\.v1\.UniverseTokens payload: (index out of range|invalid wire type)/) });
      expect(words(newTokens(b))).toEqual(words(want));
    }
  });

  it('refuses a token of the wrong width, a position count that differs, a bad ID type and an out-of-range offset with codec.ts\'s messages, in its order', () => {
    const p = page(3);
    const cases: Uint8Array[] = [
      UniverseTokensCodec.encode({ ...p, tokens: [p.tokens[0]!, bytes(16), p.tokens[2]!] }),
      UniverseTokensCodec.encode({ ...p, tokens: [p.tokens[0]!, bytes(11), bytes(13)] }),
      UniverseTokensCodec.encode({ ...p, positions: [1, 2] }),
      UniverseTokensCodec.encode({ ...p, positions: [1, 2], tokens: [bytes(16), ...p.tokens.slice(1)] }),
      UniverseTokensCodec.encode({ ...p, offset: 1e10 + 1 }),
      Uint8Array.from([...field(1, 0, [0]), ...field(2, 0, [5])]),
      Uint8Array.from([...field(1, 0, [7]), ...field(2, 0, [5])]),
      Uint8Array.from([...field(1, 0, varint(2 ** 31)), ...field(2, 0, varint(2 ** 40))]),
    ];
    for (const b of cases) {
      const want = oldTokens(b);
      expect(want).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(newTokens(b)).toEqual(want);
    }
    expect(newTokens(cases[0]!)).toMatchObject({ message: 'UniverseTokens.tokens[1]: expected 12 bytes, got 16' });
  });
});

describe('PackedUniverseLabelsCodec', () => {
  const oldLabels = (b: Uint8Array) => outcome(() => {
    const v = UniverseLabelsCodec.decode(b);
    return { idType: v.idType, offset: v.offset, tokens: v.boxes, positions: [] };
  });
  const newLabels = (b: Uint8Array) => outcome(() => {
    const v = PackedUniverseLabelsCodec.decode(b);
    return { idType: v.idType, offset: v.offset, tokens: v.boxes.toArray(), positions: [] };
  });

  it('decodes and refuses exactly as UniverseLabelsCodec: valid pages, every truncation, a box of the wrong width', () => {
    const boxes = Array.from({ length: 5 }, () => bytes(LABEL_BOX_BYTES));
    const wire = UniverseLabelsCodec.encode({ idType: 'device', offset: 32_768, boxes });
    expect(newLabels(wire)).toEqual(oldLabels(wire));
    expect(PackedUniverseLabelsCodec.decode(wire).boxes).toBeInstanceOf(PackedList);
    for (let cut = 0; cut < wire.length; cut++) expect(words(newLabels(wire.subarray(0, cut))), `cut at ${cut}`).toEqual(words(oldLabels(wire.subarray(0, cut))));
    const bad = UniverseLabelsCodec.encode({ idType: 'device', offset: 0, boxes: [boxes[0]!, bytes(LABEL_BOX_BYTES + 1)] });
    expect(newLabels(bad)).toEqual(oldLabels(bad));
    expect(newLabels(bad)).toMatchObject({ message: `UniverseLabels.boxes[1]: expected ${LABEL_BOX_BYTES} bytes, got ${LABEL_BOX_BYTES + 1}` });
    // a field 4 is no positions here: skipped as an unknown field
    const extra = Uint8Array.from([...wire, ...field(4, 0, [9])]);
    expect(newLabels(extra)).toEqual(oldLabels(extra));
  });
});
