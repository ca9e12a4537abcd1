/**
 * Prepared universe: the parallel path gives the same tokens as the single-thread path,
 * tokens equal what an advertiser obtains by blind evaluation (persistence: the media node's
 * on-disk universe, services/media/src/universe-files.test.ts),
 * and re-preparation reuses the tokens of IDs already prepared (only new IDs cost OPRF work).
 */
import { describe, expect, it } from 'vitest';
import { OprfKey, blindBatch, unblindBatch, finalize } from '../crypto/oprf.ts';
import { hashToGroupBatch, oprfDst } from '../crypto/h2c.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { PreparedUniverse, type UniverseRecord } from './universe.ts';

const records = (n: number, from = 0): UniverseRecord[] => Array.from({ length: n }, (_, i) => ({
  userId: `U${from + i}`,
  ids: { phone: `+86138${String(from + i).padStart(8, '0')}` },
  vector: Uint8Array.from({ length: 64 }, (_, j) => ((i + j) % 5 === 0 ? 1 : 0)),
}));

describe('PreparedUniverse', () => {
  it('parallel preparation equals single-thread preparation', async () => {
    const key = OprfKey.generate();
    const rs = records(25_000);
    const a = PreparedUniverse.prepare(rs, key, 'e1', ['phone']).universe;
    const b = (await PreparedUniverse.prepareParallel(rs, key, 'e1', ['phone'], undefined, 2)).universe;
    expect(Buffer.from(b.index.get('phone')!.tokens.tokens).equals(Buffer.from(a.index.get('phone')!.tokens.tokens))).toBe(true);
  });

  it('a token equals what blind evaluation yields, and maps back to its user', () => {
    const key = OprfKey.generate();
    const u = PreparedUniverse.prepare(records(50), key, 'e1', ['phone']).universe;
    const x = new TextEncoder().encode('+8613800000007');
    const [b] = blindBatch(hashToGroupBatch([x], oprfDst('phone', 'e1')));
    const [un] = unblindBatch([b!.inverse], key.evaluateBatch([b!.blinded]));
    expect(u.userIds[u.rowOf('phone', finalize(x, un!))]).toBe('U7');
    expect(u.rowOf('phone', new Uint8Array(TOKEN_BYTES))).toBe(-1);
  });

  it('re-preparation reuses tokens and computes only new IDs', () => {
    const key = OprfKey.generate();
    const first = PreparedUniverse.prepare(records(300), key, 'e1', ['phone']).universe;
    expect(first.rowOf('phone', first.index.get('phone')!.tokens.at(42))).toBe(42);
    const grown = [...records(300), ...records(20, 300)];
    const { universe, stats } = PreparedUniverse.prepare(grown, key, 'e1', ['phone'], first);
    expect(stats.reused).toBe(300);
    expect(stats.computed).toBe(20);
    expect(universe.rowOf('phone', first.index.get('phone')!.tokens.at(42))).toBe(42);
    // a new epoch re-keys: nothing reused
    expect(PreparedUniverse.prepare(grown, OprfKey.generate(), 'e2', ['phone'], first).stats.computed).toBe(320);
  });
});
