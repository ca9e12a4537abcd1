// publish() sorts each ID type's tokens into position order one position range at a time and
// hands each range to the token sink: the node writes them to files, so no table of every
// token is held (memory). Checked: no range the sink receives is larger than the range size,
// the ranges come in ascending position order, and the tables and the version are exactly
// those of the single-range (in-memory) path.
import { describe, expect, it } from 'vitest';
import { MediaBfv } from '../crypto/bfv.ts';
import { OprfKey } from '../crypto/oprf.ts';
import { normalizeId } from '../common/ids.ts';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import { PreparedUniverse, type UniverseRecord } from './universe.ts';
import { memoryTokenSink, publicationVersion, publish, type TokenSink } from './publication.ts';
import { mulberry32 } from '../testing/rng.ts';

describe('publish: token tables by position range', () => {
  it('hands the sink ranges of at most rangeSize positions, in order, giving the one-range tables and version', async () => {
    const n = 1000;
    const records: UniverseRecord[] = Array.from({ length: n }, (_, i) => {
      const id = normalizeId('phone', `1380013${String(1000 + i)}`);
      if (!id.ok) throw new Error('fixture phone');
      const vector = new Uint8Array(ATTRIBUTE_COUNT);
      vector[i % 7] = 1;
      return { userId: `U${i}`, ids: { phone: id.value }, vector };
    });
    const universe = PreparedUniverse.prepare(records, OprfKey.generate(), 'e-ranges', ['phone']).universe;
    const bfv = await MediaBfv.create(ATTRIBUTE_COUNT);
    try {
      const ranges: Array<{ first: number; last: number; n: number }> = [];
      const mem = memoryTokenSink();
      const sink: TokenSink = {
        append(type, tokens, positions) {
          ranges.push({ first: positions[0] ?? -1, last: positions.at(-1) ?? -1, n: positions.length });
          mem.append(type, tokens, positions);
        },
        finish: (type) => mem.finish(type),
      };
      const ranged = await publish(universe, bfv, { uniform: mulberry32(7), tokenSink: sink, rangeSize: 128 });
      const whole = await publish(universe, bfv, { uniform: mulberry32(7) });
      expect(ranges.length).toBe(Math.ceil(n / 128));
      for (const [i, r] of ranges.entries()) {
        expect(r.n).toBeLessThanOrEqual(128);
        expect(r.first).toBeGreaterThanOrEqual(i * 128);
        expect(r.last).toBeLessThan((i + 1) * 128);
      }
      const a = ranged.tokens.get('phone')!;
      const b = whole.tokens.get('phone')!;
      expect(a.count).toBe(n);
      expect(Buffer.from(a.page(0, n).tokens).equals(Buffer.from(b.page(0, n).tokens))).toBe(true);
      expect([...a.page(0, n).positions]).toEqual([...b.page(0, n).positions]);
      expect(ranged.order).toEqual(whole.order);
      // the version's token part (the ciphertexts are fresh encryptions each time)
      expect(publicationVersion('e-ranges', ranged.tokens, [])).toBe(publicationVersion('e-ranges', whole.tokens, []));
    } finally {
      bfv.dispose();
    }
  });
});
