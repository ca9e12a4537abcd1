/**
 * The media node's prepared universe as sorted columnar files, prepared by streaming and read
 * without loading it whole — bounded memory at 10^7 users and beyond.
 *
 * Layout of one prepared directory (all integers little-endian):
 *   key.bin             the epoch's OPRF key (mode 0600)
 *   users.bin           user ids back to back (UTF-8); users.off: users+1 float64 byte offsets (read on demand)
 *   vectors.bin         PACKED_BYTES per user, row order (held in memory by the node)
 *   purposes.bin        1 byte per user: bit 0 consent_ads, bit 1 consent_share (held in memory)
 *   tokens-<t>.bin      TOKEN_RECORD (token 12 | row u32) per ID of type t, sorted by token then row
 *   idhash-<t>.bin      IDHASH_RECORD (SHA-256("t:id")[0..12] | token 12), sorted by id hash then token
 *   points-<t>.bin      the OPRF point (32) of each row's ID of type t, row order, zeros for none (mode 0600;
 *                       universe-points.ts): what the label publication derives keys from, never recomputed
 *   *.idx               BUCKETS+1 float64 record offsets: records whose first byte is b are in [idx[b], idx[b+1])
 *   manifest.json       format (PREPARED_FORMAT), epoch, ID types, users, attribute counts, source digest
 *
 * Token width is TOKEN_BYTES (12; crypto/group.ts), id-hash width ID_HASH_BYTES (12;
 * protocol/universe.ts): two definitions that happen to be equal. PREPARED_FORMAT names the
 * layout: a directory in any other (columnar-v1 held 16-byte tokens and id hashes, columnar-v2
 * no points) is never read as this one — DiskUniverse.open refuses it, openUniverse prepares
 * again (keeping the epoch's key, so the tokens come out the same), and its id hashes are not
 * reused.
 *
 * Preparation (prepareToDisk), in passes whose memory does not grow with the universe:
 *   1. stream the CSV once: consented rows append to users/vectors; each normalised ID goes,
 *      with its id hash and row, to one of BUCKETS spill files by the hash's first byte —
 *      or, for an ID type with nothing to reuse (a new epoch), straight to the token workers
 *      in batches while the CSV reads on (StreamedTokens), its (id hash, token) and (token,
 *      row) records spilled by first byte, so that pass 2 only sorts, and its points written
 *      in row order as the batches come back;
 *   2. per spill bucket: sort by id hash, reuse the token of every id hash the previous
 *      preparation of the same epoch had (a merge with its idhash bucket — only new IDs cost
 *      OPRF work), compute the rest on the TokenPool's worker threads, write the idhash
 *      bucket and spill (token, row) by the token's first byte — a reused one also to a
 *      second spill, a computed one's point by row range (PointsScatter);
 *   3. per token bucket: sort, write tokens-<t>.bin; the reused tokens, merged with the
 *      previous tokens-<t>.bin bucket, give their previous rows, whose points are then read
 *      from the previous points-<t>.bin by row range (PreviousPoints) and points-<t>.bin is
 *      written in row order.
 * Peak memory is one bucket (≈ users/256 records) plus write buffers; nothing holds one string
 * or one JS array of all users.
 *
 * Shards: `shard: { index, count }` prepares only the consented rows whose sequence number s
 * (0-based among consented rows) has s mod count = index, with global row = s; with `split`,
 * shard i prepares file i of a split source (universe-source.ts), all its rows, numbered from
 * 0. The node merges a complete shard set (mergeShards) into exactly the single-process
 * preparation of the same source, file for file.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { oprfDst } from '@cleanroom/shared/crypto/h2c.ts';
import { SHA256_BYTES, sha256Into } from '@cleanroom/shared/crypto/digest-into.ts';
import { TokenPool, type TokenBatch } from '@cleanroom/shared/crypto/oprf-tokens.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { radixOrder } from '@cleanroom/shared/common/radix-order.ts';
import { Scratch } from '@cleanroom/shared/common/scratch.ts';
import { readUniverseBatches } from '@cleanroom/shared/data/files.ts';
import { attributeCounts, ID_HASH_BYTES, PACKED_BYTES, packVectorInto, unpackVector, type Universe } from '@cleanroom/shared/protocol/universe.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import type { PurposeConsent } from '@cleanroom/shared/protocol/media.ts';
import type { ElementBytes } from '@cleanroom/shared/crypto/group.ts';
import { Appender, BucketScratch, BUCKETS, compareBytes, f64File, preadFully, readAll, RecordFile, sortRecords } from '@cleanroom/shared/service/record-file.ts';
import { POINT_BYTES, PointsFile, pointsPath, PointsScatter, PointsWriter, PreviousPoints } from './universe-points.ts';
import { splitSourceSha256 } from './universe-source.ts';

/** The layout of a prepared directory (manifest.json `format`); columnar-v1 had 16-byte tokens, columnar-v2 no points. */
export const PREPARED_FORMAT = 'columnar-v3';

export const TOKEN_RECORD = TOKEN_BYTES + 4;
/** Bytes of users.bin read at most at a time by DiskUniverse's id reads. */
const USERS_WINDOW = 1 << 20;
/** Entries of users.off read at most at a time by DiskUniverse's id reads. */
const OFFSETS_WINDOW = 8192;
/**
 * Bytes between two wanted ranges of a file that DiskUniverse's id reads read through rather
 * than make another read: a read (readSync) costs ≈ 3.5 µs here whatever its size up to 16 KiB,
 * and 6.6 µs for 64 KiB (measured on the dev machine, 2 cores).
 */
const READ_GAP = 16_384;
export const IDHASH_RECORD = ID_HASH_BYTES + TOKEN_BYTES;

export interface PreparedManifest {
  format: typeof PREPARED_FORMAT;
  epoch: string;
  idTypes: IdType[];
  users: number;
  /** Users with each attribute (shares = counts / users). */
  attributeCounts: number[];
  dataSha256: string;
  shard?: ShardPlace;
  createdAt: string;
}

export interface PrepareFigures {
  users: number;
  computed: number;
  reused: number;
  rejectedRows: number;
  notConsented: number;
  seconds: number;
}

/**
 * A prepared directory opened for serving: vectors in memory, everything else read on demand.
 * Implements the protocol's Universe.
 */
export class DiskUniverse implements Universe {
  readonly epoch: string;
  readonly key: OprfKey;
  readonly size: number;
  readonly idTypes: IdType[];
  readonly packed: Uint8Array;
  readonly shares: Float64Array;
  readonly manifest: PreparedManifest;
  private readonly usersFd: number;
  /** users.off, read on demand (readOffsets): not 8 bytes per user in memory. */
  private readonly offsetsFd: number;
  private offsetWindow = new Float64Array(0);
  /** Bytes of users.off and users.bin read so far by the id reads (userId, userIdsOf, userIdLines): what a test or bench counts. */
  bytesRead = 0;
  private readonly tokens = new Map<IdType, RecordFile>();
  private readonly points = new Map<IdType, PointsFile>();
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as PreparedManifest;
    if (m.format !== PREPARED_FORMAT) throw new RangeError(`${dir}: expected a ${PREPARED_FORMAT} prepared universe, got ${String(m.format)}`);
    this.manifest = m;
    this.epoch = m.epoch;
    this.size = m.users;
    this.idTypes = m.idTypes;
    this.key = OprfKey.fromBytes(new Uint8Array(readFileSync(join(dir, 'key.bin'))));
    this.packed = readAll(join(dir, 'vectors.bin'));
    if (this.packed.length !== m.users * PACKED_BYTES) throw new RangeError(`${dir}: expected ${m.users * PACKED_BYTES} vector bytes, got ${this.packed.length}`);
    this.shares = Float64Array.from(m.attributeCounts, (c) => (m.users === 0 ? 0 : c / m.users));
    this.offsetsFd = openSync(join(dir, 'users.off'), 'r');
    const offBytes = fstatSync(this.offsetsFd).size;
    if (offBytes !== (m.users + 1) * 8) {
      closeSync(this.offsetsFd);
      throw new RangeError(`${dir}: expected ${m.users + 1} user offsets, got ${offBytes / 8}`);
    }
    this.usersFd = openSync(join(dir, 'users.bin'), 'r');
    for (const t of m.idTypes) this.tokens.set(t, new RecordFile(join(dir, `tokens-${t}.bin`), TOKEN_RECORD));
    for (const t of m.idTypes) this.points.set(t, new PointsFile(pointsPath(dir, t), m.users)); // sized: users × POINT_BYTES
  }

  /** Opens a complete prepared directory (manifest present), or undefined. */
  static open(dir: string): DiskUniverse | undefined {
    return existsSync(join(dir, 'manifest.json')) ? new DiskUniverse(dir) : undefined;
  }

  /** User `row`'s id: its two offsets and its bytes, two reads. */
  userId(row: number): string {
    if (!Number.isInteger(row) || row < 0 || row >= this.size) throw new RangeError(`expected a user row in [0, ${this.size}), got ${row}`);
    const off = this.readOffsets(row, 2);
    return Buffer.from(this.readUsers(off[0]!, off[1]! - off[0]!)).toString('utf8');
  }

  /**
   * The user ids of `rows` (in that order): gathered as userIdLines gathers them (gatherIds),
   * one string per row asked. (`windowBytes`: tests.)
   */
  userIdsOf(rows: ArrayLike<number>, windowBytes = USERS_WINDOW): string[] {
    this.checkRows(rows);
    const scratch = this.idScratch.acquire();
    try {
      const { ids, at, len } = this.gatherIds(rows, windowBytes, scratch);
      const buf = Buffer.from(ids.buffer, ids.byteOffset, ids.length);
      const out = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) out[i] = buf.toString('utf8', at[i]!, at[i]! + len[i]!);
      return out;
    } finally {
      scratch.release();
    }
  }

  /**
   * The user ids of `rows` (in that order, duplicates allowed) as '\n'-terminated UTF-8 lines
   * in chunks of about `chunkBytes` (Universe.userIdLines): the bytes of users.bin copied as
   * they are, no string per id. One pass over the rows in row order gathers the ids' bytes
   * (gatherIds; memory: their total length, 12 bytes per row, one window, one chunk), a
   * second emits them in the order asked. A chunk is reused: valid until the next is asked for.
   */
  userIdLines(rows: ArrayLike<number>, chunkBytes = USERS_WINDOW, windowBytes = USERS_WINDOW): Iterable<Uint8Array> {
    this.checkRows(rows); // now, not at the first chunk
    return this.idLines(rows, chunkBytes, windowBytes);
  }

  private *idLines(rows: ArrayLike<number>, chunkBytes: number, windowBytes: number): Iterable<Uint8Array> {
    const scratch = this.idScratch.acquire(); // held while the caller iterates (released when it ends or stops early)
    try {
      const { ids, at, len } = this.gatherIds(rows, windowBytes, scratch);
      let lines = rows.length; // the bytes of every line: a chunk no larger than that (a small audience, a small buffer)
      for (let i = 0; i < rows.length; i++) lines += len[i]!;
      let out = scratch.u8('chunk', Math.max(1, Math.min(chunkBytes, lines)));
      for (let i = 0; i < rows.length;) {
        if (len[i]! + 1 > out.length) out = new Uint8Array(len[i]! + 1); // one id longer than a chunk
        const { next, bytes } = packLines(ids, at, len, i, out);
        yield out.subarray(0, bytes);
        i = next;
      }
    } finally {
      scratch.release();
    }
  }

  /**
   * The bytes of the ids of `rows`, gathered in row order: the id of rows[i] is
   * ids[at[i] .. at[i] + len[i]) (a repeated row shares its bytes). The rows are read in runs:
   * rows whose offsets (users.off) lie within READ_GAP bytes of the previous one's share one
   * read of at most OFFSETS_WINDOW offsets, and, within that, ids within READ_GAP bytes of the
   * previous one's share one read of at most `windowBytes` of users.bin. So an audience dense
   * in its universe (50,000 of 10^6) costs a few reads of each file front to back, and a sparse
   * one (50,000 of 10^9) two small reads per member — never a whole window per member, which
   * at 10^9 users would be gigabytes read for an audience of a few hundred kilobytes.
   * A plain method, not part of the generator, so that V8 optimises its loops. Its arrays come
   * from `scratch` (the result's too: valid while the caller holds it).
   */
  private gatherIds(rows: ArrayLike<number>, windowBytes: number, scratch: Scratch): { ids: Uint8Array; at: Float64Array; len: Uint32Array } {
    const n = rows.length;
    const order = radixOrder(n, [rows], [scratch.u32('order', n), scratch.u32('order2', n)]); // ascending rows, equal rows by index
    const sorted = scratch.f64('sorted', n);
    for (let k = 0; k < n; k++) sorted[k] = rows[order[k]!]!;
    const at = scratch.f64('at', n);
    const len = scratch.u32('len', n);
    let ids = scratch.u8('ids', Math.max(64, n * 16));
    let size = 0;
    const gapRows = READ_GAP / 8;
    for (let k = 0; k < n;) {
      // a run of rows [k, end) whose offsets one read of users.off covers
      const first = sorted[k]!;
      let end = k + 1;
      while (end < n && sorted[end]! - sorted[end - 1]! <= gapRows && sorted[end]! + 2 - first <= OFFSETS_WINDOW) end++;
      const off = this.readOffsets(first, sorted[end - 1]! + 2 - first);
      for (let a = k; a < end;) {
        // within it, rows [a, b) whose ids one read of users.bin covers
        const from = off[sorted[a]! - first]!;
        let stop = off[sorted[a]! + 1 - first]!;
        let b = a + 1;
        while (b < end) {
          const s = off[sorted[b]! - first]!;
          const e = off[sorted[b]! + 1 - first]!;
          if (s - stop > READ_GAP || e - from > windowBytes) break;
          stop = Math.max(stop, e);
          b++;
        }
        const w = this.readUsers(from, stop - from);
        if (size + (stop - from) > ids.length) {
          const bigger = scratch.u8('ids2', Math.max(2 * ids.length, size + (stop - from)));
          bigger.set(ids.subarray(0, size));
          ids = bigger;
        }
        for (let c = a; c < b; c++) {
          const i = order[c]!;
          if (c > a && sorted[c] === sorted[c - 1]) {
            at[i] = at[order[c - 1]!]!; // a repeated row: the same bytes
            len[i] = len[order[c - 1]!]!;
            continue;
          }
          const s = off[sorted[c]! - first]! - from;
          const l = off[sorted[c]! + 1 - first]! - from - s;
          for (let x = 0; x < l; x++) ids[size + x] = w[s + x]!; // a few bytes: no subarray object per id
          at[i] = size;
          len[i] = l;
          size += l;
        }
        a = b;
      }
      k = end;
    }
    return { ids, at, len };
  }

  /** `count` consecutive entries of users.off from entry `first`, in a reused buffer (valid until the next read). */
  private readOffsets(first: number, count: number): Float64Array {
    if (count > this.offsetWindow.length) this.offsetWindow = new Float64Array(count);
    preadFully(this.offsetsFd, new Uint8Array(this.offsetWindow.buffer, 0, count * 8), first * 8, `${this.dir}/users.off`);
    this.bytesRead += count * 8;
    return this.offsetWindow;
  }

  /** Bytes [from, from + length) of users.bin, in a reused buffer (valid until the next read). */
  private readUsers(from: number, length: number): Uint8Array {
    if (length > this.window.length) this.window = new Uint8Array(Math.max(length, Math.min(USERS_WINDOW, 2 * this.window.length)));
    this.bytesRead += length;
    return preadFully(this.usersFd, this.window.subarray(0, length), from, `${this.dir}/users.bin`);
  }

  /** users.bin bytes last read (readUsers). */
  private window = new Uint8Array(0);

  /**
   * The id reads' arrays (row order, their places, the ids' bytes, a chunk: ≈ 3.3 MiB for 50,000
   * members), kept from one audience to the next up to 8 MiB an array (common/scratch.ts; at
   * most 64 MiB in all): a session's audience file does not allocate and fault in fresh memory.
   */
  private readonly idScratch = new Scratch(8 << 20);

  private checkRows(rows: ArrayLike<number>): void {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (!Number.isInteger(r) || r < 0 || r >= this.size) throw new RangeError(`expected user rows in [0, ${this.size}), got ${r} at ${i}`);
    }
  }

  rowOf(type: IdType, token: Uint8Array): number {
    const f = this.tokens.get(type);
    if (!f || token.length !== TOKEN_BYTES) return -1;
    const at = f.find(token, TOKEN_BYTES);
    if (at < 0) return -1;
    const rec = f.read(at, at + 1);
    return new DataView(rec.buffer).getUint32(TOKEN_BYTES, true);
  }

  /**
   * The OPRF point X25519(k, H(id)) stored at preparation for `row`'s ID of `type` (a pread), or
   * undefined when the row has none. Not checked here: its user checks it gives the row's token.
   */
  pointOf(type: IdType, row: number): ElementBytes | undefined {
    const f = this.points.get(type);
    if (!f) throw new RangeError(`expected an ID type of this universe (${this.idTypes.join(', ')}), got ${type}`);
    return f.pointOf(row);
  }

  vector(row: number): Uint8Array {
    return unpackVector(this.packed.subarray(row * PACKED_BYTES, (row + 1) * PACKED_BYTES));
  }

  *tokenChunks(type: IdType): Iterable<{ tokens: Uint8Array; rows: Uint32Array }> {
    const f = this.tokens.get(type);
    if (!f) return;
    for (let b = 0; b < BUCKETS; b++) {
      const recs = f.bucket(b);
      const n = recs.length / TOKEN_RECORD;
      const tokens = new Uint8Array(n * TOKEN_BYTES);
      const rows = new Uint32Array(n);
      const dv = new DataView(recs.buffer);
      for (let i = 0; i < n; i++) {
        tokens.set(recs.subarray(i * TOKEN_RECORD, i * TOKEN_RECORD + TOKEN_BYTES), i * TOKEN_BYTES);
        rows[i] = dv.getUint32(i * TOKEN_RECORD + TOKEN_BYTES, true);
      }
      yield { tokens, rows };
    }
  }

  /** Purpose-level consent per row (consent_ads, consent_share), 2 bytes per user in memory. */
  purposes(): PurposeConsent {
    const raw = readAll(join(this.dir, 'purposes.bin'));
    if (raw.length !== this.size) throw new RangeError(`${this.dir}: expected ${this.size} purpose bytes, got ${raw.length}`);
    return { ads: raw.map((b) => b & 1), share: raw.map((b) => (b >> 1) & 1) };
  }

  /** Bytes of every file of this prepared universe. */
  bytesOnDisk(): number {
    let n = 0;
    for (const f of ['key.bin', 'users.bin', 'users.off', 'vectors.bin', 'purposes.bin', 'manifest.json', ...this.idTypes.flatMap((t) => [`tokens-${t}.bin`, `tokens-${t}.idx`, `idhash-${t}.bin`, `idhash-${t}.idx`, `points-${t}.bin`])]) {
      const p = join(this.dir, f);
      if (existsSync(p)) {
        const fd = openSync(p, 'r');
        n += fstatSync(fd).size;
        closeSync(fd);
      }
    }
    return n;
  }

  close(): void {
    closeSync(this.usersFd);
    closeSync(this.offsetsFd);
    for (const f of this.tokens.values()) f.close();
    for (const f of this.points.values()) f.close();
  }
}

/**
 * What an incremental preparation reuses of the previous one (same epoch, a directory of this
 * layout: a whole universe, a union of shards, or one shard): its id hash → token index, read
 * one bucket at a time, and its token and points files, where the reused tokens' points are
 * found. An interleaved shard's token records hold global rows while its points file is in its
 * own row order (global div count): `pointRowDivisor` maps one to the other (1 otherwise).
 */
interface Previous {
  idhash: RecordFile;
  dir: string;
  users: number;
  pointRowDivisor: number;
}

function previousOf(dir: string | undefined, type: IdType, epoch: string): Previous | undefined {
  if (!dir || !existsSync(join(dir, 'manifest.json'))) return undefined;
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as PreparedManifest;
  if (m.format !== PREPARED_FORMAT || m.epoch !== epoch || !m.idTypes.includes(type)) return undefined;
  if (![`idhash-${type}.bin`, `tokens-${type}.bin`, `points-${type}.bin`].every((f) => existsSync(join(dir, f)))) return undefined;
  const pointRowDivisor = m.shard && !m.shard.split ? m.shard.count : 1;
  return { idhash: new RecordFile(join(dir, `idhash-${type}.bin`), IDHASH_RECORD), dir, users: m.users, pointRowDivisor };
}

/**
 * Tokens computed while the CSV streams: IDs are batched, each full batch goes to the token
 * workers, and this thread reads on while at most MAX_IN_FLIGHT batches are computed; each
 * finished batch is spilled as (id hash, token) by the hash's first byte (`ih-<type>-<b>`)
 * and (token, row) by the token's first byte (`tok-<type>-<b>`), and its points go to the
 * points file in row order (batches finish in the order they were read).
 */
class StreamedTokens {
  static readonly BATCH = 8192;
  static readonly MAX_IN_FLIGHT = 2;
  private hashes = new Uint8Array(StreamedTokens.BATCH * ID_HASH_BYTES);
  private rows = new Uint32Array(StreamedTokens.BATCH);
  /** The batch's IDs as UTF-8 back to back (TokenPool.computePacked's layout), written in place. */
  private idBytes = new Uint8Array(StreamedTokens.BATCH * 32);
  private idOffsets = new Float64Array(StreamedTokens.BATCH + 1);
  private n = 0;
  private readonly inFlight: { hashes: Uint8Array; rows: Uint32Array; batch: Promise<TokenBatch> }[] = [];
  private readonly ih: Appender[];
  private readonly tok: Appender[];
  private readonly pool: TokenPool;
  private readonly dst: string;
  private readonly points: PointsWriter;
  /** A shard's rows are global row numbers; its points file is in its own row order (global div count). */
  private readonly shards: number;

  constructor(pool: TokenPool, dst: string, spill: string, type: IdType, points: PointsWriter, shards: number) {
    this.pool = pool;
    this.dst = dst;
    this.points = points;
    this.shards = shards;
    this.ih = Array.from({ length: BUCKETS }, (_, b) => new Appender(join(spill, `ih-${type}-${b}`), 4096));
    this.tok = Array.from({ length: BUCKETS }, (_, b) => new Appender(join(spill, `tok-${type}-${b}`), 4096));
  }

  /**
   * Adds one normalised ID (its UTF-8, id[start, start + length), is what the OPRF hashes)
   * with its id hash (the first ID_HASH_BYTES of `hash`). Synchronous: true when MAX_IN_FLIGHT batches are out and the caller
   * must `drain()` before adding more (one await per batch, not per ID).
   */
  add(hash: Uint8Array, row: number, id: Uint8Array, start: number, length: number): boolean {
    const n = this.n;
    const hashes = this.hashes;
    const at0 = n * ID_HASH_BYTES;
    for (let j = 0; j < ID_HASH_BYTES; j++) hashes[at0 + j] = hash[j]!;
    this.rows[n] = row;
    const at = this.idOffsets[n]!;
    if (this.idBytes.length - at < length) {
      const grown = new Uint8Array(Math.max(2 * this.idBytes.length, at + length));
      grown.set(this.idBytes.subarray(0, at));
      this.idBytes = grown;
    }
    const idBytes = this.idBytes;
    for (let j = 0; j < length; j++) idBytes[at + j] = id[start + j]!;
    this.idOffsets[n + 1] = at + length;
    this.n = n + 1;
    if (this.n < StreamedTokens.BATCH) return false;
    this.dispatch();
    return this.inFlight.length > StreamedTokens.MAX_IN_FLIGHT;
  }

  /** Writes the oldest batch in flight once computed; returns how many tokens it wrote. */
  drain(): Promise<number> {
    return this.drainOne();
  }

  private dispatch(): void {
    const n = this.n;
    if (n === 0) return;
    const batch = this.pool.computePacked(this.idBytes, this.idOffsets.subarray(0, n + 1), this.dst);
    this.inFlight.push({ hashes: this.hashes.subarray(0, n * ID_HASH_BYTES), rows: this.rows.subarray(0, n), batch });
    this.hashes = new Uint8Array(StreamedTokens.BATCH * ID_HASH_BYTES);
    this.rows = new Uint32Array(StreamedTokens.BATCH);
    this.idOffsets = new Float64Array(StreamedTokens.BATCH + 1);
    this.n = 0;
  }

  private async drainOne(): Promise<number> {
    const job = this.inFlight.shift();
    if (!job) return 0;
    const { tokens, points } = await job.batch;
    const { hashes, rows } = job;
    for (let i = 0; i < rows.length; i++) {
      this.points.put(Math.floor(rows[i]! / this.shards), points, i * POINT_BYTES);
      const at = i * TOKEN_BYTES;
      const hat = i * ID_HASH_BYTES;
      // (id hash, token) by the hash's first byte; (token, row) by the token's first byte.
      const ih = this.ih[hashes[hat]!]!;
      ih.append(hashes, hat, ID_HASH_BYTES);
      ih.append(tokens, at, TOKEN_BYTES);
      const tok = this.tok[tokens[at]!]!;
      tok.append(tokens, at, TOKEN_BYTES);
      tok.appendU32(rows[i]!);
    }
    return rows.length;
  }

  /** Computes what is left, closes the spill files; returns the tokens written meanwhile. */
  async finish(): Promise<number> {
    this.dispatch();
    let n = 0;
    while (this.inFlight.length > 0) n += await this.drainOne();
    for (const a of [...this.ih, ...this.tok]) a.close();
    return n;
  }
}

/**
 * A shard's place in its set (manifest.json `shard`). `split`: the shard read its own file of a
 * split source (universe-source.ts) and numbers its rows from 0; the union concatenates the
 * shards in index order. Otherwise every shard read the whole source and kept the consented
 * rows s with s mod count = index, under their global numbers; the union interleaves them.
 */
export interface ShardPlace {
  index: number;
  count: number;
  split?: true;
}

/**
 * Prepares `data` (the universe CSV, or the files of a split source read in order as one) into
 * `out` (a new, empty directory) under `key`, reusing the tokens of the previous preparation in
 * `previousDir` when it has the same epoch. Writes the manifest last: a directory without one
 * is incomplete.
 */
export async function prepareToDisk(opts: {
  data: string | readonly string[]; out: string; key: OprfKey; epoch: string; idTypes: readonly IdType[]; threads: number; dataSha256: string;
  previousDir?: string | undefined; shard?: ShardPlace | undefined;
  onRows?: (rows: number) => void;
}): Promise<PrepareFigures> {
  const shard = opts.shard ?? { index: 0, count: 1 };
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new RangeError(`expected shard index in [0, count), got ${shard.index} of ${shard.count}`);
  }
  if (typeof opts.data !== 'string' && opts.data.length === 0) throw new RangeError('expected at least one universe file');
  const pool = new TokenPool(opts.key, Math.max(1, opts.threads));
  try {
    return await prepareWith(pool, { ...opts, shard });
  } finally {
    await pool.close();
  }
}

async function prepareWith(pool: TokenPool, opts: Parameters<typeof prepareToDisk>[0] & { shard: ShardPlace }): Promise<PrepareFigures> {
  const t0 = performance.now();
  const { out, idTypes, shard } = opts;
  // Which consented rows are this preparation's, and their local numbers (global div count):
  // a split shard's file is all its own, numbered from 0, as an unsharded preparation's.
  const rowsOf = shard.split ? { index: 0, count: 1 } : shard;
  const files = typeof opts.data === 'string' ? [opts.data] : opts.data;
  mkdirSync(out, { recursive: true });
  const spill = join(out, 'spill');
  mkdirSync(spill, { recursive: true });
  writeFileSync(join(out, 'key.bin'), opts.key.toBytes(), { mode: 0o600 });

  // ID types with nothing to reuse (a new epoch, a first preparation): their tokens are
  // computed during pass 1, on the worker threads while this thread reads on (pipelined).
  const previous = new Map(idTypes.map((t) => [t, previousOf(opts.previousDir, t, opts.epoch)]));
  const fresh = new Set(idTypes.filter((t) => previous.get(t) === undefined));
  let computed = 0;
  let reused = 0;
  const streamedPoints = new Map([...fresh].map((t) => [t, new PointsWriter(pointsPath(out, t))]));
  const streamed = new Map([...fresh].map((t) => [t, new StreamedTokens(pool, oprfDst(t, opts.epoch), spill, t, streamedPoints.get(t)!, rowsOf.count)]));

  // Pass 1: stream the CSV.
  const users = new Appender(join(out, 'users.bin'));
  const userOff = new Appender(join(out, 'users.off'));
  const vectors = new Appender(join(out, 'vectors.bin'));
  const purposes = new Appender(join(out, 'purposes.bin'));
  const purpose = new Uint8Array(1);
  const idSpill = new Map(idTypes.filter((t) => !fresh.has(t)).map((t) => [t, Array.from({ length: BUCKETS }, (_, b) => new Appender(join(spill, `id-${t}-${b}`), 4096))]));
  const counts = new Float64Array(ATTRIBUTE_COUNT);
  const off = new Float64Array(1);
  const offBytes = new Uint8Array(off.buffer);
  let rejectedRows = 0;
  let notConsented = 0;
  let seq = 0; // consented rows seen, all shards
  let rows = 0; // rows of this shard
  let read = 0;
  const head = new Uint8Array(ID_HASH_BYTES + 8);
  const headView = new DataView(head.buffer);
  const packed = new Uint8Array(PACKED_BYTES);
  // The id hash's input "t:id" is encoded once into `idText` (the ID's UTF-8 follows the
  // prefix) and hashed there; the ID's bytes are then copied from it, no string or Buffer per ID.
  const idPrefix = new Map(idTypes.map((t) => [t, Buffer.from(`${t}:`, 'utf8')]));
  let idText = Buffer.alloc(1024);
  const idHash = new Uint8Array(SHA256_BYTES);
  for (const file of files) for await (const batch of readUniverseBatches(file, () => rejectedRows++)) {
    for (const row of batch) {
      if (++read % 100_000 === 0) opts.onRows?.(read + rejectedRows);
      if (!row.consent) {
        notConsented++;
        continue;
      }
      const global = seq++;
      if (global % rowsOf.count !== rowsOf.index) continue;
      // Unsharded or split, global = rows; an interleaved shard's row numbers are the global
      // ones and users.off / vectors.bin hold its rows in order (local row = global div count).
      off[0] = users.size;
      userOff.write(offBytes);
      users.writeUtf8(row.userId);
      packVectorInto(packed, row.vector);
      vectors.write(packed);
      purpose[0] = (row.consentAds ? 1 : 0) | (row.consentShare ? 2 : 0);
      purposes.write(purpose);
      attributeCounts(packed, 1, counts);
      for (const t of idTypes) {
        const raw = t === 'phone' ? row.phone : t === 'email' ? row.email : row.deviceId;
        const n = normalizeId(t, raw);
        if (!n.ok) continue;
        // SHA-256("t:id"): the UTF-8 of the prefix and the ID, back to back.
        const pre = idPrefix.get(t)!;
        if (idText.length < pre.length + 3 * n.value.length) idText = Buffer.alloc(2 * (pre.length + 3 * n.value.length));
        pre.copy(idText, 0);
        const idLength = idText.write(n.value, pre.length, 'utf8');
        const h = sha256Into(idHash, idText.subarray(0, pre.length + idLength));
        const s = streamed.get(t);
        if (s) {
          if (s.add(h, global, idText, pre.length, idLength)) computed += await s.drain();
          continue;
        }
        const id = idText.subarray(pre.length, pre.length + idLength);
        head.set(h.subarray(0, ID_HASH_BYTES), 0);
        headView.setUint32(ID_HASH_BYTES, global, true);
        headView.setUint32(ID_HASH_BYTES + 4, id.length, true);
        const a = idSpill.get(t)![h[0]!]!;
        a.write(head);
        a.write(id);
      }
      rows++;
    }
  }
  opts.onRows?.(read + rejectedRows);
  off[0] = users.size;
  userOff.write(offBytes);
  users.close();
  userOff.close();
  vectors.close();
  purposes.close();
  for (const list of idSpill.values()) for (const a of list) a.close();
  for (const st of streamed.values()) computed += await st.finish();
  for (const w of streamedPoints.values()) w.close(rows);

  // Passes 2 and 3, per ID type; the sorted bucket passes read and sort into reused buffers.
  const scratch = new BucketScratch();
    for (const t of idTypes) {
      const dst = oprfDst(t, opts.epoch);
      const prev = previous.get(t);
      const idhash = new Appender(join(out, `idhash-${t}.bin`));
      const idhashIdx = new Float64Array(BUCKETS + 1);
      const tokSpill = fresh.has(t) ? [] : Array.from({ length: BUCKETS }, (_, b) => new Appender(join(spill, `tok-${t}-${b}`), 4096));
      // Reused tokens (token, row) by the token's first byte, to find their previous rows in pass 3;
      // the points of computed IDs by row range.
      const reuSpill = fresh.has(t) ? [] : Array.from({ length: BUCKETS }, (_, b) => new Appender(join(spill, `reu-${t}-${b}`), 4096));
      const scatter = fresh.has(t) ? undefined : new PointsScatter(spill, `pts-${t}`, rows);
      const rec = new Uint8Array(TOKEN_RECORD);
      const recView = new DataView(rec.buffer);
      for (let b = 0; b < BUCKETS && fresh.has(t); b++) {
        // Tokens computed in pass 1: (id hash, token) records, sorted here by id hash.
        idhashIdx[b] = idhash.size / IDHASH_RECORD;
        const raw = scratch.read(join(spill, `ih-${t}-${b}`));
        rmSync(join(spill, `ih-${t}-${b}`), { force: true });
        for (const i of scratch.sort(raw, IDHASH_RECORD, raw.length / IDHASH_RECORD, ID_HASH_BYTES, () => 0)) idhash.write(raw.subarray(i * IDHASH_RECORD, (i + 1) * IDHASH_RECORD));
      }
      for (let b = 0; b < BUCKETS && !fresh.has(t); b++) {
        idhashIdx[b] = idhash.size / IDHASH_RECORD;
        const raw = readAll(join(spill, `id-${t}-${b}`));
        rmSync(join(spill, `id-${t}-${b}`), { force: true });
        // Parse: fixed head (hash, row, length) + id bytes.
        const starts: number[] = [];
        for (let p = 0; p < raw.length;) {
          starts.push(p);
          p += ID_HASH_BYTES + 8 + new DataView(raw.buffer, raw.byteOffset + p + ID_HASH_BYTES + 4, 4).getUint32(0, true);
        }
        const n = starts.length;
        const hashes = new Uint8Array(n * ID_HASH_BYTES);
        const rowOf = new Uint32Array(n);
        const dv = new DataView(raw.buffer, raw.byteOffset);
        for (let i = 0; i < n; i++) {
          hashes.set(raw.subarray(starts[i]!, starts[i]! + ID_HASH_BYTES), i * ID_HASH_BYTES);
          rowOf[i] = dv.getUint32(starts[i]! + ID_HASH_BYTES, true);
        }
        const order = sortRecords(hashes, ID_HASH_BYTES, n, ID_HASH_BYTES, (x, y) => rowOf[x]! - rowOf[y]!);
        // Reuse: merge with the previous preparation's bucket (both sorted by id hash).
        const tokens = new Uint8Array(n * TOKEN_BYTES);
        const have = new Uint8Array(n);
        if (prev) {
          const old = prev.idhash.bucket(b);
          const m = old.length / IDHASH_RECORD;
          let j = 0;
          for (const i of order) {
            while (j < m && compareBytes(old, j * IDHASH_RECORD, hashes, i * ID_HASH_BYTES, ID_HASH_BYTES) < 0) j++;
            if (j < m && compareBytes(old, j * IDHASH_RECORD, hashes, i * ID_HASH_BYTES, ID_HASH_BYTES) === 0) {
              tokens.set(old.subarray(j * IDHASH_RECORD + ID_HASH_BYTES, (j + 1) * IDHASH_RECORD), i * TOKEN_BYTES);
              have[i] = 1;
              reused++;
            }
          }
        }
        const todo: number[] = [];
        for (let i = 0; i < n; i++) if (!have[i]) todo.push(i);
        if (todo.length > 0) {
          const inputs = todo.map((i) => {
            const s = starts[i]! + ID_HASH_BYTES + 8;
            return raw.subarray(s, s + dv.getUint32(starts[i]! + ID_HASH_BYTES + 4, true));
          });
          const fresh = await pool.compute(inputs, dst);
          todo.forEach((i, k) => {
            tokens.set(fresh.tokens.subarray(k * TOKEN_BYTES, (k + 1) * TOKEN_BYTES), i * TOKEN_BYTES);
            scatter!.put(Math.floor(rowOf[i]! / rowsOf.count), fresh.points, k * POINT_BYTES);
          });
          computed += todo.length;
        }
        for (const i of order) {
          idhash.write(hashes.subarray(i * ID_HASH_BYTES, (i + 1) * ID_HASH_BYTES));
          idhash.write(tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES));
          rec.set(tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES), 0);
          recView.setUint32(TOKEN_BYTES, rowOf[i]!, true);
          tokSpill[tokens[i * TOKEN_BYTES]!]!.write(rec);
          if (have[i]) reuSpill[tokens[i * TOKEN_BYTES]!]!.write(rec);
        }
      }
      idhashIdx[BUCKETS] = idhash.size / IDHASH_RECORD;
      idhash.close();
      f64File(join(out, `idhash-${t}.idx`), idhashIdx);
      prev?.idhash.close();
      for (const a of [...tokSpill, ...reuSpill]) a.close();
      // The reused tokens' previous rows: a merge with the previous token file, bucket by bucket.
      const prevTokens = prev ? new RecordFile(join(prev.dir, `tokens-${t}.bin`), TOKEN_RECORD) : undefined;
      const prevPoints = prev ? new PreviousPoints(spill, `prv-${t}`, pointsPath(prev.dir, t), prev.users) : undefined;
      const reuScratch = new BucketScratch();

      const tok = new Appender(join(out, `tokens-${t}.bin`));
      const tokIdx = new Float64Array(BUCKETS + 1);
      for (let b = 0; b < BUCKETS; b++) {
        tokIdx[b] = tok.size / TOKEN_RECORD;
        const raw = scratch.read(join(spill, `tok-${t}-${b}`));
        rmSync(join(spill, `tok-${t}-${b}`), { force: true });
        const n = raw.length / TOKEN_RECORD;
        const dv = new DataView(raw.buffer, raw.byteOffset);
        const order = scratch.sort(raw, TOKEN_RECORD, n, TOKEN_BYTES, (x, y) => dv.getUint32(x * TOKEN_RECORD + TOKEN_BYTES, true) - dv.getUint32(y * TOKEN_RECORD + TOKEN_BYTES, true));
        for (const i of order) tok.write(raw.subarray(i * TOKEN_RECORD, (i + 1) * TOKEN_RECORD));
        if (prevTokens) previousRows(reuScratch.read(join(spill, `reu-${t}-${b}`)), prevTokens.bucket(b), reuScratch, (was, row) => prevPoints!.want(Math.floor(was / prev!.pointRowDivisor), Math.floor(row / rowsOf.count)));
        rmSync(join(spill, `reu-${t}-${b}`), { force: true });
      }
      tokIdx[BUCKETS] = tok.size / TOKEN_RECORD;
      tok.close();
      f64File(join(out, `tokens-${t}.idx`), tokIdx);
      prevTokens?.close();
      if (scatter) {
        prevPoints?.resolve(scatter);
        scatter.finish(pointsPath(out, t));
      }
    }
  rmSync(spill, { recursive: true, force: true });
  const manifest: PreparedManifest = {
    format: PREPARED_FORMAT, epoch: opts.epoch, idTypes: [...idTypes], users: rows, attributeCounts: Array.from(counts),
    dataSha256: opts.dataSha256, ...(shard.count > 1 || shard.split ? { shard } : {}), createdAt: new Date().toISOString(),
  };
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return { users: rows, computed, reused, rejectedRows, notConsented, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Merges the shard directories of one preparation (`shard` 0..count-1 of the same epoch, key
 * and source) into `out`, so that `out` is, file for file, what a single process would have
 * prepared from the same source. Interleaved shards (each read the whole source): rows (and
 * their points) interleave back to their global order — row g is row g div count of shard
 * g mod count. Split shards (shard i read file i of a split source): rows are the shards'
 * rows concatenated in index order — row g is row g − o_i of shard i, o_i the rows of the
 * shards before it — and the token records' rows are offset by o_i; the union's source hash
 * is splitSourceSha256 of the shards' file hashes. Then every bucket's records are sorted
 * again. Memory: one bucket, and each shard's rows read a block at a time (`blockRows`; by
 * default 2^20 rows across the shards, at least 1,024 each).
 */
export function mergeShards(shardDirs: readonly string[], out: string, opts: { blockRows?: number } = {}): PreparedManifest {
  const ms = shardDirs.map((d) => JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as PreparedManifest);
  const count = shardDirs.length;
  const split = ms[0]?.shard?.split === true;
  ms.forEach((m, i) => {
    if (m.format !== PREPARED_FORMAT || (m.shard?.count ?? 1) !== count || (m.shard?.index ?? 0) !== i) throw new RangeError(`${shardDirs[i]}: expected shard ${i} of ${count}, got ${JSON.stringify(m.shard ?? null)}`);
    if ((m.shard?.split === true) !== split) throw new RangeError(`${shardDirs[i]}: expected every shard ${split ? 'read from its own file of a split source' : 'read from the whole source'}, as shard 0`);
    if (m.epoch !== ms[0]!.epoch || (!split && m.dataSha256 !== ms[0]!.dataSha256) || m.idTypes.join(',') !== ms[0]!.idTypes.join(',')) throw new RangeError(`${shardDirs[i]}: expected the same epoch, source and ID types as shard 0`);
  });
  // Where each shard's rows start in the union (split shards; interleaved: unused).
  const start = new Float64Array(count + 1);
  ms.forEach((m, i) => (start[i + 1] = start[i]! + m.users));
  // row numbers are 32-bit in the token records (and the points' row index): refused, never wrapped
  if (start[count]! > 0xffff_ffff) throw new RangeError(`expected at most 2^32 − 1 rows in the union, got ${start[count]}`);
  const keys = shardDirs.map((d) => Buffer.from(readFileSync(join(d, 'key.bin'))).toString('hex'));
  if (keys.some((k) => k !== keys[0])) throw new RangeError('expected every shard prepared under the same key, got different keys');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'key.bin'), readFileSync(join(shardDirs[0]!, 'key.bin')), { mode: 0o600 });
  const total = ms.reduce((s, m) => s + m.users, 0);

  // Rows: users and vectors interleaved back to the global order.
  const users = new Appender(join(out, 'users.bin'));
  const userOff = new Appender(join(out, 'users.off'));
  const vectors = new Appender(join(out, 'vectors.bin'));
  const purposes = new Appender(join(out, 'purposes.bin'));
  const types = ms[0]!.idTypes;
  const points = types.map((t) => new PointsWriter(pointsPath(out, t)));
  // Each shard's rows are read a block at a time (its rows are taken in ascending order in both
  // layouts): a few syscalls per block, not three per row, and memory bounded by the block.
  const block = opts.blockRows ?? Math.max(1024, Math.floor(MERGE_ROWS_IN_MEMORY / count));
  const src = shardDirs.map((d, i) => new ShardRows(d, ms[i]!.users, types, block));
  const off = new Float64Array(1);
  const offBytes = new Uint8Array(off.buffer);
  for (let g = 0, i = 0; g < total; g++) {
    while (split && g >= start[i + 1]!) i++;
    const s = src[split ? i : g % count]!;
    const r = s.row(split ? g - start[i]! : Math.floor(g / count));
    off[0] = users.size;
    userOff.write(offBytes);
    users.append(s.ids, s.idStart(r), s.idLength(r));
    vectors.append(s.vectors, r * PACKED_BYTES, PACKED_BYTES);
    purposes.append(s.purposes, r, 1);
    // the shard's zero marker (no ID of this type) is the union's too
    points.forEach((w, k) => w.put(g, s.points[k]!, r * POINT_BYTES));
  }
  off[0] = users.size;
  userOff.write(offBytes);
  for (const w of points) w.close(total);
  for (const s of src) s.close();
  users.close();
  userOff.close();
  vectors.close();
  purposes.close();

  // Token and id-hash files: per bucket, the shards' records sorted together.
  for (const t of ms[0]!.idTypes) {
    for (const [name, width, keyBytes] of [[`tokens-${t}`, TOKEN_RECORD, TOKEN_BYTES], [`idhash-${t}`, IDHASH_RECORD, IDHASH_RECORD]] as const) {
      const files = shardDirs.map((d) => new RecordFile(join(d, `${name}.bin`), width));
      const w = new Appender(join(out, `${name}.bin`));
      const idx = new Float64Array(BUCKETS + 1);
      for (let b = 0; b < BUCKETS; b++) {
        idx[b] = w.size / width;
        const parts = files.map((f) => f.bucket(b));
        const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
        const dv = new DataView(all.buffer);
        let at = 0;
        parts.forEach((p, i) => {
          all.set(p, at);
          // a split shard's token records hold its own row numbers: offset to the union's
          if (split && keyBytes < width && start[i]! > 0) for (let r = at; r < at + p.length; r += width) dv.setUint32(r + keyBytes, dv.getUint32(r + keyBytes, true) + start[i]!, true);
          at += p.length;
        });
        const n = all.length / width;
        // The same order as prepareToDisk: token files by token, then row number; id-hash files
        // by the whole record (id hash, then token).
        const tie = keyBytes < width ? (x: number, y: number) => dv.getUint32(x * width + keyBytes, true) - dv.getUint32(y * width + keyBytes, true) : () => 0;
        for (const i of sortRecords(all, width, n, keyBytes, tie)) w.write(all.subarray(i * width, (i + 1) * width));
      }
      idx[BUCKETS] = w.size / width;
      w.close();
      f64File(join(out, `${name}.idx`), idx);
      for (const f of files) f.close();
    }
  }
  const counts = new Float64Array(ATTRIBUTE_COUNT);
  for (const m of ms) m.attributeCounts.forEach((c, j) => (counts[j]! += c));
  const manifest: PreparedManifest = {
    format: PREPARED_FORMAT, epoch: ms[0]!.epoch, idTypes: ms[0]!.idTypes, users: total, attributeCounts: Array.from(counts),
    dataSha256: split ? splitSourceSha256(ms.map((m) => m.dataSha256)) : ms[0]!.dataSha256, createdAt: new Date().toISOString(),
  };
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

/** Rows of every shard held in memory at once during a merge (≈ 60 B each: id, offset, vector, purposes, points). */
const MERGE_ROWS_IN_MEMORY = 1 << 20;

/**
 * One shard's row files (users.off, users.bin, vectors.bin, purposes.bin, points-<type>.bin)
 * read `block` rows at a time, for a merge that takes each shard's rows in ascending order.
 * `row(local)` loads the block holding `local` when needed and returns its index in the block.
 */
class ShardRows {
  ids = new Uint8Array(0);
  readonly vectors: Uint8Array;
  readonly purposes: Uint8Array;
  readonly points: Uint8Array[];
  private readonly offs: Float64Array;
  private readonly fds: { off: number; users: number; vectors: number; purposes: number; points: number[] };
  private readonly dir: string;
  private readonly users: number;
  private readonly block: number;
  private first = 0;
  private n = 0;

  constructor(dir: string, users: number, types: readonly IdType[], block: number) {
    this.dir = dir;
    this.users = users;
    this.block = block;
    this.offs = new Float64Array(block + 1);
    this.vectors = new Uint8Array(block * PACKED_BYTES);
    this.purposes = new Uint8Array(block);
    this.points = types.map(() => new Uint8Array(block * POINT_BYTES));
    this.fds = {
      off: openSync(join(dir, 'users.off'), 'r'), users: openSync(join(dir, 'users.bin'), 'r'), vectors: openSync(join(dir, 'vectors.bin'), 'r'),
      purposes: openSync(join(dir, 'purposes.bin'), 'r'), points: types.map((t) => openSync(pointsPath(dir, t), 'r')),
    };
  }

  /** Index in the loaded block of shard row `local` (rows asked for in ascending order). */
  row(local: number): number {
    if (local >= this.first + this.n || local < this.first) this.load(local);
    return local - this.first;
  }

  idStart(r: number): number {
    return this.offs[r]! - this.offs[0]!;
  }

  idLength(r: number): number {
    return this.offs[r + 1]! - this.offs[r]!;
  }

  private load(first: number): void {
    if (first >= this.users) throw new RangeError(`${this.dir}: expected a row below ${this.users}, got ${first}`);
    const n = Math.min(this.block, this.users - first);
    preadFully(this.fds.off, new Uint8Array(this.offs.buffer, 0, (n + 1) * 8), first * 8, join(this.dir, 'users.off'));
    const idBytes = this.offs[n]! - this.offs[0]!;
    if (this.ids.length < idBytes) this.ids = new Uint8Array(Math.max(idBytes, this.ids.length * 2));
    preadFully(this.fds.users, this.ids.subarray(0, idBytes), this.offs[0]!, join(this.dir, 'users.bin'));
    preadFully(this.fds.vectors, this.vectors.subarray(0, n * PACKED_BYTES), first * PACKED_BYTES, join(this.dir, 'vectors.bin'));
    preadFully(this.fds.purposes, this.purposes.subarray(0, n), first, join(this.dir, 'purposes.bin'));
    this.fds.points.forEach((fd, k) => preadFully(fd, this.points[k]!.subarray(0, n * POINT_BYTES), first * POINT_BYTES, this.dir));
    this.first = first;
    this.n = n;
  }

  close(): void {
    for (const fd of [this.fds.off, this.fds.users, this.fds.vectors, this.fds.purposes, ...this.fds.points]) closeSync(fd);
  }
}

/**
 * The previous row of each reused (token, row) record of one token bucket (`reused`, in spill
 * order), from the previous preparation's bucket `old` (sorted by token, then row): both sorted
 * by token and merged; `found(previousRow, row)` per record. Throws when a reused token is not in
 * the previous token file (its id hash index and token file disagree).
 */
function previousRows(reused: Uint8Array, old: Uint8Array, scratch: BucketScratch, found: (previousRow: number, row: number) => void): void {
  const n = reused.length / TOKEN_RECORD;
  const m = old.length / TOKEN_RECORD;
  const rv = new DataView(reused.buffer, reused.byteOffset, reused.length);
  const ov = new DataView(old.buffer, old.byteOffset, old.length);
  let j = 0;
  for (const i of scratch.sort(reused, TOKEN_RECORD, n, TOKEN_BYTES, () => 0)) {
    while (j < m && compareBytes(old, j * TOKEN_RECORD, reused, i * TOKEN_RECORD, TOKEN_BYTES) < 0) j++;
    if (j >= m || compareBytes(old, j * TOKEN_RECORD, reused, i * TOKEN_RECORD, TOKEN_BYTES) !== 0) throw new Error('the previous preparation has a token in its id hash index but not in its token file: remove the prepared universe to prepare it from scratch');
    found(ov.getUint32(j * TOKEN_RECORD + TOKEN_BYTES, true), rv.getUint32(i * TOKEN_RECORD + TOKEN_BYTES, true));
  }
}

/** Copies '\n'-terminated ids [from, …) into `out` while they fit: the first id not copied and the bytes written. */
function packLines(ids: Uint8Array, at: Float64Array, len: Uint32Array, from: number, out: Uint8Array): { next: number; bytes: number } {
  let pos = 0;
  let i = from;
  for (; i < len.length; i++) {
    const l = len[i]!;
    if (pos + l + 1 > out.length) break;
    const s = at[i]!;
    for (let b = 0; b < l; b++) out[pos + b] = ids[s + b]!;
    out[pos + l] = 10; // '\n'
    pos += l + 1;
  }
  return { next: i, bytes: pos };
}

