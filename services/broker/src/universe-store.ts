/**
 * The broker's copy of media's publication on disk: <stateDir>/universe/<version>/ holds the
 * manifest (epoch, counts, media's BFV public material), the token → position table per ID
 * type and the encrypted attribute vectors (service/ciphertext-file.ts). CURRENT names the
 * version in use, so a restarted broker serves sessions at once and re-syncs only when
 * media publishes a new version.
 *
 * A download is written to a temporary directory and becomes CURRENT only after every part
 * arrived, the counts match the manifest and the version (SHA-256 over all of it,
 * protocol/publication.ts) recomputes to what media announced; media's BFV public material
 * is loaded and checked (parameters, Galois keys) before the first page. Every ciphertext
 * is validated as it arrives and kept in the broker's stored form (NTT, uncompressed:
 * BrokerBfv.toStoredForm), which makes a session's masking one pointwise product.
 *
 * Bounded memory at any universe size: token pages, positions and ciphertext digests go to
 * files as they arrive, the version is hashed from those files (which are then removed: the
 * table holds what a session needs), and the token table a session matches against is sorted
 * and bucketed by the token's first byte into one file per bucket (service/record-file.ts bucket
 * files, `table-<type>/00.bin` … `ff.bin`; TABLE_RECORD = token 12 | position u32 | row u32),
 * read by binary search — nothing holds one entry per user in memory, and no file of the copy
 * holds a token table whole (≈ 3.9·10^6 entries per file at 10^9 users).
 *
 * A held copy's files stay open while sessions read them; close() releases them (the node
 * closes the copy a new sync replaced once no session can still read it, so the replaced
 * directory's disk space is freed, not held by open descriptors until the process exits).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { removeStaleTemps } from '@cleanroom/shared/service/temp-dirs.ts';
import { lackOfRoom } from '@cleanroom/shared/service/volume.ts';
import { BrokerBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { countPrimitive } from '@cleanroom/shared/common/op-counts.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { ciphertextDigest } from '@cleanroom/shared/protocol/publication.ts';
import { LABEL_BOX_BYTES } from '@cleanroom/shared/crypto/label-box.ts';
import type { BrokerUniverse, TokenPositions } from '@cleanroom/shared/protocol/broker.ts';
import { ProtocolError, type IdType } from '@cleanroom/shared/protocol/messages.ts';
import type { UniverseManifest } from '@cleanroom/shared/rpc/codec.ts';
import { CiphertextFile, CiphertextFileWriter, type CiphertextPlaces } from '@cleanroom/shared/service/ciphertext-file.ts';
import { LabelFile, LabelFileWriter } from '@cleanroom/shared/service/label-file.ts';
import { labelsVersion } from '@cleanroom/shared/protocol/label-publication.ts';
import { Appender, BucketFilesWriter, BucketScratch, BUCKETS, RecordFile } from '@cleanroom/shared/service/record-file.ts';
import type { PackedList } from '@cleanroom/shared/common/packed-list.ts';

/** Positions go to their file as the page's Uint32Array bytes on a little-endian host (the file is little-endian). */
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * syncSeconds / syncCpuSeconds / syncThreads: wall and process CPU (all threads) of the sync
 * that brought this copy, when this process ran it, and the threads that converted its
 * ciphertexts (1: the main thread alone). close(): its files' descriptors and its BFV keys released
 * (idempotent; the copy is unusable after).
 */
export type HeldUniverse = BrokerUniverse & { syncedAt: string; bytesOnDisk: number; syncSeconds?: number; syncCpuSeconds?: number; syncThreads?: number; close(): void };

/**
 * The on-disk layout of the broker's copy; a copy in another layout is discarded and synced again.
 * table-v4: the token table as bucket files (`table-<type>/<bb>.bin`); table-v3 was one file
 * with its index; table-v2 held 16-byte tokens.
 */
const STORED_FORMAT = 'ntt-v1+table-v4';

/**
 * One entry of the broker's token table on disk: token, its user's position (u32 LE), and its
 * row in the publication's token order (u32 LE; the label boxes of the lookup kind are in that order).
 */
const TABLE_RECORD = TOKEN_BYTES + 8;

interface StoredManifest extends Omit<UniverseManifest, 'bfv' | 'unchanged'> {
  syncedAt: string;
  /** STORED_FORMAT: ciphertexts in NTT form, uncompressed (BrokerBfv.toStoredForm); token tables sorted on disk. */
  format: string;
}

/** The label boxes stored beside the tokens (lookup kind), when media published them. */
function readLabels(dir: string, m: StoredManifest): { version: string; publicationVersion: string; boxes: Map<IdType, LabelFile> } | undefined {
  if (!m.labelsVersion) return undefined;
  const boxes = new Map<IdType, LabelFile>();
  for (const { idType } of m.idTypes) {
    if (LabelFile.exists(dir, idType)) boxes.set(idType, new LabelFile(dir, idType));
  }
  return { version: m.labelsVersion, publicationVersion: m.version, boxes };
}

/** Bytes of the files in `dir` and its subdirectories (the token tables' bucket files). */
function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) total += e.isDirectory() ? dirBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return total;
}

/** The token table of one ID type: sorted bucket files read by binary search (one bucket's file). */
class TokenTableFile implements TokenPositions {
  private readonly file: RecordFile;
  constructor(dir: string) {
    this.file = new RecordFile(dir, TABLE_RECORD);
  }

  close(): void {
    this.file.close();
  }

  get size(): number {
    return this.file.count;
  }

  private field(token: Uint8Array, at: number): number {
    if (token.length !== TOKEN_BYTES) return -1;
    const i = this.file.find(token, TOKEN_BYTES);
    if (i < 0) return -1;
    return new DataView(this.file.read(i, i + 1).buffer).getUint32(TOKEN_BYTES + at, true);
  }

  positionOf(token: Uint8Array): number {
    return this.field(token, 0);
  }

  rowOf(token: Uint8Array): number {
    return this.field(token, 4);
  }
}

async function open(dir: string, m: StoredManifest): Promise<HeldUniverse> {
  const material = { params: readFileSync(join(dir, 'bfv-params.bin')), publicKey: readFileSync(join(dir, 'bfv-public-key.bin')), galoisKeys: readFileSync(join(dir, 'bfv-galois-keys.bin')) };
  const bfv = await BrokerBfv.fromPublicMaterial(material, m.attributeCount);
  if (bfv.layout.usersPerCiphertext !== m.usersPerCiphertext) {
    bfv.dispose();
    throw new ProtocolError('INVALID_ARGUMENT', `media announced ${m.usersPerCiphertext} users per ciphertext, its parameters give ${bfv.layout.usersPerCiphertext}`);
  }
  return heldAt(dir, m, bfv);
}

/**
 * The publication stored in `dir` (manifest `m`) as the broker holds it, with `bfv` for its
 * keys — whose single-user masks, a constant of the keys, are built here (on a restart's load
 * and at a sync's finish), not in the first session.
 */
function heldAt(dir: string, m: StoredManifest, bfv: BrokerBfv): HeldUniverse {
  bfv.prepareMasks();
  const tables = new Map<IdType, TokenTableFile>();
  for (const { idType } of m.idTypes) tables.set(idType, new TokenTableFile(join(dir, `table-${idType}`)));
  const labels = readLabels(dir, m);
  const ciphertexts = new CiphertextFile(dir);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const t of tables.values()) t.close();
    ciphertexts.close();
    for (const b of labels?.boxes.values() ?? []) b.close();
    bfv.dispose();
  };
  return { epoch: m.epoch, version: m.version, users: m.users, tables, ciphertexts, bfv, syncedAt: m.syncedAt, bytesOnDisk: dirBytes(dir), ...(labels ? { labels } : {}), close };
}

/** The publication the broker held when it stopped, or undefined (none, or one in an older on-disk layout). */
export async function loadHeld(stateDir: string): Promise<HeldUniverse | undefined> {
  const root = join(stateDir, 'universe');
  const cur = join(root, 'CURRENT');
  if (!existsSync(cur)) return undefined;
  const dir = join(root, readFileSync(cur, 'utf8').trim());
  if (!existsSync(join(dir, 'manifest.json')) || !CiphertextFile.exists(dir)) return undefined;
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as StoredManifest;
  if (m.format !== STORED_FORMAT) return undefined; // an older layout: sync it again
  return open(dir, m);
}

/** Feeds a file to a hash in chunks. */
function hashFile(h: ReturnType<typeof createHash>, path: string): void {
  const fd = openSync(path, 'r');
  const buf = new Uint8Array(1 << 20);
  try {
    for (let pos = 0; ;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Bytes per token a download holds at its peak: its page (token, position), its spill record and its table record. */
const DOWNLOAD_BYTES_PER_TOKEN = TOKEN_BYTES + 4 + 2 * TABLE_RECORD;

/**
 * Refuses (RESOURCE_EXHAUSTED, naming both figures) a download of `m` that the volume of
 * `stateDir` cannot hold at its peak — every ciphertext's stored form (`storedLength` each) and
 * digest; per token DOWNLOAD_BYTES_PER_TOKEN (a bucket's spill is removed only once the whole
 * table is sorted); per label box its LABEL_BOX_BYTES — before anything is fetched: a full
 * volume costs a sync one manifest, not a download cut short. The copy held now stays until the
 * new one is installed; it is already on the volume.
 */
function checkDownloadSpace(stateDir: string, m: UniverseManifest, storedLength: number): void {
  const tokens = m.idTypes.reduce((a, t) => a + t.tokens, 0);
  const need = m.ciphertexts * (storedLength + 32) + tokens * (DOWNLOAD_BYTES_PER_TOKEN + (m.labelsVersion ? LABEL_BOX_BYTES : 0));
  const lack = lackOfRoom(stateDir, need, `publication ${m.version.slice(0, 12)} needs ≈`);
  if (lack) {
    throw new ProtocolError('RESOURCE_EXHAUSTED', `universe sync: ${lack} to download (${m.ciphertexts} ciphertexts of ${storedLength} B in the stored form, ${tokens} tokens${m.labelsVersion ? ' and their label boxes' : ''}): free space or grow the volume`);
  }
}

/** One download of a publication, written aside until it is complete and verified. */
export class UniverseDownload {
  private readonly root: string;
  private readonly tmp: string;
  private readonly m: UniverseManifest;
  private readonly tokens = new Map<IdType, { count: number; tokens: Appender; positions: Appender; spill: Appender[] }>();
  private readonly labels = new Map<IdType, { count: number; boxes: LabelFileWriter }>();
  private readonly cts: CiphertextFileWriter;
  private readonly digests: Appender;
  private readonly bfv: BrokerBfv;
  /** The token table being written by finish(), if any. */
  private tables: BucketFilesWriter | undefined;

  /**
   * Starts a download; `bfv` is media's public material of this publication, already loaded and
   * checked; `perFile`: ciphertexts per segment file (default CIPHERTEXTS_PER_FILE).
   */
  constructor(stateDir: string, manifest: UniverseManifest, bfv: BrokerBfv, perFile?: number) {
    this.bfv = bfv;
    if (!/^[0-9a-f]{64}$/.test(manifest.version)) throw new ProtocolError('INVALID_ARGUMENT', `expected a 64-hex publication version, got '${manifest.version.slice(0, 80)}'`);
    // The counts media announced must agree with its keys' layout (one ciphertext per
    // usersPerCiphertext users) before they size anything, then fit the volume; a refusal
    // releases the keys, which the download owns.
    try {
      const perCiphertext = bfv.layout.usersPerCiphertext;
      const want = Math.ceil(manifest.users / perCiphertext);
      if (!Number.isSafeInteger(manifest.users) || manifest.users < 0 || manifest.usersPerCiphertext !== perCiphertext || manifest.ciphertexts !== want) {
        throw new ProtocolError('INVALID_ARGUMENT', `media announced ${manifest.ciphertexts} ciphertexts of ${manifest.usersPerCiphertext} users for ${manifest.users} users; its keys hold ${perCiphertext} users per ciphertext, so ${want}: refused`);
      }
      checkDownloadSpace(stateDir, manifest, bfv.storedFormLength());
    } catch (err) {
      bfv.dispose();
      throw err;
    }
    this.root = join(stateDir, 'universe');
    this.tmp = join(this.root, `${manifest.version}.tmp-${process.pid}`);
    removeStaleTemps(this.root); // downloads a stopped process left (one sync at a time here)
    rmSync(this.tmp, { recursive: true, force: true });
    mkdirSync(join(this.tmp, 'spill'), { recursive: true });
    this.m = manifest;
    writeFileSync(join(this.tmp, 'bfv-params.bin'), manifest.bfv.params);
    writeFileSync(join(this.tmp, 'bfv-public-key.bin'), manifest.bfv.publicKey);
    writeFileSync(join(this.tmp, 'bfv-galois-keys.bin'), manifest.bfv.galoisKeys);
    this.cts = new CiphertextFileWriter(this.tmp, perFile);
    this.digests = new Appender(join(this.tmp, 'spill', 'digests'));
  }

  /**
   * One page of media's token table (PackedUniverseTokensCodec): token i and its user's position
   * positions[i], at `offset` in the table. Refused, naming the fault, unless it continues what
   * arrived, stays within the manifest's count and every position is one of the users.
   */
  addTokens(idType: IdType, offset: number, tokens: PackedList, positions: Uint32Array): void {
    const want = this.m.idTypes.find((t) => t.idType === idType);
    if (!want) throw new ProtocolError('INVALID_ARGUMENT', `media sent '${idType}' tokens, its manifest lists none`);
    let cur = this.tokens.get(idType);
    if (!cur) {
      cur = {
        count: 0, tokens: new Appender(join(this.tmp, `tokens-${idType}.bin`)), positions: new Appender(join(this.tmp, `positions-${idType}.bin`)),
        spill: Array.from({ length: BUCKETS }, (_, b) => new Appender(join(this.tmp, 'spill', `${idType}-${b}`), 4096)),
      };
      this.tokens.set(idType, cur);
    }
    const n = tokens.length;
    if (offset !== cur.count) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: expected offset ${cur.count}, got ${offset}`);
    if (cur.count + n > want.tokens) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: more than the ${want.tokens} announced`);
    if (positions.length !== n) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: expected one position per token, got ${positions.length} for ${n}`);
    if (tokens.width !== TOKEN_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' token ${offset}: expected ${TOKEN_BYTES} bytes, got ${tokens.width}`);
    for (const p of positions) if (p >= this.m.users) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: position ${p} beyond the ${this.m.users} users`);
    // The tokens and positions files in arrival order (one copy of the page each), and each
    // TABLE_RECORD into its bucket's spill, appended in place.
    const t = tokens.bytes;
    cur.tokens.write(t);
    if (LITTLE_ENDIAN) cur.positions.write(new Uint8Array(positions.buffer, positions.byteOffset, positions.byteLength));
    else for (const p of positions) cur.positions.appendU32(p);
    for (let i = 0, at = 0; i < n; i++, at += TOKEN_BYTES) {
      const spill = cur.spill[t[at]!]!;
      spill.append(t, at, TOKEN_BYTES);
      spill.appendU32(positions[i]!);
      spill.appendU32(offset + i);
    }
    cur.count += n;
  }

  /** Sealed label boxes of one ID type (lookup kind), in token-table order; written to a file as they arrive. */
  addLabels(idType: IdType, offset: number, boxes: PackedList): void {
    const want = this.m.idTypes.find((t) => t.idType === idType);
    if (!want || !this.m.labelsVersion) throw new ProtocolError('INVALID_ARGUMENT', `media sent '${idType}' labels, its manifest announces none`);
    let cur = this.labels.get(idType);
    if (!cur) {
      cur = { count: 0, boxes: new LabelFileWriter(this.tmp, idType) };
      this.labels.set(idType, cur);
    }
    if (offset !== cur.count) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' labels: expected offset ${cur.count}, got ${offset}`);
    if (cur.count + boxes.length > want.tokens) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' labels: more than one per token (${want.tokens})`);
    if (boxes.width !== LABEL_BOX_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' labels: expected ${LABEL_BOX_BYTES}-byte boxes, got ${boxes.width}`);
    cur.boxes.write(boxes.bytes);
    cur.count += boxes.length;
  }

  labelsHeld(idType: IdType): number {
    return this.labels.get(idType)?.count ?? 0;
  }

  /**
   * Refuses ciphertexts [offset, offset + n) unless they continue what arrived — `from`, the
   * ciphertexts stored, or those received when sync workers are still storing some — and stay
   * within the manifest's count.
   */
  checkCiphertexts(offset: number, n: number, from = this.cts.count): void {
    if (offset !== from) throw new ProtocolError('INVALID_ARGUMENT', `ciphertexts: expected offset ${from}, got ${offset}`);
    if (from + n > this.m.ciphertexts) throw new ProtocolError('INVALID_ARGUMENT', `ciphertexts: more than the ${this.m.ciphertexts} announced`);
  }

  /**
   * Where sync workers write the stored forms (SyncWorkers): the segment files of every
   * announced ciphertext, created now at their final lengths, so that their writes never extend one.
   */
  workerPlaces(): CiphertextPlaces {
    return this.cts.reserve(this.m.ciphertexts, this.bfv.storedFormLength());
  }

  /**
   * Ciphertexts [offset, offset + digests.length / 32) that sync workers stored at their places
   * in the ciphertext segments (sync-workers.ts: each stored form at its CiphertextPlaces), recorded
   * in order with their digests; counted as the primitives their conversion ran (the floor of
   * the sync counts every thread's work).
   */
  addWritten(offset: number, digests: Uint8Array): void {
    const n = digests.length / 32;
    this.checkCiphertexts(offset, n);
    const length = this.bfv.storedFormLength();
    for (let i = 0; i < n; i++) {
      this.digests.write(digests.subarray(32 * i, 32 * (i + 1)));
      this.cts.appendWritten(length);
      countPrimitive('bfvLoad');
      countPrimitive('bfvNtt');
      countPrimitive('bfvWriteStored');
    }
  }

  addCiphertexts(offset: number, list: readonly Uint8Array[]): void {
    this.checkCiphertexts(offset, list.length);
    for (const ct of list) {
      this.digests.write(ciphertextDigest(ct));
      // Validates media's ciphertext (parameters, level, form) and writes its stored form
      // straight from SEAL's memory (header + coefficients: no copy), before the next SEAL call.
      this.cts.appendParts(this.bfv.storedFormParts(ct));
      countPrimitive('bfvWriteStored');
    }
  }

  tokensHeld(idType: IdType): number {
    return this.tokens.get(idType)?.count ?? 0;
  }

  get ciphertextsHeld(): number {
    return this.cts.count;
  }

  /**
   * The version of what arrived, hashed from the files exactly as publicationVersion
   * (protocol/publication.ts) hashes it in memory.
   */
  private versionOnDisk(): string {
    const h = createHash('sha256');
    h.update(`cleanroom/v1/publication\0${this.m.epoch}\0`);
    for (const { idType } of [...this.m.idTypes].sort((a, b) => (a.idType < b.idType ? -1 : a.idType > b.idType ? 1 : 0))) {
      h.update(`${idType}\0${this.tokensHeld(idType)}\0`);
      if (this.tokens.has(idType)) {
        hashFile(h, join(this.tmp, `tokens-${idType}.bin`));
        hashFile(h, join(this.tmp, `positions-${idType}.bin`));
      }
    }
    h.update(`ciphertexts\0${this.cts.count}\0`);
    hashFile(h, join(this.tmp, 'spill', 'digests'));
    return h.digest('hex');
  }

  /** Verifies and installs the publication as CURRENT; returns it ready for sessions. */
  async finish(): Promise<HeldUniverse> {
    this.cts.close();
    this.digests.close();
    const m = this.m;
    for (const { idType, tokens } of m.idTypes) {
      const got = this.tokensHeld(idType);
      if (got !== tokens) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: expected ${tokens}, got ${got}`);
    }
    for (const t of this.tokens.values()) {
      t.tokens.close();
      t.positions.close();
      for (const a of t.spill) a.close();
    }
    if (this.cts.count !== m.ciphertexts) throw new ProtocolError('INVALID_ARGUMENT', `ciphertexts: expected ${m.ciphertexts}, got ${this.cts.count}`);
    const version = this.versionOnDisk();
    if (version !== m.version) throw new ProtocolError('INVALID_ARGUMENT', `publication announced as ${m.version.slice(0, 12)} hashes to ${version.slice(0, 12)}: refused`);
    for (const l of this.labels.values()) l.boxes.close();
    if (m.labelsVersion) {
      const boxes = new Map<IdType, LabelFile>();
      for (const { idType, tokens } of m.idTypes) {
        const got = this.labelsHeld(idType);
        if (got !== tokens) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' labels: expected one per token (${tokens}), got ${got}`);
        boxes.set(idType, new LabelFile(this.tmp, idType));
      }
      // hashed from the files page by page; served from the installed copy (readLabels below)
      const lv = labelsVersion(m.epoch, m.version, boxes);
      for (const b of boxes.values()) b.close();
      if (lv !== m.labelsVersion) throw new ProtocolError('INVALID_ARGUMENT', `labels announced as ${m.labelsVersion.slice(0, 12)} hash to ${lv.slice(0, 12)}: refused`);
    }
    // The token tables: each spill bucket sorted by token (then position) into its own bucket
    // file, one bucket in memory at a time.
    const scratch = new BucketScratch(); // one bucket's buffers, reused: no garbage per bucket
    for (const { idType } of m.idTypes) {
      const files = new BucketFilesWriter(join(this.tmp, `table-${idType}`));
      this.tables = files; // abandoned with the download if writing it fails
      for (let b = 0; b < BUCKETS; b++) {
        const raw = scratch.read(join(this.tmp, 'spill', `${idType}-${b}`));
        const dv = new DataView(raw.buffer, raw.byteOffset);
        const n = raw.length / TABLE_RECORD;
        const order = scratch.sort(raw, TABLE_RECORD, n, TOKEN_BYTES, (x, y) => dv.getUint32(x * TABLE_RECORD + TOKEN_BYTES, true) - dv.getUint32(y * TABLE_RECORD + TOKEN_BYTES, true));
        const w = files.bucket(b);
        for (const i of order) w.append(raw, i * TABLE_RECORD, TABLE_RECORD); // no subarray per record
      }
      files.close();
      this.tables = undefined;
    }
    rmSync(join(this.tmp, 'spill'), { recursive: true, force: true });
    // The pages as they came (publication order) were kept to hash the version; the tables hold
    // every token with its position and row, so they go (16 B per token: 16 GB at 10^9 users).
    for (const { idType } of m.idTypes) {
      rmSync(join(this.tmp, `tokens-${idType}.bin`), { force: true });
      rmSync(join(this.tmp, `positions-${idType}.bin`), { force: true });
    }
    const stored: StoredManifest = {
      epoch: m.epoch, version: m.version, users: m.users, ciphertexts: m.ciphertexts, attributeCount: m.attributeCount,
      usersPerCiphertext: m.usersPerCiphertext, idTypes: m.idTypes, sizeClass: m.sizeClass, syncedAt: new Date().toISOString(), format: STORED_FORMAT,
      labelsVersion: m.labelsVersion,
    };
    writeFileSync(join(this.tmp, 'manifest.json'), JSON.stringify(stored, null, 2));
    const dir = join(this.root, m.version);
    rmSync(dir, { recursive: true, force: true });
    renameSync(this.tmp, dir);
    writeFileSync(join(this.root, 'CURRENT'), m.version);
    return heldAt(dir, stored, this.bfv);
  }

  abandon(): void {
    // nothing is flushed or synced: the files go (and on a full volume a flush would throw)
    this.cts.abandon();
    this.digests.abandon();
    for (const t of this.tokens.values()) for (const a of [t.tokens, t.positions, ...t.spill]) a.abandon();
    for (const l of this.labels.values()) l.boxes.abandon();
    this.tables?.abandon();
    this.bfv.dispose();
    rmSync(this.tmp, { recursive: true, force: true });
  }

  /** Removes publications other than `keep` (sessions on them have ended or hold open files). */
  static prune(stateDir: string, keep: string): void {
    const root = join(stateDir, 'universe');
    for (const f of readdirSync(root)) if (f !== 'CURRENT' && f !== keep && !f.includes('.tmp-')) rmSync(join(root, f), { recursive: true, force: true });
  }
}
