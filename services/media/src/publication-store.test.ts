// The media node's publication on disk: made once, reused on restart — also from the layout
// before ciphertext segment files (one ciphertexts.bin) — (same version, same
// key pair: a profile aggregated by the broker over the stored ciphertexts decrypts under
// the reloaded key), replaced with a fresh key pair when the universe changes; a publication in
// the former layout (no manifest `format`: 16-byte tokens) is never reused; encrypted on worker
// threads, every position's ciphertext slot holds that position's user, as on one thread.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { BrokerBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { PreparedUniverse, type UniverseRecord } from '@cleanroom/shared/protocol/universe.ts';
import { openPublication } from './publication-store.ts';

const log = pino({ level: 'silent' });

function universe(n: number, epoch = 'e-pub'): PreparedUniverse {
  const records: UniverseRecord[] = Array.from({ length: n }, (_, i) => {
    const id = normalizeId('phone', `1380013${String(8000 + i)}`);
    if (!id.ok) throw new Error('fixture phone');
    const vector = new Uint8Array(ATTRIBUTE_COUNT);
    vector[i % 7] = 1; // one age band each
    vector[7] = 1; vector[10] = 1; vector[16] = 1; vector[19] = 1;
    return { userId: `U${String(i).padStart(5, '0')}`, ids: { phone: id.value }, vector };
  });
  return PreparedUniverse.prepare(records, OprfKey.generate(), epoch, ['phone']).universe;
}

describe('media publication store', () => {
  it('is made once, reused after a restart with the same key, and remade for a changed universe', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'cleanroom-pub-'));
    const u = universe(300);
    // a publication a stopped process left half-made (another pid): removed when this one is made
    mkdirSync(join(stateDir, 'publication', 'staging.tmp-999999999', 'ciphertexts'), { recursive: true });
    const first = await openPublication({ stateDir, universe: u, log });
    expect(first.reused).toBe(false);
    expect(existsSync(join(stateDir, 'publication', 'staging.tmp-999999999'))).toBe(false);
    expect(first.publication.ciphertexts.count).toBe(Math.ceil(300 / 128));
    // its ciphertexts moved into the layout before segment files (one ciphertexts.bin): reused as it is
    const pubDir = join(stateDir, 'publication', first.publication.version);
    expect(readdirSync(join(pubDir, 'ciphertexts'))).toEqual(['0000000000.bin']);
    const bytes = Array.from({ length: first.publication.ciphertexts.count }, (_, c) => first.publication.ciphertexts.get(c));
    renameSync(join(pubDir, 'ciphertexts', '0000000000.bin'), join(pubDir, 'ciphertexts.bin'));
    rmSync(join(pubDir, 'ciphertexts'), { recursive: true });
    const again = await openPublication({ stateDir, universe: u, log });
    expect(again.reused).toBe(true);
    expect(again.publication.version).toBe(first.publication.version);
    bytes.forEach((b, c) => expect(Buffer.from(again.publication.ciphertexts.get(c)).equals(Buffer.from(b))).toBe(true));
    // the broker aggregates positions 0..49 from the reloaded files; the reloaded key decrypts
    const broker = await BrokerBfv.fromPublicMaterial(again.publication.material, ATTRIBUTE_COUNT);
    const positions = Array.from({ length: 50 }, (_, i) => i);
    const stored = Array.from({ length: again.publication.ciphertexts.count }, (_, c) => broker.toStoredForm(again.publication.ciphertexts.get(c)));
    const profile = broker.aggregateStored((c) => stored[c], stored.length, positions, new Array(ATTRIBUTE_COUNT).fill(0));
    const { totals, consistent } = again.publication.bfv.decryptProfile(profile);
    expect(consistent).toBe(true);
    expect(totals[7]).toBe(50); // every user has attribute 7
    broker.dispose();
    const u2 = universe(301);
    const changed = await openPublication({ stateDir, universe: u2, log });
    expect(changed.reused).toBe(false);
    expect(changed.publication.version).not.toBe(first.publication.version);
    // The same universe held in the former layout (a manifest without `format`, tokens of 16 bytes): made again.
    const mf = join(stateDir, 'publication', changed.publication.version, 'manifest.json');
    const { format, ...former } = JSON.parse(readFileSync(mf, 'utf8'));
    expect(format).toBe('pub-v2');
    writeFileSync(mf, JSON.stringify(former));
    const made = await openPublication({ stateDir, universe: u2, log });
    expect(made.reused).toBe(false);
    const remade = await openPublication({ stateDir, universe: u2, log });
    expect(remade.reused).toBe(true); // and the one made again is reused
    first.publication.bfv.dispose();
    again.publication.bfv.dispose();
    changed.publication.bfv.dispose();
    made.publication.bfv.dispose();
    remade.publication.bfv.dispose();
  });

  it('encrypted on worker threads: every user\'s vector, in position order, under the publication\'s key, as on one thread', async () => {
    const u = universe(1900);
    const sums = async (threads: number) => {
      const made = await openPublication({ stateDir: mkdtempSync(join(tmpdir(), 'cleanroom-pubw-')), universe: u, log, threads, workersFrom: 1 });
      expect(made.threads).toBe(threads);
      const pub = made.publication;
      expect(pub.ciphertexts.count).toBe(Math.ceil(1900 / 128));
      // the broker sums positions [from, from + 200) of the stored file; media's key decrypts the totals
      const broker = await BrokerBfv.fromPublicMaterial(pub.material, ATTRIBUTE_COUNT);
      const stored = Array.from({ length: pub.ciphertexts.count }, (_, c) => broker.toStoredForm(pub.ciphertexts.get(c)));
      const out: number[][] = [];
      for (const from of [0, 1000, 1700]) {
        const positions = Array.from({ length: 200 }, (_, i) => from + i);
        const { totals, consistent } = pub.bfv.decryptProfile(broker.aggregateStored((c) => stored[c], stored.length, positions, new Array(ATTRIBUTE_COUNT).fill(0)));
        expect(consistent).toBe(true);
        // the users at those positions (order[p]: the user of position p), their age bands counted
        const want = new Array(7).fill(0);
        for (const p of positions) want[pub.order[p]! % 7]++;
        expect(totals.slice(0, 7)).toEqual(want);
        expect(totals[7]).toBe(200);
        out.push(totals);
      }
      broker.dispose();
      pub.bfv.dispose();
      return out;
    };
    const two = await sums(2);
    expect(two[0]!.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    await sums(1);
  }, 120_000);
});
