// The broker's copy of media's publication on disk: synced once, loaded again at start-up
// (sessions can start at once), its token table as one file per bucket and no token pages kept;
// a copy in an older on-disk layout is not loaded (it is synced again instead of being
// misread) — among them table-v3 (one table file) and table-v2 (16-byte tokens); close()
// releases every file of a copy, so a pruned copy's disk space is freed; ciphertexts converted
// on worker threads are stored byte for byte as on the download's own thread, in the same
// segment files of a fixed number of ciphertexts each.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeWorld } from '../../../test/unit/world.ts';
import { cluster } from '../../../test/unit/nodes.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { BrokerBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { UniverseTokensCodec, type UniverseManifest } from '@cleanroom/shared/rpc/codec.ts';
import { PackedUniverseTokensCodec } from '@cleanroom/shared/rpc/sync-codec.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import { primitiveDelta, primitiveSnapshot } from '@cleanroom/shared/common/op-counts.ts';
import { arraySource } from '@cleanroom/shared/protocol/publication.ts';
import { loadHeld, UniverseDownload } from './universe-store.ts';
import { SyncWorkers } from './sync-workers.ts';

describe('broker universe store', () => {
  it('loads the synced copy again; refuses a copy in another layout', async () => {
    const w = await makeWorld({ universeSize: 2000, crmSize: 300 });
    const c = cluster(w);
    const synced = await c.broker.syncUniverse();
    const stateDir = join(c.stateDir, 'broker');
    const held = await loadHeld(stateDir);
    expect(held?.version).toBe(synced.version);
    expect(held?.ciphertexts.count).toBe(synced.ciphertexts.count);
    expect(held?.tables.get('phone')?.size).toBe(synced.tables.get('phone')?.size);
    const dir = join(stateDir, 'universe', readdirSync(join(stateDir, 'universe')).find((f) => f !== 'CURRENT')!);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    // The table: 256 bucket files (tokens by first byte), TOKEN_BYTES (12) per token, position and row.
    const buckets = readdirSync(join(dir, 'table-phone')).sort();
    expect(buckets).toHaveLength(256);
    expect(buckets[0]).toBe('00.bin');
    expect(buckets[255]).toBe('ff.bin');
    expect(buckets.reduce((a, f) => a + statSync(join(dir, 'table-phone', f)).size, 0)).toBe(synced.tables.get('phone')!.size * (TOKEN_BYTES + 8));
    expect(held!.bytesOnDisk).toBeGreaterThan(synced.tables.get('phone')!.size * (TOKEN_BYTES + 8));
    // the token pages kept to hash the version are gone: the table holds every token
    expect(existsSync(join(dir, 'tokens-phone.bin'))).toBe(false);
    expect(existsSync(join(dir, 'positions-phone.bin'))).toBe(false);
    // every token synced is found in its bucket file
    const pub = w.publication.tokens.get('phone')!;
    const page = pub.page(0, pub.count);
    for (let i = 0; i < pub.count; i += 7) expect(held!.tables.get('phone')!.positionOf(page.tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES))).toBe(page.positions[i]);
    // close() releases the copy's files: none of its descriptors stays open (a pruned copy's space is freed)
    const openIn = (d: string) => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(d);
      } catch {
        return false;
      }
    }).length;
    expect(openIn(dir)).toBeGreaterThan(1); // the ciphertexts and the bucket files read above
    const ends = [0, synced.ciphertexts.count - 1].map((c) => synced.ciphertexts.get(c));
    held!.close();
    held!.close(); // idempotent
    synced.close();
    expect(openIn(dir)).toBe(0);
    expect(() => held!.ciphertexts.get(0)).toThrow(/read after close/);
    // A copy whose ciphertexts are in the layout before segment files (one ciphertexts.bin,
    // same format otherwise): loaded as it is, not synced again
    renameSync(join(dir, 'ciphertexts', '0000000000.bin'), join(dir, 'ciphertexts.bin'));
    rmSync(join(dir, 'ciphertexts'), { recursive: true });
    const old = await loadHeld(stateDir);
    expect(old?.version).toBe(synced.version);
    expect([0, old!.ciphertexts.count - 1].map((c) => Buffer.from(old!.ciphertexts.get(c)))).toEqual(ends.map((b) => Buffer.from(b)));
    old!.close();
    // A copy in the former layout (table-v3: one table file and its index) or written before
    // tokens were 12 bytes (table-v2): not loaded, synced again.
    for (const format of ['ntt-v1+table-v3', 'ntt-v1+table-v2']) {
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, format }));
      expect(await loadHeld(stateDir)).toBeUndefined();
    }
    delete m.format;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    expect(await loadHeld(stateDir)).toBeUndefined();
  });

  it('a sync on worker threads, pages pipelined, stores the same copy as one on the broker\'s thread; an invalid ciphertext fails it whole', async () => {
    const w = await makeWorld({ universeSize: 17_000, crmSize: 1500 });
    expect(w.publication.ciphertexts.count).toBeGreaterThan(2 * 64); // three pages of 64
    // segment files of 50 ciphertexts: the workers' places cross segments, as the sequential writer does
    const one = cluster(w, { brokerCiphertextsPerFile: 50 });
    const two = cluster(w, { brokerThreads: { threads: 2, syncWorkersFrom: 1 }, policy: { noiseScale: 0 }, brokerCiphertextsPerFile: 50 });
    const a = await one.broker.syncUniverse();
    const b = await two.broker.syncUniverse();
    expect(b.version).toBe(a.version);
    const dirOf = (c: typeof one) => join(c.stateDir, 'broker', 'universe', a.version);
    const segments = readdirSync(join(dirOf(one), 'ciphertexts')).sort();
    expect(segments).toEqual(['0000000000.bin', '0000000050.bin', '0000000100.bin']);
    expect(readdirSync(join(dirOf(two), 'ciphertexts')).sort()).toEqual(segments);
    for (const f of [...segments.map((s) => `ciphertexts/${s}`), 'offsets.bin', 'table-phone/00.bin', 'table-phone/a7.bin']) {
      expect(readFileSync(join(dirOf(two), f)).equals(readFileSync(join(dirOf(one), f))), f).toBe(true);
    }
    // a session on the copy the workers stored: its real matches are the CRM's consented purchasers in the universe
    const rec = await two.advertiser.start({ audienceSize: 100 }).done;
    expect(rec.status, rec.error).toBe('completed');
    expect((rec.result as { matches: { real: number } }).matches.real).toBeGreaterThan(50);
    a.close();
    b.close();

    // an invalid ciphertext in the middle of the publication: the sync on workers fails naming it,
    // holds nothing and leaves no partial download behind
    const list = Array.from({ length: w.publication.ciphertexts.count }, (_, c) => w.publication.ciphertexts.get(c));
    list[70] = list[70]!.slice(0, 1000);
    const bad = cluster({ ...w, publication: { ...w.publication, ciphertexts: arraySource(list) } }, { brokerThreads: { threads: 2, syncWorkersFrom: 1 } });
    await expect(bad.broker.syncUniverse()).rejects.toThrow(/sync worker failed: ciphertext 70: /);
    expect(bad.broker.universe).toBeUndefined();
    const left = join(bad.stateDir, 'broker', 'universe');
    expect(existsSync(left) ? readdirSync(left).filter((f) => f.includes('.tmp-')) : []).toEqual([]);
  }, 120_000);

  it('a download through the packed codec verifies media\'s version; refuses a page out of order, a position beyond the users, and a tampered token at the version check', async () => {
    const w = await makeWorld({ universeSize: 1500, crmSize: 100 });
    const pub = w.publication;
    const types = [...pub.tokens.keys()];
    const manifest: UniverseManifest = {
      epoch: pub.epoch, version: pub.version, users: pub.users, ciphertexts: pub.ciphertexts.count, attributeCount: pub.layout.attributeCount,
      usersPerCiphertext: pub.layout.usersPerCiphertext, idTypes: types.map((idType) => ({ idType, tokens: pub.tokens.get(idType)!.count })),
      sizeClass: 'test', unchanged: false, bfv: pub.material, labelsVersion: '',
    };
    /** Media's token page [from, to) as the broker decodes it from the wire. */
    const pageOf = (idType: IdType, from: number, to: number) => {
      const p = pub.tokens.get(idType)!.page(from, to);
      const tokens = Array.from({ length: to - from }, (_, i) => p.tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES));
      return PackedUniverseTokensCodec.decode(UniverseTokensCodec.encode({ idType, offset: from, tokens, positions: Array.from(p.positions) }));
    };
    const download = async (stateDir: string, tamper?: (page: ReturnType<typeof pageOf>) => void, workers?: (d: UniverseDownload) => SyncWorkers) => {
      const d = new UniverseDownload(stateDir, manifest, await BrokerBfv.fromPublicMaterial(pub.material, pub.layout.attributeCount));
      for (const idType of types) {
        const n = pub.tokens.get(idType)!.count;
        for (let from = 0; from < n; from += 500) {
          const page = pageOf(idType, from, Math.min(n, from + 500));
          if (from === 500) tamper?.(page);
          d.addTokens(idType, page.offset, page.tokens, page.positions);
        }
      }
      const cts = Array.from({ length: pub.ciphertexts.count }, (_, c) => pub.ciphertexts.get(c));
      const before = primitiveSnapshot();
      if (workers) {
        // converted on worker threads, two batches at once, appended in order
        const half = Math.ceil(cts.length / 2);
        const [a, b] = await Promise.all([workers(d).convert(0, cts.slice(0, half)), workers(d).convert(half, cts.slice(half))]);
        d.addWritten(0, a);
        expect(() => d.addWritten(0, b)).toThrow(new RegExp(`ciphertexts: expected offset ${half}, got 0`));
        d.addWritten(half, b);
      } else d.addCiphertexts(0, cts);
      // the sync floor's primitives, one of each per ciphertext (bench/bench.ts)
      expect(primitiveDelta(before)).toEqual({ bfvLoad: cts.length, bfvNtt: cts.length, bfvWriteStored: cts.length });
      return d;
    };
    const dir = join(w.dir, 'download');
    // counts that disagree with media's keys (one ciphertext per 128 users) size nothing: refused at once
    for (const bad of [{ ciphertexts: manifest.ciphertexts + 1 }, { users: manifest.users * 1000 }, { usersPerCiphertext: 64 }]) {
      const b = await BrokerBfv.fromPublicMaterial(pub.material, pub.layout.attributeCount);
      expect(() => new UniverseDownload(join(dir, 'counts'), { ...manifest, ...bad }, b)).toThrow(/media announced \d+ ciphertexts of \d+ users for \d+ users; its keys hold 128 users per ciphertext, so \d+: refused/);
      expect(() => b.storedFormLength()).toThrow(); // the keys were released
    }
    expect(existsSync(join(dir, 'counts'))).toBe(false);
    // a download a stopped process left (another pid): removed when the next one starts
    mkdirSync(join(dir, 'good', 'universe', `${pub.version}.tmp-999999999`, 'spill'), { recursive: true });
    const good = await download(join(dir, 'good'));
    expect(readdirSync(join(dir, 'good', 'universe')).filter((f) => f.includes('.tmp-999999999'))).toEqual([]);
    const held = await good.finish();
    try {
      expect(held.version).toBe(pub.version);
      expect(held.ciphertexts.count).toBe(pub.ciphertexts.count);
      const t = pub.tokens.get(types[0]!)!;
      const first = t.page(0, 1);
      expect(held.tables.get(types[0]!)?.positionOf(first.tokens.subarray(0, TOKEN_BYTES))).toBe(first.positions[0]);
    } finally {
      held.bfv.dispose();
    }

    const d = new UniverseDownload(join(dir, 'bad'), manifest, await BrokerBfv.fromPublicMaterial(pub.material, pub.layout.attributeCount));
    try {
      const page = pageOf(types[0]!, 0, 10);
      expect(() => d.addTokens(types[0]!, 5, page.tokens, page.positions)).toThrow(/tokens: expected offset 0, got 5/);
      const beyond = pageOf(types[0]!, 0, 10);
      beyond.positions[3] = pub.users;
      expect(() => d.addTokens(types[0]!, 0, beyond.tokens, beyond.positions)).toThrow(new RegExp(`position ${pub.users} beyond the ${pub.users} users`));
      expect(() => d.addTokens(types[0]!, 0, page.tokens, page.positions.subarray(1))).toThrow(/expected one position per token, got 9 for 10/);
      expect(d.tokensHeld(types[0]!)).toBe(0); // nothing of a refused page was kept
    } finally {
      d.abandon();
    }

    // the same download with its ciphertexts converted on two worker threads: the same stored
    // file byte for byte, the same version; an invalid ciphertext fails its batch, naming it
    let pool: SyncWorkers | undefined;
    try {
      const viaWorkers = await download(join(dir, 'workers'), undefined, (d) => (pool ??= new SyncWorkers(pub.material, pub.layout.attributeCount, d.workerPlaces(), 2)));
      const h2 = await viaWorkers.finish();
      expect(h2.version).toBe(pub.version);
      const file = (d: string) => readFileSync(join(d, 'universe', pub.version, 'ciphertexts', '0000000000.bin'));
      expect(file(join(dir, 'workers')).equals(file(join(dir, 'good')))).toBe(true);
      h2.close();
      await pool!.close();
      const broken = pub.ciphertexts.get(1).slice(0, 1000);
      const d3 = new UniverseDownload(join(dir, 'broken'), manifest, await BrokerBfv.fromPublicMaterial(pub.material, pub.layout.attributeCount));
      pool = new SyncWorkers(pub.material, pub.layout.attributeCount, d3.workerPlaces(), 2);
      await expect(pool.convert(4, [pub.ciphertexts.get(0), broken])).rejects.toThrow(/sync worker failed: ciphertext 5: /);
      d3.abandon();
    } finally {
      await pool?.close();
    }

    const tampered = await download(join(dir, 'tampered'), (page) => {
      page.tokens.bytes[0]! ^= 1;
    });
    try {
      await expect(tampered.finish()).rejects.toThrow(new RegExp(`publication announced as ${pub.version.slice(0, 12)} hashes to [0-9a-f]{12}: refused`));
    } finally {
      tampered.abandon();
    }
  });
});
