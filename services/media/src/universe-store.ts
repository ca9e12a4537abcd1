/**
 * The media node's prepared universe on disk: <stateDir>/universe/<epoch>/ holds the
 * OPRF key (mode 0600) and the sorted columnar files of universe-files.ts (user ids,
 * packed attribute vectors, tokens and ID hashes per ID type, and the OPRF points the label
 * publication reads, mode 0600: universe-points.ts), with a manifest carrying the SHA-256 of
 * the source (the CSV, or a split source's files: universe-source.ts). Preparation streams (bounded memory); the node holds only the packed
 * vectors in memory and reads the rest on demand.
 *
 * On start: same epoch and same CSV digest → the prepared universe is reused as is
 * (no OPRF work); same epoch, changed CSV → re-prepared incrementally (tokens and points of
 * IDs already prepared are reused, only new IDs cost OPRF work); new epoch → new key, full
 * preparation; a directory in an older layout (columnar-v2: no stored points) → prepared
 * again under the epoch's key, once, with a log line saying so (its tokens come out the same,
 * so an unchanged CSV keeps its publication). Writes go to a temporary directory renamed into
 * place, so a crash never leaves a half-written universe that would be reused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { removeStaleTemps } from '@cleanroom/shared/service/temp-dirs.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import { progressGate, PROGRESS_LOG_MS, type Logger } from '@cleanroom/shared/service/log.ts';
import { nodeMetrics } from '@cleanroom/shared/service/metrics.ts';
import { DiskUniverse, mergeShards, PREPARED_FORMAT, prepareToDisk, type PreparedManifest } from './universe-files.ts';
import { fetchShard, fetchShardSet, storedShard, uploadShard } from './shard-store.ts';
import type { ObjectStore } from '@cleanroom/shared/service/object-store.ts';
import { fileSha256, shardFile, sourceSha256, universeSource, type UniverseSource } from './universe-source.ts';

export interface UniverseStatus {
  epoch: string;
  users: number;
  reused: boolean;
  computed: number;
  reusedTokens: number;
  preparedSeconds: number;
  /** Process CPU (all threads) of the preparation, seconds. */
  preparedCpuSeconds: number;
  rejectedRows: number;
  notConsented: number;
  /** Set by the node once the universe is published for the broker. */
  publication?: { version: string; reused: boolean; encryptSeconds: number; encryptCpuSeconds?: number; encryptThreads?: number; ciphertexts: number };
  /** Set by the node once its labels are published beside the tokens (lookup kind; label-store.ts). */
  labels?: { version: string; reused: boolean; seconds: number; cpuSeconds: number; labelled: Record<string, number>; bytes: number };
}

function manifestOf(dir: string): PreparedManifest | undefined {
  const mf = join(dir, 'manifest.json');
  if (!existsSync(mf)) return undefined;
  const m = JSON.parse(readFileSync(mf, 'utf8')) as PreparedManifest;
  return m.format === PREPARED_FORMAT ? m : undefined; // another layout (16-byte tokens): prepare again
}

/** The `format` of the manifest in `dir`, if any (whatever the layout). */
function formatOf(dir: string): string | undefined {
  const mf = join(dir, 'manifest.json');
  return existsSync(mf) ? String((JSON.parse(readFileSync(mf, 'utf8')) as { format?: unknown }).format) : undefined;
}

function currentEpoch(root: string): string | undefined {
  const p = join(root, 'CURRENT');
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined;
}

/**
 * The epoch's OPRF key, created once: <root>/<epoch>.key (mode 0600). Shards of one
 * preparation running at once on a shared volume race to create it; exactly one wins (an
 * exclusive hard link of a fully written file) and every shard then reads the same key.
 * `given` (CLEANROOM_UNIVERSE_KEY_FILE: universe-key.ts) is the key when processes share no
 * volume: it is installed as the key file, and refused when the epoch already has another key
 * here (a key file or an earlier preparation's) — tokens under two keys would never match.
 */
export function epochKey(root: string, epoch: string, previousDir: string | undefined, given?: OprfKey): OprfKey {
  const path = join(root, `${epoch}.key`);
  const previous = previousDir && existsSync(join(previousDir, 'key.bin')) ? new Uint8Array(readFileSync(join(previousDir, 'key.bin'))) : undefined;
  if (given && (existsSync(path) || previous)) {
    const held = OprfKey.fromBytes(existsSync(path) ? new Uint8Array(readFileSync(path)) : previous!);
    if (held.fingerprint() !== given.fingerprint()) {
      throw new RangeError(`epoch ${epoch} was prepared here under another OPRF key (fingerprint ${held.fingerprint()}) than CLEANROOM_UNIVERSE_KEY_FILE's (${given.fingerprint()}): a new key needs a new epoch`);
    }
  }
  if (!existsSync(path)) {
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, given?.toBytes() ?? previous ?? OprfKey.generate().toBytes(), { mode: 0o600 });
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const key = OprfKey.fromBytes(new Uint8Array(readFileSync(path)));
  if (given && key.fingerprint() !== given.fingerprint()) throw new RangeError(`epoch ${epoch}: another process installed another OPRF key (fingerprint ${key.fingerprint()}) than CLEANROOM_UNIVERSE_KEY_FILE's (${given.fingerprint()})`);
  return key;
}

/** How often a preparation logs the rows it has read (a 10^7-row universe takes minutes). */
export const PREPARE_LOG_EVERY_MS = PROGRESS_LOG_MS;

/**
 * The rows-read callback of a preparation: the node's metric, the caller's own, and a
 * 'preparing the universe' log line at most every PREPARE_LOG_EVERY_MS with the rows read
 * so far, the rate and the elapsed seconds.
 */
export function rowsProgress(log: Logger, fields: Record<string, unknown>, onRows?: (rows: number) => void): (rows: number) => void {
  const t0 = performance.now();
  const due = progressGate(PREPARE_LOG_EVERY_MS);
  return (rows) => {
    nodeMetrics.universe.rowsRead(rows);
    onRows?.(rows);
    if (!due()) return;
    const seconds = (performance.now() - t0) / 1000;
    log.info({ ...fields, rowsRead: rows, rowsPerSecond: Math.round(rows / seconds), seconds: Math.round(seconds) }, 'preparing the universe');
  };
}

function cpuSecondsSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return Math.round((c.user + c.system) / 1e4) / 100;
}

export function defaultEpoch(): string {
  return `e${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;
}

export async function openUniverse(opts: {
  stateDir: string; data: string; idTypes: IdType[]; epoch: string | undefined; log: Logger; threads: number;
  /** Rows of the CSV read so far, while a preparation runs (the readiness probe's progress). */
  onRows?: (rows: number) => void;
  /** The epoch's key from CLEANROOM_UNIVERSE_KEY_FILE (needed with `store`). */
  key?: OprfKey | undefined;
  /**
   * Where an Indexed Job's shards are uploaded (CLEANROOM_SHARD_STORE: shard-store.ts). With a
   * store the universe is the Job's work: until the store holds a complete set for this source,
   * the node waits (polling every `storePollMs`, 30 s by default; `onWaiting` says what the
   * store holds) and never prepares the whole universe itself.
   */
  store?: ObjectStore | undefined;
  storePollMs?: number;
  onWaiting?: (why: string) => void;
}): Promise<{ universe: DiskUniverse; status: UniverseStatus; source: UniverseSource }> {
  const root = join(opts.stateDir, 'universe');
  mkdirSync(root, { recursive: true });
  const epoch = opts.epoch ?? currentEpoch(root) ?? defaultEpoch();
  const dir = join(root, epoch);
  const source = universeSource(opts.data);
  const hashes = await sourceSha256(source);
  const dataSha256 = hashes.sha256;
  // Shards prepared by an Indexed Job (prepareShard) for this source: merged here into the union
  // (from the object store, downloaded first).
  if (opts.store && manifestOf(dir)?.dataSha256 !== dataSha256 && !shardSet(root, epoch, source, hashes)) {
    if (!opts.key) throw new RangeError('universe shards in an object store need the epoch key (CLEANROOM_UNIVERSE_KEY_FILE)');
    for (;;) {
      const got = await fetchShardSet({
        store: opts.store, root, epoch, source, hashes, idTypes: opts.idTypes, key: opts.key, log: opts.log,
        shardDir: (i, n) => shardDir(root, epoch, i, n), recordComplete: (i, n) => recordShardComplete(root, epoch, i, n),
      });
      if ('count' in got) break;
      opts.log.info({ epoch, waiting: got.waiting }, 'waiting for the universe shards (the preparation Job uploads them)');
      opts.onWaiting?.(got.waiting);
      await new Promise((r) => setTimeout(r, opts.storePollMs ?? 30_000));
    }
  }
  const shards = shardSet(root, epoch, source, hashes);
  let merged = false;
  if (shards && manifestOf(dir)?.dataSha256 !== dataSha256) {
    merged = true;
    const t0 = performance.now();
    const tmp = `${dir}.tmp-${process.pid}`;
    removeStaleTemps(root, epoch); // what a stopped process left half-made
    rmSync(tmp, { recursive: true, force: true });
    const m = mergeShards(shards, tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    // The union holds everything the shards did: they are removed (disk is not doubled).
    rmSync(join(root, `${epoch}.shards`), { recursive: true, force: true });
    opts.log.info({ epoch, users: m.users, shards: shards.length, seconds: Math.round((performance.now() - t0) / 100) / 10 }, 'universe shards merged');
  }
  const previous = manifestOf(dir);
  const older = previous ? undefined : formatOf(dir);
  if (older !== undefined) {
    opts.log.warn({ epoch, format: older, expected: PREPARED_FORMAT }, `prepared universe in an older layout (${older}${older === 'columnar-v2' ? ': no stored OPRF points, which the label publication reads' : ''}): preparing it again under the epoch's key (as long as a first preparation, once; the tokens come out the same)`);
  }
  const sameTypes = previous && previous.idTypes.join(',') === opts.idTypes.join(',');
  if (previous && sameTypes && previous.dataSha256 === dataSha256) {
    writeFileSync(join(root, 'CURRENT'), epoch);
    const universe = DiskUniverse.open(dir)!;
    const status: UniverseStatus = { epoch, users: universe.size, reused: !merged, computed: 0, reusedTokens: 0, preparedSeconds: 0, preparedCpuSeconds: 0, rejectedRows: 0, notConsented: 0 };
    opts.log.info({ epoch, users: status.users }, 'universe reused: prepared universe on disk matches the data, no rebuild');
    return { universe, status, source };
  }
  // The epoch's key: its key file, else the key an earlier preparation of this epoch left in
  // its directory (also one in an older on-disk layout), else a new one.
  const key = epochKey(root, epoch, existsSync(join(dir, 'key.bin')) ? dir : undefined, opts.key);
  const tmp = `${dir}.tmp-${process.pid}`;
  removeStaleTemps(root, epoch); // what a stopped process left half-made
  rmSync(tmp, { recursive: true, force: true });
  const c0 = process.cpuUsage();
  const figures = await prepareToDisk({
    data: source.files, out: tmp, key, epoch, idTypes: opts.idTypes, threads: opts.threads, dataSha256,
    previousDir: previous ? dir : undefined, onRows: rowsProgress(opts.log, { epoch }, opts.onRows),
  });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(join(root, 'CURRENT'), epoch);
  const universe = DiskUniverse.open(dir)!;
  const status: UniverseStatus = {
    epoch, users: universe.size, reused: false, computed: figures.computed, reusedTokens: figures.reused,
    preparedSeconds: figures.seconds, preparedCpuSeconds: cpuSecondsSince(c0), rejectedRows: figures.rejectedRows, notConsented: figures.notConsented,
  };
  opts.log.info({ ...status, sourceFiles: source.files.length }, 'universe prepared');
  return { universe, status, source };
}

/** <root>/<epoch>.shards/shard-<i>-of-<n>/: where shard i of n writes (prepareShard). */
export function shardDir(root: string, epoch: string, index: number, count: number): string {
  return join(root, `${epoch}.shards`, `shard-${index}-of-${count}`);
}

/** Records shard `index` of `count` as complete in <root>/<epoch>.shards/COMPLETE (one line each, appended). */
function recordShardComplete(root: string, epoch: string, index: number, count: number): void {
  mkdirSync(join(root, `${epoch}.shards`), { recursive: true });
  writeFileSync(join(root, `${epoch}.shards`, 'COMPLETE'), `${index}/${count}\n`, { flag: 'a' });
}

/**
 * The complete shard set of this epoch and source, in index order, or undefined: a whole-file
 * source's shards each record its hash; a split source's N files have N split shards, shard i
 * recording file i's hash.
 */
function shardSet(root: string, epoch: string, source: UniverseSource, hashes: { sha256: string; files: string[] }): string[] | undefined {
  const base = join(root, `${epoch}.shards`);
  if (!existsSync(base)) return undefined;
  const done = new Map<number, string[]>();
  for (const m of readFileSync(join(base, 'COMPLETE'), { flag: 'a+' }).toString('utf8').split('\n').filter(Boolean)) {
    const [i, n] = m.split('/').map(Number) as [number, number];
    const list = done.get(n) ?? new Array<string>(n);
    list[i] = shardDir(root, epoch, i, n);
    done.set(n, list);
  }
  for (const [n, list] of done) {
    if (source.split && n !== source.files.length) continue;
    const complete = list.filter((d, i) => {
      const m = d === undefined ? undefined : manifestOf(d);
      return m !== undefined && (m.shard?.split === true) === source.split && m.dataSha256 === (source.split ? hashes.files[i] : hashes.sha256);
    });
    if (complete.length === n) return list;
  }
  return undefined;
}

/**
 * One shard of an Indexed Job: prepares into <stateDir>/universe/<epoch>.shards/shard-<index>-of-<count>/
 * under the epoch's shared key and records it as complete; the media node merges a complete set
 * at start (openUniverse). From a whole-file source, the consented rows s with s mod count =
 * index (every shard reads the whole file); from a split source (`{shard}` in `data`), file
 * `index` alone — the source must have exactly `count` files.
 */
export async function prepareShard(opts: {
  stateDir: string; data: string; idTypes: IdType[]; epoch: string; log: Logger; threads: number; index: number; count: number;
  /** The epoch's key from CLEANROOM_UNIVERSE_KEY_FILE (needed with `store`). */
  key?: OprfKey | undefined;
  /** Upload the shard there instead of leaving it on a shared volume (CLEANROOM_SHARD_STORE). */
  store?: ObjectStore | undefined;
}): Promise<{ dir: string; users: number; computed: number; reused: number; seconds: number; uploaded?: { files: number; bytes: number; seconds: number }; unchanged?: true }> {
  const root = join(opts.stateDir, 'universe');
  mkdirSync(root, { recursive: true });
  const source = universeSource(opts.data);
  if (source.split && source.files.length !== opts.count) {
    throw new RangeError(`split universe source ${opts.data}: expected ${opts.count} files (${shardFile(opts.data, 0)} … ${shardFile(opts.data, opts.count - 1)}) for ${opts.count} shards, found ${source.files.length}`);
  }
  const file = source.split ? source.files[opts.index]! : opts.data;
  const dataSha256 = await fileSha256(file);
  if (opts.store && !opts.key) throw new RangeError('a shard for an object store needs the epoch key (CLEANROOM_UNIVERSE_KEY_FILE): shards that share no volume cannot share a key file');
  const key = epochKey(root, opts.epoch, undefined, opts.key);
  const dir = shardDir(root, opts.epoch, opts.index, opts.count);
  const place = { epoch: opts.epoch, shard: `${opts.index}/${opts.count}` };
  // What this epoch prepared before is reused: only IDs it has not seen cost OPRF work. On a
  // shared volume: this shard's own previous directory, else the node's merged union. Through a
  // store: this shard's previous upload (its token, ID-hash and points files), unless it is
  // already for this very source — then there is nothing to do.
  let previousDir = existsSync(join(dir, 'manifest.json')) ? dir : join(root, opts.epoch);
  const fetched = `${dir}-previous`;
  if (opts.store) {
    const prior = await storedShard({ store: opts.store, epoch: opts.epoch, index: opts.index, count: opts.count, key });
    if (prior && prior.dataSha256 === dataSha256 && prior.split === source.split && prior.idTypes.join(',') === opts.idTypes.join(',')) {
      opts.log.info({ ...place, users: prior.users, store: opts.store.address(`${opts.epoch}/`) }, 'universe shard already in the store for this source: nothing to prepare');
      return { dir, users: prior.users, computed: 0, reused: 0, seconds: 0, unchanged: true };
    }
    removeStaleTemps(dirname(fetched), basename(fetched));
    rmSync(fetched, { recursive: true, force: true });
    if (prior) await fetchShard({ store: opts.store, record: prior, dir: fetched, key, log: opts.log, only: (n) => n === 'manifest.json' || /^(idhash|tokens|points)-/.test(n) });
    previousDir = fetched;
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  let f;
  try {
    f = await prepareToDisk({ data: file, out: tmp, key, epoch: opts.epoch, idTypes: opts.idTypes, threads: opts.threads, dataSha256, previousDir, shard: { index: opts.index, count: opts.count, ...(source.split ? { split: true as const } : {}) }, onRows: rowsProgress(opts.log, place) });
  } finally {
    rmSync(fetched, { recursive: true, force: true });
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  opts.log.info({ ...place, users: f.users, computed: f.computed, reused: f.reused, seconds: Math.round(f.seconds * 10) / 10 }, 'universe shard prepared');
  if (!opts.store) {
    recordShardComplete(root, opts.epoch, opts.index, opts.count);
    return { dir, users: f.users, computed: f.computed, reused: f.reused, seconds: f.seconds };
  }
  // In the store it is complete once its record is written; this volume needs it no more.
  const uploaded = await uploadShard({ store: opts.store, dir, epoch: opts.epoch, index: opts.index, count: opts.count, key, log: opts.log });
  rmSync(dir, { recursive: true, force: true });
  return { dir, users: f.users, computed: f.computed, reused: f.reused, seconds: f.seconds, uploaded };
}
