/**
 * What object storage adds to a sharded preparation (services/media/src/shard-store.ts): the
 * shards of a split universe are prepared one after another in this process, each then uploaded
 * to an S3-compatible server (s3rver on loopback, writing to this machine's disk: the tests'
 * server, so the transfer figures are this machine's, not a cloud store's), and the node's
 * download of the complete set and its merge are timed apart. Beside them, measured in the same
 * run: the floor of the sealing (XChaCha20-Poly1305 over the same bytes, and SHA-256 of them) and
 * the same bytes put and got unsealed (the transport alone), so the store's cost reads against
 * what its primitives and the server cost. Then the Job is run again: on the same data (every
 * shard finds itself in the store) and on data grown by --grow % (each shard reuses its previous
 * upload and computes only the new IDs).
 *
 *   node bench/shard-store.ts [--universe 200000] [--shards 4] [--grow 1] [--out out/shard-store] [--threads 2]
 *
 * Prints one line per step and a JSON summary (bytes per user, seconds, CPU seconds, ratios).
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { ChunkSealer, CHUNK_SEAL_BYTES, deriveKey } from '@cleanroom/shared/crypto/chunk-seal.ts';
import { ObjectStore } from '@cleanroom/shared/service/object-store.ts';
import { startTestS3 } from '@cleanroom/shared/service/object-store.fixture.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';
import { openUniverse, prepareShard, shardDir } from '../services/media/src/universe-store.ts';
import { fetchShardSet, uploadShard } from '../services/media/src/shard-store.ts';
import { readUniverseKeyFile, writeUniverseKeyFile } from '../services/media/src/universe-key.ts';
import { shardFile, sourceSha256, universeSource } from '../services/media/src/universe-source.ts';

const p = parseArgs(process.argv.slice(2), { universe: 'string', shards: 'string', out: 'string', threads: 'string', grow: 'string' });
const universe = intFlag(p, 'universe', 200_000, 1000, 100_000_000);
const shards = intFlag(p, 'shards', 4, 2, 1000);
const threads = intFlag(p, 'threads', 2, 1, 64);
const grow = intFlag(p, 'grow', 1, 1, 100);
const out = resolve(strFlag(p, 'out', 'out/shard-store'));
const EPOCH = 'e-shard-store';
const say = (s: string) => process.stdout.write(`${s}\n`);
const cpu = (c0: NodeJS.CpuUsage) => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; };
const r2 = (x: number) => Math.round(x * 100) / 100;

// A split source of `shards` files of consecutive rows (as bench/shard-input.ts).
const world = join(out, 'world');
const csv = join(world, 'media/universe.csv');
if (!existsSync(join(world, `users-${universe}`))) {
  rmSync(world, { recursive: true, force: true });
  say(`generating a world of ${universe.toLocaleString('en')} media users…`);
  await generateWorld(world, { seed: 'shard-store', universeSize: universe, crmSize: 1000 });
  writeFileSync(join(world, `users-${universe}`), '');
}
const spec = join(out, 'split', 'universe-{shard}.csv');
rmSync(join(out, 'split'), { recursive: true, force: true });
mkdirSync(join(out, 'split'), { recursive: true });
// streamed (a 10^7-row CSV is larger than a string may be): the rows counted, then cut
const lineReader = () => createInterface({ input: createReadStream(csv), crlfDelay: Infinity });
let rowCount = -1; // the header
for await (const line of lineReader()) if (line !== '') rowCount++;
const per = Math.ceil(rowCount / shards);
{
  let header = '';
  let row = -1;
  let fd = -1;
  let chunk: string[] = [];
  const flush = () => {
    if (chunk.length > 0) writeSync(fd, `${chunk.join('\n')}\n`);
    chunk = [];
  };
  for await (const line of lineReader()) {
    if (line === '') continue;
    if (row < 0) {
      header = line;
      row = 0;
      continue;
    }
    if (row % per === 0) {
      if (fd >= 0) {
        flush();
        closeSync(fd);
      }
      fd = openSync(shardFile(spec, row / per), 'w');
      chunk.push(header);
    }
    chunk.push(line);
    if (chunk.length >= 65_536) flush();
    row++;
  }
  flush();
  closeSync(fd);
}

for (const d of ['shards-state', 'node-state', 'key.json']) rmSync(join(out, d), { recursive: true, force: true });
const keyFile = join(out, 'key.json');
writeUniverseKeyFile(keyFile, EPOCH);
const key = readUniverseKeyFile(keyFile, EPOCH);
const log = pino({ level: 'warn' });
const s3 = await startTestS3('cleanroom-bench');
const store = new ObjectStore(`s3://${s3.bucket}/bench`, { endpoint: s3.endpoint });

// 1. Each shard prepared, then uploaded (timed apart).
let prepared = 0;
let plainBytes = 0;
let sealedBytes = 0;
let uploadWall = 0;
let uploadCpu = 0;
let users = 0;
for (let i = 0; i < shards; i++) {
  const state = join(out, 'shards-state');
  const t0 = performance.now();
  const s = await prepareShard({ stateDir: state, data: spec, idTypes: ['phone'], epoch: EPOCH, log, threads, index: i, count: shards, key });
  prepared += (performance.now() - t0) / 1000;
  users += s.users;
  plainBytes += readdirSync(s.dir).filter((f) => f !== 'key.bin').reduce((a, f) => a + statSync(join(s.dir, f)).size, 0);
  const c0 = process.cpuUsage();
  const t1 = performance.now();
  const u = await uploadShard({ store, dir: s.dir, epoch: EPOCH, index: i, count: shards, key, log });
  uploadWall += (performance.now() - t1) / 1000;
  uploadCpu += cpu(c0);
  sealedBytes += u.bytes;
  rmSync(s.dir, { recursive: true, force: true });
  say(`shard ${i} of ${shards}: ${s.users} users prepared in ${r2(s.seconds)} s; uploaded ${u.files} objects, ${u.bytes} B in ${r2(u.seconds)} s`);
}

// 2. The node: download (every chunk opened, every digest checked), then the merge.
const root = join(out, 'node-state', 'universe');
mkdirSync(root, { recursive: true });
const source = universeSource(spec);
const hashes = await sourceSha256(source);
const c0 = process.cpuUsage();
const t0 = performance.now();
const got = await fetchShardSet({
  store, root, epoch: EPOCH, source, hashes, idTypes: ['phone'], key, log,
  shardDir: (i, n) => shardDir(root, EPOCH, i, n),
  recordComplete: (i, n) => writeFileSync(join(root, `${EPOCH}.shards`, 'COMPLETE'), `${i}/${n}\n`, { flag: 'a' }),
});
const downloadWall = (performance.now() - t0) / 1000;
const downloadCpu = cpu(c0);
if (!('count' in got)) throw new Error(`expected a complete set, got: ${got.waiting}`);
const t2 = performance.now();
const merged = await openUniverse({ stateDir: join(out, 'node-state'), data: spec, idTypes: ['phone'], epoch: EPOCH, log, threads, key });
const mergeWall = (performance.now() - t2) / 1000;
if (merged.universe.size !== users || merged.status.computed !== 0) throw new Error(`expected the union of ${users} users merged, got ${merged.universe.size} (computed ${merged.status.computed})`);
merged.universe.close();
say(`node: downloaded ${got.count} shards (${plainBytes} B) in ${r2(downloadWall)} s (${r2(downloadCpu)} s CPU), merged in ${r2(mergeWall)} s`);

// 3. The Indexed Job run again: on the same data (each shard finds itself in the store), then on
// data grown by --grow % (rows of another world appended to each file: each shard downloads its
// previous upload's token, ID-hash and points files and computes only the new IDs).
const t5 = performance.now();
for (let i = 0; i < shards; i++) {
  const s = await prepareShard({ stateDir: join(out, 'shards-state'), data: spec, idTypes: ['phone'], epoch: EPOCH, log, threads, index: i, count: shards, key, store });
  if (!s.unchanged) throw new Error(`shard ${i}: expected it unchanged in the store`);
}
const unchangedSeconds = (performance.now() - t5) / 1000;
const otherWorld = join(out, 'world-more');
const extraRows = Math.max(1, Math.round((universe * grow) / 100 / shards));
if (!existsSync(join(otherWorld, `users-${extraRows * shards}`))) {
  rmSync(otherWorld, { recursive: true, force: true });
  await generateWorld(otherWorld, { seed: 'shard-store-more', universeSize: Math.max(1000, extraRows * shards), crmSize: 100 });
  writeFileSync(join(otherWorld, `users-${extraRows * shards}`), '');
}
const more = readFileSync(join(otherWorld, 'media/universe.csv'), 'utf8').trimEnd().split('\n').slice(1);
for (let i = 0; i < shards; i++) appendFileSync(shardFile(spec, i), `${more.slice(i * extraRows, (i + 1) * extraRows).join('\n')}\n`); // each file ends with a newline
let grownSeconds = 0;
let grownCpu = 0;
let computed = 0;
let reused = 0;
for (let i = 0; i < shards; i++) {
  const c2 = process.cpuUsage();
  const t6 = performance.now();
  const s = await prepareShard({ stateDir: join(out, 'shards-state'), data: spec, idTypes: ['phone'], epoch: EPOCH, log, threads, index: i, count: shards, key, store });
  grownSeconds += (performance.now() - t6) / 1000;
  grownCpu += cpu(c2);
  computed += s.computed;
  reused += s.reused;
}
say(`the Job again: unchanged data ${r2(unchangedSeconds)} s for ${shards} shards; grown by ${extraRows * shards} rows: ${computed} tokens computed, ${reused} reused, ${r2(grownSeconds)} s (${r2(grownCpu)} s CPU) against ${r2(prepared)} s the first time`);

// 4. Floors in the same run: sealing and hashing the same bytes; the transport alone (the same bytes unsealed).
const sample = randomBytes(64 * CHUNK_SEAL_BYTES);
const sealer = new ChunkSealer(deriveKey(randomBytes(32), 'bench'), 'bench');
let c1 = process.cpuUsage();
for (let at = 0; at < sample.length; at += CHUNK_SEAL_BYTES) sealer.seal(sample.subarray(at, at + CHUNK_SEAL_BYTES), at + CHUNK_SEAL_BYTES >= sample.length);
const sealPerByte = cpu(c1) / sample.length;
c1 = process.cpuUsage();
createHash('sha256').update(sample).digest();
const shaPerByte = cpu(c1) / sample.length;
const blob = randomBytes(16 * CHUNK_SEAL_BYTES);
const reps = Math.max(1, Math.round(plainBytes / blob.length));
const t3 = performance.now();
for (let i = 0; i < reps; i++) await store.put(`plain/${i}`, blob.length, () => blob);
const plainPut = ((performance.now() - t3) / 1000) * (plainBytes / (reps * blob.length));
const t4 = performance.now();
for (let i = 0; i < reps; i++) await store.getBytes(`plain/${i}`, blob.length);
const plainGet = ((performance.now() - t4) / 1000) * (plainBytes / (reps * blob.length));
store.close();
await s3.close();

const sealFloor = plainBytes * (sealPerByte + shaPerByte);
const summary = {
  universe, shards, users, threads,
  prepareSeconds: r2(prepared),
  bytesPerUser: r2(plainBytes / users), sealedBytesPerUser: r2(sealedBytes / users), sealedOverhead: Math.round(((sealedBytes / plainBytes) - 1) * 1e6) / 1e6,
  upload: { wallSeconds: r2(uploadWall), cpuSeconds: r2(uploadCpu), plainPutSeconds: r2(plainPut), sealAndHashFloorSeconds: r2(sealFloor), wallOverPlainPut: r2(uploadWall / plainPut) },
  download: { wallSeconds: r2(downloadWall), cpuSeconds: r2(downloadCpu), plainGetSeconds: r2(plainGet), openAndHashFloorSeconds: r2(sealFloor), wallOverPlainGet: r2(downloadWall / plainGet) },
  mergeSeconds: r2(mergeWall),
  again: { unchangedSeconds: r2(unchangedSeconds), grownRows: extraRows * shards, computed, reused, grownSeconds: r2(grownSeconds), grownCpuSeconds: r2(grownCpu), firstSeconds: r2(prepared) },
  uploadShareOfPrepare: r2(uploadWall / prepared),
  sealMBps: Math.round(1 / sealPerByte / 1e6), sha256MBps: Math.round(1 / shaPerByte / 1e6),
};
say(JSON.stringify(summary, null, 2));
