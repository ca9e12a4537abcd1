/**
 * Media's preparation shards through S3-compatible object storage (CLEANROOM_SHARD_STORE), so
 * that the pods of an Indexed Job share no volume: each shard uploads what it prepared, and the
 * node downloads a complete set and merges it as it merges shards on a shared volume
 * (universe-store.ts). Layout under the store's prefix:
 *
 *   <epoch>/shard-<i>-of-<n>/<file>   every file of the shard's directory except key.bin, sealed
 *                                     in chunks (crypto/chunk-seal.ts, the object's name bound in)
 *   <epoch>/shard-<i>-of-<n>.json     the shard's record, written after its files: epoch, place,
 *                                     source hash, ID types, users, the key's fingerprint, each
 *                                     file's name, length and SHA-256; HMAC-SHA256 over its JCS form
 *
 * Both keys (sealing, record MAC) are derived by HKDF from the epoch's OPRF key, which never
 * goes to the store (universe-key.ts: a file every process mounts). So the bucket holds nothing
 * readable without that key — no user ID, ID hash, token, vector or OPRF point — and nothing a
 * writer to the bucket can change unnoticed: a record that does not verify, a file that does
 * not open, or one whose length or SHA-256 differ from its record is refused, naming the object.
 *
 * Guarantees: a shard's record is written only after all its files, so a record means a
 * complete shard; the node merges only a set whose every shard is recorded for this source,
 * these ID types and this key; downloads go to `<dir>.tmp-<pid>`, renamed into place once every
 * file checked, and the room they and the merge need is checked first; a file whose connection
 * fails or is cut mid-object is asked again from its last whole chunk (up to 4 attempts), one
 * that does not check out is refused at once (ShardIntegrityError); shards a stopped start
 * downloaded whole (the same record) are kept, not downloaded again.
 */
import { createHash, createHmac, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { basename, dirname, join } from 'node:path';
import { ChunkOpener, ChunkSealer, ChunkSealError, chunkCount, CHUNK_PREFIX_BYTES, CHUNK_SEAL_BYTES, CHUNK_TAG_BYTES, deriveKey, sealedLength } from '@cleanroom/shared/crypto/chunk-seal.ts';
import { canonicalize, parseStrictBytes } from '@cleanroom/shared/crypto/jcs.ts';
import type { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import type { Logger } from '@cleanroom/shared/service/log.ts';
// a type only: the S3 client loads when a store is configured (preparationInputs), not in every media process
import type { ObjectStore } from '@cleanroom/shared/service/object-store.ts';
import { lackOfRoom } from '@cleanroom/shared/service/volume.ts';
import { removeStaleTemps } from '@cleanroom/shared/service/temp-dirs.ts';
import type { NodeConfig } from '@cleanroom/shared/service/config.ts';
import type { PreparedManifest } from './universe-files.ts';
import { readUniverseKeyFile } from './universe-key.ts';
import type { UniverseSource } from './universe-source.ts';

export const SHARD_RECORD_FORMAT = 'cleanroom-shard-v1';
/** Attempts per downloaded file: a connection cut mid-object is tried again, a file that does not check out is not. */
const DOWNLOAD_ATTEMPTS = 4;

/** A downloaded file that does not match its record or does not open: never tried again. */
export class ShardIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardIntegrityError';
  }
}
/** Objects uploaded or downloaded at once (an object store's throughput grows with concurrent requests). */
export const TRANSFERS = 4;
/** A record is a few hundred bytes; anything larger is not one. */
const RECORD_LIMIT = 1 << 20;

export interface ShardRecord {
  format: typeof SHARD_RECORD_FORMAT;
  epoch: string;
  index: number;
  count: number;
  split: boolean;
  dataSha256: string;
  idTypes: IdType[];
  users: number;
  /** OprfKey.fingerprint() of the key the shard was prepared under. */
  key: string;
  files: { name: string; bytes: number; sha256: string }[];
  mac: string;
}

/** `fn` over `items`, at most `n` at a time; the first failure is thrown once every started call has ended. */
async function eachAtOnce<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, lane));
  if (failed) throw failed.err;
}

function shardName(epoch: string, index: number, count: number): string {
  return `${epoch}/shard-${index}-of-${count}`;
}

function keys(key: OprfKey): { seal: Uint8Array; mac: Uint8Array } {
  const k = key.toBytes();
  return { seal: deriveKey(k, 'cleanroom/v1/shard-store/seal'), mac: deriveKey(k, 'cleanroom/v1/shard-store/record-mac') };
}

function macOf(macKey: Uint8Array, record: Omit<ShardRecord, 'mac'>): string {
  return createHmac('sha256', macKey).update(canonicalize(record)).digest('hex');
}

/** Sealed chunks of the file at `path` (`bytes` long), hashing its plaintext into `hash`. */
async function* sealedChunks(path: string, bytes: number, sealer: ChunkSealer, hash: Hash): AsyncGenerator<Uint8Array> {
  yield sealer.prefix;
  const fh = await open(path, 'r');
  try {
    const n = chunkCount(bytes);
    for (let i = 0; i < n; i++) {
      const len = i < n - 1 ? CHUNK_SEAL_BYTES : bytes - i * CHUNK_SEAL_BYTES;
      const buf = new Uint8Array(len);
      for (let got = 0; got < len; ) {
        const { bytesRead } = await fh.read(buf, got, len - got, i * CHUNK_SEAL_BYTES + got);
        if (bytesRead === 0) throw new Error(`${path}: shorter than its ${bytes} bytes while uploading`);
        got += bytesRead;
      }
      hash.update(buf);
      yield sealer.seal(buf, i === n - 1);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Uploads the prepared shard in `dir` (shard `index` of `count`, under `key`): its files, then
 * its record. Returns the objects' count and sealed bytes.
 */
export async function uploadShard(o: { store: ObjectStore; dir: string; epoch: string; index: number; count: number; key: OprfKey; log: Logger }): Promise<{ files: number; bytes: number; seconds: number }> {
  const t0 = performance.now();
  const k = keys(o.key);
  const m = JSON.parse(readFileSync(join(o.dir, 'manifest.json'), 'utf8')) as PreparedManifest;
  const base = shardName(o.epoch, o.index, o.count);
  const names = readdirSync(o.dir).filter((f) => f !== 'key.bin').sort();
  // The record of an earlier upload goes first: while the files are replaced, a node sees this
  // shard as missing (and waits) rather than an old record over new files.
  await o.store.delete(`${base}.json`);
  const files: ShardRecord['files'] = new Array(names.length);
  let sent = 0;
  await eachAtOnce(names.map((name, i) => ({ name, i })), TRANSFERS, async ({ name, i }) => {
    const path = join(o.dir, name);
    const bytes = statSync(path).size;
    const object = `${base}/${name}`;
    let hash = createHash('sha256');
    await o.store.put(object, sealedLength(bytes), () => {
      hash = createHash('sha256');
      return Readable.from(sealedChunks(path, bytes, new ChunkSealer(k.seal, object), hash), { objectMode: false });
    });
    files[i] = { name, bytes, sha256: hash.digest('hex') };
    sent += sealedLength(bytes);
  });
  const record: Omit<ShardRecord, 'mac'> = {
    format: SHARD_RECORD_FORMAT, epoch: o.epoch, index: o.index, count: o.count, split: m.shard?.split === true,
    dataSha256: m.dataSha256, idTypes: m.idTypes, users: m.users, key: o.key.fingerprint(), files,
  };
  const body = new TextEncoder().encode(`${canonicalize({ ...record, mac: macOf(k.mac, record) })}\n`);
  await o.store.put(`${base}.json`, body.length, () => body);
  const seconds = (performance.now() - t0) / 1000;
  o.log.info({ epoch: o.epoch, shard: `${o.index}/${o.count}`, store: o.store.address(base), files: files.length, bytes: sent, seconds: Math.round(seconds * 10) / 10 }, 'universe shard uploaded');
  return { files: files.length, bytes: sent, seconds };
}

/** The record `name` checked against `key`: its format, its key's fingerprint, its MAC. */
async function readRecord(store: ObjectStore, name: string, key: OprfKey, macKey: Uint8Array): Promise<ShardRecord | undefined> {
  const bytes = await store.getBytes(name, RECORD_LIMIT);
  if (!bytes) return undefined; // listed, then removed (a shard uploading again): as if never listed
  let r: ShardRecord;
  try {
    r = parseStrictBytes(bytes) as unknown as ShardRecord;
  } catch (err) {
    throw new Error(`${store.address(name)}: not a shard record (${(err as Error).message})`);
  }
  if (r.format !== SHARD_RECORD_FORMAT) throw new Error(`${store.address(name)}: expected format ${SHARD_RECORD_FORMAT}, got ${JSON.stringify(r.format)}`);
  if (r.key !== key.fingerprint()) {
    throw new Error(`${store.address(name)}: prepared under another OPRF key (fingerprint ${String(r.key)}, this node's ${key.fingerprint()}): every shard and the node must read the same CLEANROOM_UNIVERSE_KEY_FILE`);
  }
  const { mac, ...rest } = r;
  if (typeof mac !== 'string' || mac !== macOf(macKey, rest)) throw new Error(`${store.address(name)}: its MAC does not verify under this epoch's key: the record was altered`);
  return r;
}

/**
 * Downloads the sealed object `name` into `path`, checking it against its record's entry. A
 * connection that fails or is cut mid-object is asked again (up to DOWNLOAD_ATTEMPTS) for the
 * bytes after the last chunk that opened (a ranged request): the chunks already checked and
 * written stay, so a cut late in a file of gigabytes costs at most one chunk (1 MiB) again.
 * The opener, the running SHA-256 and the file carry on across the attempts, so the resumed
 * bytes are checked exactly as one stream's would be (an object replaced meanwhile does not
 * open: its chunks are sealed under another prefix). A file that does not check out fails at
 * once (ShardIntegrityError).
 */
async function fetchFile(store: ObjectStore, name: string, path: string, f: ShardRecord['files'][number], sealKey: Uint8Array, log?: Logger): Promise<void> {
  const want = sealedLength(f.bytes);
  const n = chunkCount(f.bytes);
  const frame = (i: number): number => (i < n - 1 ? CHUNK_SEAL_BYTES : f.bytes - i * CHUNK_SEAL_BYTES) + CHUNK_TAG_BYTES;
  const buf = new Uint8Array(CHUNK_SEAL_BYTES + CHUNK_TAG_BYTES);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w', 0o600);
  let opener: ChunkOpener | undefined;
  let i = 0; // the next chunk to open
  let done = 0; // sealed bytes through the last chunk opened (or the prefix): where a resumed request starts
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const from = done;
        const got = await store.get(name, { from });
        if (!got) throw new ShardIntegrityError(`${store.address(name)}: missing (its shard's record lists it)`);
        if (got.length !== want - from) {
          got.body.destroy();
          throw new ShardIntegrityError(`${store.address(name)}: ${from + got.length} bytes, its record gives ${want} (${f.bytes} sealed)`);
        }
        let fill = 0;
        let need = opener ? (i < n ? frame(i) : 0) : CHUNK_PREFIX_BYTES;
        let received = 0;
        for await (const c of got.body as AsyncIterable<Buffer>) {
          received += c.length;
          for (let at = 0; at < c.length; ) {
            if (need === 0) throw new ShardIntegrityError(`${store.address(name)}: bytes after its final chunk`);
            const take = Math.min(need - fill, c.length - at);
            buf.set(c.subarray(at, at + take), fill);
            fill += take;
            at += take;
            if (fill < need) continue;
            if (!opener) {
              opener = new ChunkOpener(sealKey, name, buf.slice(0, CHUNK_PREFIX_BYTES));
            } else {
              const m = opener.open(buf.subarray(0, need), i === n - 1);
              hash.update(m);
              writeSync(fd, m);
              i += 1;
            }
            done += need;
            fill = 0;
            need = i < n ? frame(i) : 0;
          }
        }
        // a response cut short is the connection's failure, not the object's: asked again from `done`
        if (received < got.length) throw new Error(`${store.address(name)}: the connection ended after ${from + received} of ${want} bytes`);
        break;
      } catch (err) {
        if (err instanceof ShardIntegrityError || err instanceof ChunkSealError) throw err;
        const object = store.address(name);
        const why = (err as Error).message.startsWith(object) ? (err as Error).message : `${object}: ${(err as Error).message}`;
        if (attempt >= DOWNLOAD_ATTEMPTS) throw new Error(`${why} (after ${attempt} attempts)`);
        log?.warn({ object, attempt, resumeAt: done, err: (err as Error).message }, 'universe shard download failed: trying again');
        await new Promise((res) => setTimeout(res, 250 * 4 ** (attempt - 1)));
      }
    }
    if (!opener) throw new ShardIntegrityError(`${store.address(name)}: empty`);
    opener.finish();
    const sha = hash.digest('hex');
    if (sha !== f.sha256) throw new ShardIntegrityError(`${store.address(name)}: SHA-256 ${sha}, its record gives ${f.sha256}`);
  } catch (err) {
    // the opener names the object as sealed (relative to the prefix): give the full address
    if (err instanceof ChunkSealError) throw new ShardIntegrityError(`${store.address(name)}${err.message.slice(name.length)}`);
    throw err;
  } finally {
    closeSync(fd);
  }
}

/**
 * Downloads the files of the shard `record` describes (those `only` keeps; all by default) into
 * `dir`, beside the key as `key.bin`: into `<dir>.tmp-<pid>`, renamed into place once every file
 * opened and matched its record, removed on failure.
 */
export async function fetchShard(o: { store: ObjectStore; record: ShardRecord; dir: string; key: OprfKey; only?: (name: string) => boolean; log?: Logger }): Promise<void> {
  const r = o.record;
  const k = keys(o.key);
  const files = r.files.filter((f) => o.only?.(f.name) ?? true);
  for (const f of files) {
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(f.name) || f.name === 'key.bin') throw new Error(`${o.store.address(`${shardName(r.epoch, r.index, r.count)}.json`)}: unexpected file name ${JSON.stringify(f.name)}`);
  }
  const tmp = `${o.dir}.tmp-${process.pid}`;
  removeStaleTemps(dirname(o.dir), basename(o.dir)); // what a stopped process left half-downloaded
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await eachAtOnce(files, TRANSFERS, (f) => fetchFile(o.store, `${shardName(r.epoch, r.index, r.count)}/${f.name}`, join(tmp, f.name), f, k.seal, o.log));
    writeFileSync(join(tmp, 'key.bin'), o.key.toBytes(), { mode: 0o600 });
    // which record these files are (the merge reads only its own files): a later start keeps them
    if (files.length === r.files.length) writeFileSync(join(tmp, DOWNLOADED), r.mac);
    rmSync(o.dir, { recursive: true, force: true });
    renameSync(tmp, o.dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Beside a completely downloaded shard: the MAC of the record it was downloaded under. */
const DOWNLOADED = 'downloaded-record.mac';

function downloadedRecordMac(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, DOWNLOADED), 'utf8');
  } catch {
    return undefined;
  }
}

/** The store's record of shard `index` of `count` of `epoch`, verified under `key`, or undefined when there is none. */
export async function storedShard(o: { store: ObjectStore; epoch: string; index: number; count: number; key: OprfKey }): Promise<ShardRecord | undefined> {
  return readRecord(o.store, `${shardName(o.epoch, o.index, o.count)}.json`, o.key, keys(o.key).mac);
}

/**
 * Brings the store's complete shard set of `epoch` for this source (and these ID types, under
 * this key) into `<root>/<epoch>.shards/`, as a shared volume would hold it, and returns its
 * shard count — or, when the store holds no such set yet, what it holds (`waiting`).
 * `shardDir` and `recordComplete` are universe-store.ts's, so both paths end the same.
 */
export async function fetchShardSet(o: {
  store: ObjectStore; root: string; epoch: string; source: UniverseSource; hashes: { sha256: string; files: string[] }; idTypes: IdType[]; key: OprfKey; log: Logger;
  shardDir: (index: number, count: number) => string; recordComplete: (index: number, count: number) => void;
}): Promise<{ count: number } | { waiting: string }> {
  const k = keys(o.key);
  const pattern = new RegExp(`^${o.epoch}/shard-(\\d+)-of-(\\d+)\\.json$`);
  const names = (await o.store.list(`${o.epoch}/`)).map((x) => x.name).filter((n) => pattern.test(n));
  if (names.length === 0) return { waiting: `no shard of epoch ${o.epoch} in ${o.store.address(`${o.epoch}/`)} yet` };
  const records = (await Promise.all(names.map((n) => readRecord(o.store, n, o.key, k.mac)))).filter((r) => r !== undefined);
  const byCount = new Map<number, ShardRecord[]>();
  for (const r of records) {
    if (r.epoch !== o.epoch) continue;
    const list = byCount.get(r.count) ?? [];
    list[r.index] = r;
    byCount.set(r.count, list);
  }
  const matches = (r: ShardRecord | undefined, i: number): boolean =>
    r !== undefined && r.split === o.source.split && r.dataSha256 === (o.source.split ? o.hashes.files[i] : o.hashes.sha256) && r.idTypes.join(',') === o.idTypes.join(',');
  const count = [...byCount].find(([n, list]) => (!o.source.split || n === o.source.files.length) && Array.from({ length: n }, (_, i) => matches(list[i], i)).every(Boolean))?.[0];
  if (count === undefined) {
    const seen = [...byCount].map(([n, list]) => `${n} shards: ${Array.from({ length: n }, (_, i) => (list[i] === undefined ? `${i} missing` : matches(list[i], i) ? `${i} ok` : `${i} for another source or ID types`)).join(', ')}`);
    return { waiting: `no complete shard set for this source in ${o.store.address(`${o.epoch}/`)} yet (${seen.join('; ')})` };
  }
  const set = byCount.get(count)!;
  const bytes = set.reduce((s, r) => s + r.files.reduce((t, f) => t + f.bytes, 0), 0);
  // the shards, then their union beside them until the merge removes them
  const lack = lackOfRoom(o.root, 2 * bytes, `${count} universe shards (${bytes} B) and their merge need ≈`);
  if (lack) throw new Error(`cannot download the universe shards: ${lack}: free space or grow the volume`);
  const t0 = performance.now();
  let fetched = 0;
  for (const r of set) {
    // downloaded by an earlier start that stopped before the merge: the same record, kept
    if (downloadedRecordMac(o.shardDir(r.index, r.count)) === r.mac) {
      o.recordComplete(r.index, r.count);
      continue;
    }
    fetched += 1;
    try {
      await fetchShard({ store: o.store, record: r, dir: o.shardDir(r.index, r.count), key: o.key, log: o.log });
    } catch (err) {
      // A shard uploaded again while it was downloaded (its record removed or replaced meanwhile):
      // not a damaged store — wait for its new record. Otherwise the store's content is refused.
      if (!(err instanceof ShardIntegrityError)) throw err;
      const now = await readRecord(o.store, `${shardName(o.epoch, r.index, r.count)}.json`, o.key, k.mac);
      if (now?.mac === r.mac) throw err;
      return { waiting: `shard ${r.index} of ${r.count} was uploaded again while it was downloaded (${err.message})` };
    }
    o.recordComplete(r.index, r.count);
  }
  o.log.info({ epoch: o.epoch, shards: count, downloaded: fetched, kept: count - fetched, bytes, seconds: Math.round((performance.now() - t0) / 100) / 10, store: o.store.address(`${o.epoch}/`) }, 'universe shards downloaded');
  return { count };
}

/**
 * What a media configuration gives a preparation: the key of CLEANROOM_UNIVERSE_KEY_FILE and
 * the store of CLEANROOM_SHARD_STORE, each when set (the caller closes the store).
 */
export async function preparationInputs(c: Pick<NodeConfig, 'universeKeyFile' | 'universeEpoch' | 'shardStore' | 'shardStoreEndpoint'>): Promise<{ key?: OprfKey; store?: ObjectStore }> {
  const key = c.universeKeyFile !== undefined ? readUniverseKeyFile(c.universeKeyFile, c.universeEpoch!) : undefined;
  const S3 = c.shardStore !== undefined ? (await import('@cleanroom/shared/service/object-store.ts')).ObjectStore : undefined;
  const store = S3 ? new S3(c.shardStore!, c.shardStoreEndpoint !== undefined ? { endpoint: c.shardStoreEndpoint } : {}) : undefined;
  return { ...(key ? { key } : {}), ...(store ? { store } : {}) };
}
