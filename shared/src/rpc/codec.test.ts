// Batch codecs (codec.ts): items come back byte for byte, in order; an item of the wrong length
// in a fixed-size batch is refused with an error naming the item.
import { describe, expect, it } from 'vitest';
import { BlindedBatchCodec, LabelBatchCodec } from './codec.ts';
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
});
