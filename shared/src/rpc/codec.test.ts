// Batch codecs (codec.ts): items come back byte for byte, in order; an item of the wrong length
// in a fixed-size batch is refused with an error naming the item; media's universe tokens are
// TOKEN_BYTES (12) each, and a 16-byte token (the former width) is refused.
import { describe, expect, it } from 'vitest';
import { BlindedBatchCodec, LabelBatchCodec, UniverseTokensCodec } from './codec.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { LABEL_BOX_BYTES } from '../crypto/label-box.ts';

describe('batch codecs', () => {
  it('decode gives back every item byte for byte, in order, with the offset', () => {
    const items = Array.from({ length: 3000 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (i * 31 + j) & 255));
    const got = BlindedBatchCodec.decode(BlindedBatchCodec.encode({ offset: 16384, items }));
    expect(got.offset).toBe(16384);
    expect(got.items.length).toBe(items.length);
    got.items.forEach((x, i) => expect(Buffer.from(x)).toEqual(Buffer.from(items[i]!)));
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
