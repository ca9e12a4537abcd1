/**
 * Sharded preparation through object storage (shard-store.ts): N shard processes on volumes of
 * their own (prepare.ts --shard I --shards N, CLEANROOM_SHARD_STORE, one key file) upload their
 * shards to an S3-compatible server (s3rver); a node on a fourth volume downloads the set and
 * merges it into exactly the single-process preparation, file for file. The bucket holds
 * neither the key nor anything of the universe in the clear. A sealed file with one byte
 * changed, an altered record, a record under another key, and an incomplete set are each
 * refused, naming the object, with nothing half-made left; a node (in process, and as a real
 * media process behind its /readyz) waits for an incomplete set, saying which shard is missing,
 * and merges it once complete, never preparing the universe itself; a shard run again finds
 * itself in the store for the same source (nothing to do) or reuses its previous upload for a
 * grown one (only new IDs cost OPRF work, the merge still the single-process preparation); a
 * shard without a key file, with a
 * key file of another epoch, or with a store that does not answer exits 2 saying why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readUniverse } from '@cleanroom/shared/data/files.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrepare } from './prepare.fixture.ts';
import { spawn } from 'node:child_process';
import { freePort } from '@cleanroom/shared/common/free-port.ts';
import { fileURLToPath } from 'node:url';
import { generatePki } from '@cleanroom/shared/pki/pki.ts';
import { pino } from 'pino';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { ObjectStore } from '@cleanroom/shared/service/object-store.ts';
import { startTestS3, type TestS3 } from '@cleanroom/shared/service/object-store.fixture.ts';
import { startTcpProxy } from '@cleanroom/shared/service/tcp-proxy.fixture.ts';
import { openUniverse } from './universe-store.ts';
import { readUniverseKeyFile, writeUniverseKeyFile } from './universe-key.ts';
import { fetchShard, ShardIntegrityError, uploadShard, type ShardRecord } from './shard-store.ts';
import { CHUNK_PREFIX_BYTES, CHUNK_SEAL_BYTES, CHUNK_TAG_BYTES } from '@cleanroom/shared/crypto/chunk-seal.ts';
import { randomBytes } from 'node:crypto';

const EPOCH = 'e-store';
const N = 3;
const FILES = ['users.bin', 'users.off', 'vectors.bin', 'purposes.bin', 'tokens-phone.bin', 'tokens-phone.idx', 'idhash-phone.bin', 'idhash-phone.idx', 'points-phone.bin', 'key.bin', 'manifest.json'];


let s3: TestS3;
let dir: string;
let csv: string;
let keyFile: string;
let users: number[];
const url = (prefix: string): string => `s3://${s3.bucket}/${prefix}`;
const shardEnv = (state: string, prefix: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
  ...process.env, ...s3.env, CLEANROOM_DATA: csv, CLEANROOM_STATE_DIR: state, CLEANROOM_UNIVERSE_EPOCH: EPOCH, CLEANROOM_LOG_LEVEL: 'silent', CLEANROOM_EVAL_THREADS: '1',
  CLEANROOM_SHARD_STORE: url(prefix), CLEANROOM_SHARD_STORE_ENDPOINT: s3.endpoint, CLEANROOM_UNIVERSE_KEY_FILE: keyFile, ...extra,
});
/** Every object under `from` copied under `to` (a second set to spoil), objects over `partBytes` in parts. */
async function copyPrefix(from: string, to: string, partBytes?: number): Promise<ObjectStore> {
  const a = new ObjectStore(url(from), { endpoint: s3.endpoint });
  const b = new ObjectStore(url(to), { endpoint: s3.endpoint, partBytes });
  for (const o of await a.list('')) {
    const bytes = (await a.getBytes(o.name, 1 << 30))!;
    await b.put(o.name, bytes.length, () => bytes);
  }
  a.close();
  return b;
}
const node = (state: string, prefix: string, logs: object[] = [], key = readUniverseKeyFile(keyFile, EPOCH), data = csv) => {
  const store = new ObjectStore(url(prefix), { endpoint: s3.endpoint });
  const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) });
  return openUniverse({ stateDir: state, data, idTypes: ['phone'], epoch: EPOCH, log, threads: 1, key, store }).finally(() => store.close());
};

beforeAll(async () => {
  s3 = await startTestS3();
  dir = mkdtempSync(join(tmpdir(), 'cleanroom-shard-store-'));
  await generateWorld(join(dir, 'world'), { seed: 'shard-store', universeSize: 2500, crmSize: 250 });
  csv = join(dir, 'world/media/universe.csv');
  keyFile = join(dir, 'universe-key.json');
  writeUniverseKeyFile(keyFile, EPOCH);
  // three shard processes, each on a state volume of its own
  const runs = await Promise.all(Array.from({ length: N }, (_, i) => runPrepare(['--shard', String(i), '--shards', String(N)], shardEnv(join(dir, `shard-${i}`), 'set'))));
  for (const r of runs) {
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  }
  users = runs.map((r) => JSON.parse(r.out).users as number);
  for (const [i, r] of runs.entries()) {
    expect(JSON.parse(r.out).uploaded.to).toBe(`${url('set')}/${EPOCH}/shard-${i}-of-${N}`);
    // uploaded, so removed from the shard's own volume
    expect(existsSync(join(dir, `shard-${i}`, 'universe', `${EPOCH}.shards`, `shard-${i}-of-${N}`))).toBe(false);
  }
}, 180_000);
afterAll(async () => {
  await s3?.close();
});

describe('universe shards through object storage', () => {
  it('the node downloads the set and merges it into exactly the single-process preparation', async () => {
    const union = await node(join(dir, 'node'), 'set');
    expect(union.universe.size).toBe(users.reduce((a, b) => a + b, 0));
    expect(union.status.computed).toBe(0);
    union.universe.close();
    // downloaded shards are removed once merged
    expect(readdirSync(join(dir, 'node', 'universe')).filter((f) => f.includes('.shards') || f.includes('.tmp-'))).toEqual([]);
    // the single-process preparation under the same key file
    const one = await openUniverse({ stateDir: join(dir, 'single'), data: csv, idTypes: ['phone'], epoch: EPOCH, log: pino({ level: 'silent' }), threads: 1, key: readUniverseKeyFile(keyFile, EPOCH) });
    expect(one.status.computed).toBeGreaterThan(2000);
    one.universe.close();
    for (const f of FILES.filter((x) => x !== 'manifest.json')) {
      expect(readFileSync(join(dir, 'node/universe', EPOCH, f)).equals(readFileSync(join(dir, 'single/universe', EPOCH, f))), f).toBe(true);
    }
    // a restart finds the merged universe and reuses it without the store
    const again = await openUniverse({ stateDir: join(dir, 'node'), data: csv, idTypes: ['phone'], epoch: EPOCH, log: pino({ level: 'silent' }), threads: 1 });
    expect(again.status.reused).toBe(true);
    again.universe.close();
    // the same objects put as multipart uploads of 4 KiB parts merge into the same files
    (await copyPrefix('set', 'in-parts', 4096)).close();
    const parts = await node(join(dir, 'node-parts'), 'in-parts');
    parts.universe.close();
    for (const f of FILES.filter((x) => x !== 'manifest.json')) {
      expect(readFileSync(join(dir, 'node-parts/universe', EPOCH, f)).equals(readFileSync(join(dir, 'single/universe', EPOCH, f))), f).toBe(true);
    }
  }, 120_000);

  it('the bucket holds neither the key nor anything of the universe in the clear', async () => {
    const store = new ObjectStore(url('set'), { endpoint: s3.endpoint });
    const objects = await store.list('');
    expect(objects.map((o) => o.name.split('/').pop())).not.toContain('key.bin');
    // 3 records and 10 files per shard (all but key.bin)
    expect(objects.length).toBe(N * (FILES.length - 1) + N);
    const all = Buffer.concat(await Promise.all(objects.map(async (o) => Buffer.from((await store.getBytes(o.name, 1 << 30))!))));
    store.close();
    const key = Buffer.from(readUniverseKeyFile(keyFile, EPOCH).toBytes());
    expect(all.includes(key)).toBe(false);
    expect(all.includes(Buffer.from(key.toString('hex')))).toBe(false);
    // no 16-byte window of any of the node's universe files appears in the bucket
    for (const f of ['users.bin', 'vectors.bin', 'tokens-phone.bin', 'idhash-phone.bin', 'points-phone.bin']) {
      const plain = readFileSync(join(dir, 'node/universe', EPOCH, f));
      for (let at = 0; at + 16 <= plain.length; at += Math.max(16, Math.floor(plain.length / 64))) {
        expect(all.includes(plain.subarray(at, at + 16)), `${f} at ${at}`).toBe(false);
      }
    }
    // and no phone number of the CSV
    const phone = readFileSync(csv, 'utf8').split('\n')[1]!.split(',').find((x) => /^\+?\d{11,}$/.test(x))!;
    expect(phone).toBeDefined();
    expect(all.includes(Buffer.from(phone))).toBe(false);
  }, 120_000);

  it('refuses a changed byte, an altered record, another key; leaves nothing half-made', async () => {
    // one byte of a sealed file changed
    const spoilt = await copyPrefix('set', 'spoilt-file');
    const name = `${EPOCH}/shard-1-of-${N}/tokens-phone.bin`;
    const bytes = (await spoilt.getBytes(name, 1 << 30))!;
    bytes[100]! ^= 1;
    await spoilt.put(name, bytes.length, () => bytes);
    spoilt.close();
    await expect(node(join(dir, 'n-file'), 'spoilt-file')).rejects.toThrow(new RegExp(`${url('spoilt-file')}/${name}.* chunk 0 .*does not open`));
    expect(readdirSync(join(dir, 'n-file', 'universe')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(existsSync(join(dir, 'n-file', 'universe', EPOCH))).toBe(false);

    // a record altered (more users claimed), its MAC kept
    const altered = await copyPrefix('set', 'altered-record');
    const rec = `${EPOCH}/shard-2-of-${N}.json`;
    const r = JSON.parse(Buffer.from((await altered.getBytes(rec, 1 << 20))!).toString('utf8'));
    r.users += 1;
    const body = Buffer.from(JSON.stringify(r));
    await altered.put(rec, body.length, () => body);
    altered.close();
    await expect(node(join(dir, 'n-record'), 'altered-record')).rejects.toThrow(/shard-2-of-3\.json: its MAC does not verify/);

    // the node under another key (another key file for the same epoch)
    const otherKeyFile = join(dir, 'other-key.json');
    writeUniverseKeyFile(otherKeyFile, EPOCH);
    await expect(node(join(dir, 'n-key'), 'set', [], readUniverseKeyFile(otherKeyFile, EPOCH))).rejects.toThrow(/prepared under another OPRF key .*CLEANROOM_UNIVERSE_KEY_FILE/);
  }, 120_000);

  it('a connection cut late in a file of several chunks: the download resumes after the last chunk that opened, and the file is exact', async () => {
    // a shard directory of one file of 3.5 chunks (and its manifest), uploaded as a shard is
    const src = join(dir, 'resume-src');
    mkdirSync(src);
    const big = randomBytes(3.5 * CHUNK_SEAL_BYTES);
    writeFileSync(join(src, 'big.bin'), big);
    writeFileSync(join(src, 'manifest.json'), JSON.stringify({ dataSha256: 'resume', idTypes: [], users: 1 }));
    const key = readUniverseKeyFile(keyFile, EPOCH);
    const direct = new ObjectStore(url('resume'), { endpoint: s3.endpoint });
    await uploadShard({ store: direct, dir: src, epoch: EPOCH, index: 0, count: 1, key, log: pino({ level: 'silent' }) });
    const record = JSON.parse(Buffer.from((await direct.getBytes(`${EPOCH}/shard-0-of-1.json`, 1 << 20))!).toString('utf8')) as ShardRecord;
    direct.close();
    // the first answer for big.bin cut once 2.5 MiB of it have passed; every request's range noted
    const target = `/${s3.bucket}/resume/${EPOCH}/shard-0-of-1/big.bin`;
    const ranges: string[] = [];
    let cuts = 0;
    const proxy = await startTcpProxy(s3.endpoint, () => {
      let armed = -1;
      return {
        toServer(d) {
          const text = d.toString('latin1');
          if (text.includes(`GET ${target}`)) {
            ranges.push(/\r\nrange: (bytes=\d+-)\r\n/i.exec(text)?.[1] ?? 'whole');
            if (cuts === 0) armed = 0;
          }
          return d;
        },
        toClient(d, link) {
          if (armed >= 0 && cuts === 0) {
            armed += d.length;
            if (armed > 2.5 * CHUNK_SEAL_BYTES) {
              cuts += 1;
              link.cut();
              return undefined;
            }
          }
          return d;
        },
      };
    });
    const store = new ObjectStore(url('resume'), { endpoint: proxy.endpoint });
    const logs: { msg?: string; resumeAt?: number }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) });
    try {
      await fetchShard({ store, record, dir: join(dir, 'resume-out'), key, log });
    } finally {
      store.close();
      await proxy.close();
    }
    expect(cuts).toBe(1);
    // two whole chunks (and the prefix) had opened: the second request starts after them
    const resumeAt = CHUNK_PREFIX_BYTES + 2 * (CHUNK_SEAL_BYTES + CHUNK_TAG_BYTES);
    expect(ranges).toEqual(['whole', `bytes=${resumeAt}-`]);
    expect(logs.find((l) => l.msg === 'universe shard download failed: trying again')?.resumeAt).toBe(resumeAt);
    expect(readFileSync(join(dir, 'resume-out', 'big.bin')).equals(big)).toBe(true);
  }, 60_000);

  it('a connection cut in the middle of an object: that file is downloaded again, and the merge is still exact', async () => {
    // a TCP proxy in front of the store that cuts the connection answering the first request for
    // one file, once 2,000 bytes of that answer have passed (headers and part of the body)
    const target = `/${s3.bucket}/set/${EPOCH}/shard-1-of-${N}/points-phone.bin`;
    let cuts = 0;
    const proxy = await startTcpProxy(s3.endpoint, () => {
      let armed = -1; // bytes of the answer passed since the target was asked for; -1: not asked
      return {
        toServer(d) {
          if (cuts === 0 && d.toString('latin1').includes(`GET ${target}`)) armed = 0;
          return d;
        },
        toClient(d, link) {
          if (armed >= 0 && cuts === 0) {
            armed += d.length;
            if (armed > 2_000) {
              cuts += 1;
              link.cut(d.subarray(0, 1_000));
              return undefined;
            }
          }
          return d;
        },
      };
    });
    const store = new ObjectStore(url('set'), { endpoint: proxy.endpoint });
    const logs: { msg?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) });
    try {
      const u = await openUniverse({ stateDir: join(dir, 'n-cut'), data: csv, idTypes: ['phone'], epoch: EPOCH, log, threads: 1, key: readUniverseKeyFile(keyFile, EPOCH), store });
      u.universe.close();
    } finally {
      store.close();
      await proxy.close();
    }
    expect(cuts).toBe(1);
    expect(logs.some((l) => l.msg === 'universe shard download failed: trying again')).toBe(true);
    for (const f of FILES.filter((x) => x !== 'manifest.json')) {
      expect(readFileSync(join(dir, 'n-cut/universe', EPOCH, f)).equals(readFileSync(join(dir, 'single/universe', EPOCH, f))), f).toBe(true);
    }
  }, 120_000);

  it('a shard uploaded again while the node downloads it: the node waits for its new record instead of failing', async () => {
    (await copyPrefix('set', 'moving')).close();
    const rec = `${EPOCH}/shard-0-of-${N}.json`;
    const target = `${EPOCH}/shard-0-of-${N}/vectors.bin`;
    // the store as the node sees it while shard 0 runs again: its record removed, one file replaced
    // just as the node asks for it; the record comes back (the same upload) a moment later
    class Moving extends ObjectStore {
      moved = false;
      override async get(name: string) {
        if (name === target && !this.moved) {
          this.moved = true;
          const saved = (await this.getBytes(rec, 1 << 20))!;
          const original = (await this.getBytes(target, 1 << 30))!;
          await this.delete(rec);
          const other = Uint8Array.from(original);
          other[other.length - 1]! ^= 1;
          await this.put(target, other.length, () => other);
          setTimeout(() => void this.put(target, original.length, () => original).then(() => this.put(rec, saved.length, () => saved)), 300);
        }
        return super.get(name);
      }
    }
    const store = new Moving(url('moving'), { endpoint: s3.endpoint });
    const waits: string[] = [];
    try {
      const u = await openUniverse({
        stateDir: join(dir, 'n-moving'), data: csv, idTypes: ['phone'], epoch: EPOCH, log: pino({ level: 'silent' }), threads: 1,
        key: readUniverseKeyFile(keyFile, EPOCH), store, storePollMs: 100, onWaiting: (w) => waits.push(w),
      });
      expect(u.status.computed).toBe(0);
      u.universe.close();
    } finally {
      store.close();
    }
    expect(store.moved).toBe(true);
    expect(waits[0]).toMatch(/^shard 0 of 3 was uploaded again while it was downloaded \(.*vectors\.bin: chunk \d+ \(final\) does not open/);
    for (const f of FILES.filter((x) => x !== 'manifest.json')) {
      expect(readFileSync(join(dir, 'n-moving/universe', EPOCH, f)).equals(readFileSync(join(dir, 'single/universe', EPOCH, f))), f).toBe(true);
    }
  }, 120_000);

  it('a node stopped mid-download keeps the shards it had downloaded whole and fetches only the rest', async () => {
    const state = join(dir, 'n-resume');
    const shards = join(state, 'universe', `${EPOCH}.shards`);
    // first start: shard 2's files fail for good (as if the process had been stopped there)
    class Failing extends ObjectStore {
      override async get(name: string) {
        if (name.startsWith(`${EPOCH}/shard-2-of-${N}/`)) throw new ShardIntegrityError(`${name}: the first start stops here`);
        return super.get(name);
      }
    }
    const failing = new Failing(url('set'), { endpoint: s3.endpoint });
    const start = () => openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: EPOCH, log: pino({ level: 'silent' }), threads: 1, key: readUniverseKeyFile(keyFile, EPOCH), store: failing });
    await expect(start()).rejects.toThrow(/the first start stops here/);
    expect(readdirSync(shards).sort()).toEqual(['COMPLETE', `shard-0-of-${N}`, `shard-1-of-${N}`]);
    // a half-download a killed process left is removed by the next start that downloads that shard
    mkdirSync(join(shards, `shard-2-of-${N}.tmp-999999999`));
    await expect(start()).rejects.toThrow(/the first start stops here/);
    expect(readdirSync(shards).sort()).toEqual(['COMPLETE', `shard-0-of-${N}`, `shard-1-of-${N}`]);
    failing.close();
    // the start after: only shard 2's files are fetched
    const asked: string[] = [];
    class Counting extends ObjectStore {
      override async get(name: string) {
        asked.push(name);
        return super.get(name);
      }
    }
    const counting = new Counting(url('set'), { endpoint: s3.endpoint });
    const u = await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: EPOCH, log: pino({ level: 'silent' }), threads: 1, key: readUniverseKeyFile(keyFile, EPOCH), store: counting });
    counting.close();
    u.universe.close();
    const files = asked.filter((n) => !/shard-\d+-of-\d+\.json$/.test(n)); // not the records
    expect(files.length).toBe(FILES.length - 1);
    expect(files.every((n) => n.startsWith(`${EPOCH}/shard-2-of-${N}/`))).toBe(true);
    expect(existsSync(shards)).toBe(false); // merged, the shards removed
    for (const f of FILES.filter((x) => x !== 'manifest.json')) {
      expect(readFileSync(join(state, 'universe', EPOCH, f)).equals(readFileSync(join(dir, 'single/universe', EPOCH, f))), f).toBe(true);
    }
  }, 120_000);

  it('with an incomplete set the node waits, saying which shard is missing, and merges once it is complete', async () => {
    const partial = await copyPrefix('set', 'partial');
    // the record of shard 1 not yet written (its pod still running)
    const rec = `${EPOCH}/shard-1-of-${N}.json`;
    const saved = (await partial.getBytes(rec, 1 << 20))!;
    await partial.delete(rec);
    const waits: string[] = [];
    const store = new ObjectStore(url('partial'), { endpoint: s3.endpoint });
    const opening = openUniverse({
      stateDir: join(dir, 'n-partial'), data: csv, idTypes: ['phone'], epoch: EPOCH, log: pino({ level: 'silent' }), threads: 1,
      key: readUniverseKeyFile(keyFile, EPOCH), store, storePollMs: 100, onWaiting: (w) => waits.push(w),
    });
    while (waits.length < 3) await new Promise((r) => setTimeout(r, 50));
    expect(waits[0]).toBe(`no complete shard set for this source in ${url('partial')}/${EPOCH}/ yet (${N} shards: 0 ok, 1 missing, 2 ok)`);
    // nothing prepared meanwhile: the universe is the Job's work
    expect(existsSync(join(dir, 'n-partial', 'universe', EPOCH))).toBe(false);
    await partial.put(rec, saved.length, () => saved);
    const u = await opening;
    expect(u.status.computed).toBe(0);
    expect(u.universe.size).toBe(users.reduce((a, b) => a + b, 0));
    u.universe.close();
    store.close();
    partial.close();
  }, 120_000);

  it('a media node process waits for the missing shard, /readyz saying which, and serves once the set is complete', async () => {
    const partial = await copyPrefix('set', 'node-partial');
    const rec = `${EPOCH}/shard-2-of-${N}.json`;
    const saved = (await partial.getBytes(rec, 1 << 20))!;
    await partial.delete(rec);
    const pki = join(dir, 'pki');
    if (!existsSync(pki)) generatePki(pki);
    const port = await freePort();
    const media = spawn(process.execPath, [fileURLToPath(new URL('./main.ts', import.meta.url))], {
      env: {
        ...shardEnv(join(dir, 'node-process'), 'node-partial'), CLEANROOM_PKI_DIR: pki, CLEANROOM_TRANSCRIPT_DIR: join(dir, 'node-process-tx'),
        CLEANROOM_GRPC_LISTEN: '127.0.0.1:0', CLEANROOM_ADMIN_LISTEN: `127.0.0.1:${port}`, CLEANROOM_SHARD_STORE_POLL_SECONDS: '1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    media.stderr.on('data', (d) => (stderr += d));
    const readyz = async (): Promise<{ status: number; body: any } | undefined> => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        return { status: r.status, body: await r.json() };
      } catch {
        return undefined; // not listening yet
      }
    };
    try {
      let r = await readyz();
      for (let i = 0; i < 600 && !r?.body?.universe?.waiting; i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = await readyz();
      }
      expect(r?.status, stderr).toBe(503);
      expect(r!.body.universe).toMatchObject({ state: 'preparing', stage: 'universe', waiting: `no complete shard set for this source in ${url('node-partial')}/${EPOCH}/ yet (${N} shards: 0 ok, 1 ok, 2 missing)` });
      await partial.put(rec, saved.length, () => saved);
      for (let i = 0; i < 1200 && r?.status !== 200; i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = await readyz();
      }
      expect(r?.status, stderr).toBe(200);
      expect(r!.body.universe).toMatchObject({ epoch: EPOCH, users: users.reduce((a, b) => a + b, 0), computed: 0 });
    } finally {
      media.kill('SIGTERM');
      partial.close();
    }
  }, 180_000);

  it('a shard run again reuses its upload: the same source, nothing to do; a grown one, only new IDs cost OPRF work', async () => {
    (await copyPrefix('set', 'incr')).close();
    // an Indexed Job run again on the same data: every shard finds itself in the store
    const same = await Promise.all(Array.from({ length: N }, (_, i) => runPrepare(['--shard', String(i), '--shards', String(N)], shardEnv(join(dir, `incr-${i}`), 'incr'))));
    for (const [i, r] of same.entries()) {
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ unchanged: true, computed: 0, users: users[i] });
    }
    // rows appended: each shard downloads its previous upload's tokens, ID hashes and points and reuses them
    const more = join(dir, 'more');
    if (!existsSync(more)) await generateWorld(more, { seed: 'shard-store-more', universeSize: 1000, crmSize: 100 });
    const grownCsv = join(dir, 'grown.csv');
    writeFileSync(grownCsv, `${readFileSync(csv, 'utf8').trimEnd()}\n${readFileSync(join(more, 'media/universe.csv'), 'utf8').trimEnd().split('\n').slice(1, 151).join('\n')}\n`);
    const consentedPhones = async (f: string) => {
      let n = 0;
      for await (const row of readUniverse(f)) if (row.consent && normalizeId('phone', row.phone).ok) n++;
      return n;
    };
    const newPhones = (await consentedPhones(grownCsv)) - (await consentedPhones(csv));
    expect(newPhones).toBeGreaterThan(50);
    const grown = await Promise.all(Array.from({ length: N }, (_, i) => runPrepare(['--shard', String(i), '--shards', String(N)], { ...shardEnv(join(dir, `incr-${i}`), 'incr'), CLEANROOM_DATA: grownCsv })));
    for (const r of grown) expect(r.code, r.err).toBe(0);
    const outs = grown.map((r) => JSON.parse(r.out) as { computed: number; reused: number; users: number });
    expect(outs.reduce((n, o) => n + o.computed, 0)).toBe(newPhones);
    for (const o of outs) expect(o.reused).toBeGreaterThan(500);
    // nothing of the previous uploads left on the shards' volumes
    for (let i = 0; i < N; i++) {
      const shards = join(dir, `incr-${i}`, 'universe', `${EPOCH}.shards`);
      expect(existsSync(shards) ? readdirSync(shards) : []).toEqual([]);
    }
    // the node merges the grown set into exactly the single-process preparation of the grown CSV
    const union = await node(join(dir, 'n-grown'), 'incr', [], readUniverseKeyFile(keyFile, EPOCH), grownCsv);
    expect(union.status.computed).toBe(0);
    union.universe.close();
    const one = await openUniverse({ stateDir: join(dir, 'single-grown'), data: grownCsv, idTypes: ['phone'], epoch: EPOCH, log: pino({ level: 'silent' }), threads: 1, key: readUniverseKeyFile(keyFile, EPOCH) });
    one.universe.close();
    for (const f of FILES.filter((x) => x !== 'manifest.json')) {
      expect(readFileSync(join(dir, 'n-grown/universe', EPOCH, f)).equals(readFileSync(join(dir, 'single-grown/universe', EPOCH, f))), f).toBe(true);
    }
  }, 180_000);

  it('a shard exits 2 without a key file, with another epoch\'s key file, or when the store does not answer', async () => {
    const noKey = await runPrepare(['--shard', '0', '--shards', String(N)], shardEnv(join(dir, 'bad-0'), 'bad', { CLEANROOM_UNIVERSE_KEY_FILE: undefined }));
    expect(noKey.code).toBe(2);
    expect(noKey.err).toMatch(/CLEANROOM_SHARD_STORE: needs CLEANROOM_UNIVERSE_KEY_FILE/);
    const otherEpoch = join(dir, 'epoch-key.json');
    writeUniverseKeyFile(otherEpoch, 'e-other');
    const wrong = await runPrepare(['--shard', '0', '--shards', String(N)], shardEnv(join(dir, 'bad-1'), 'bad', { CLEANROOM_UNIVERSE_KEY_FILE: otherEpoch }));
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/made for epoch 'e-other', this preparation's epoch \(CLEANROOM_UNIVERSE_EPOCH\) is 'e-store'/);
    mkdirSync(join(dir, 'bad-2'));
    const dead = await runPrepare(['--shard', '0', '--shards', String(N)], shardEnv(join(dir, 'bad-2'), 'bad', { CLEANROOM_SHARD_STORE_ENDPOINT: 'http://127.0.0.1:9' }));
    expect(dead.code).toBe(2);
    // its first request: whether the store already holds this shard
    expect(dead.err).toMatch(new RegExp(`cannot prepare shard 0 of 3 .* into ${url('bad')}: get ${url('bad')}/${EPOCH}/shard-0-of-3\\.json: .*ECONNREFUSED.*after 4 attempts`));
  }, 120_000);
});
