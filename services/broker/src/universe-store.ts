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
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { TokenTable, TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { ciphertextDigest, publicationVersion, type PublishedTokens } from '@cleanroom/shared/protocol/publication.ts';
import { labelsVersion } from '@cleanroom/shared/protocol/label-publication.ts';
import { LABEL_BOX_BYTES } from '@cleanroom/shared/crypto/label-box.ts';
import type { BrokerUniverse } from '@cleanroom/shared/protocol/broker.ts';
import { ProtocolError, type IdType } from '@cleanroom/shared/protocol/messages.ts';
import type { UniverseManifest } from '@cleanroom/shared/rpc/codec.ts';
import { CiphertextFile, CiphertextFileWriter } from '@cleanroom/shared/service/ciphertext-file.ts';

export type HeldUniverse = BrokerUniverse & { syncedAt: string; bytesOnDisk: number; syncSeconds?: number };

/** The on-disk layout of the broker's copy; a copy in another layout is discarded and synced again. */
const STORED_FORMAT = 'ntt-v1';

interface StoredManifest extends Omit<UniverseManifest, 'bfv' | 'unchanged'> {
  syncedAt: string;
  /** STORED_FORMAT: ciphertexts in NTT form, uncompressed (BrokerBfv.toStoredForm). */
  format: string;
}

function u32(bytes: Buffer): Uint32Array {
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const f of readdirSync(dir)) total += statSync(join(dir, f)).size;
  return total;
}

/** The label boxes stored beside the tokens (lookup kind), when media published them. */
function readLabels(dir: string, m: StoredManifest): BrokerUniverse['labels'] {
  if (!m.labelsVersion) return undefined;
  const boxes = new Map<IdType, Uint8Array>();
  for (const { idType } of m.idTypes) {
    const f = join(dir, `labels-${idType}.bin`);
    if (existsSync(f)) boxes.set(idType, new Uint8Array(readFileSync(f)));
  }
  return { version: m.labelsVersion, publicationVersion: m.version, boxes };
}

async function open(dir: string, m: StoredManifest, tokens: Map<IdType, PublishedTokens>, ciphertexts: CiphertextFile): Promise<HeldUniverse> {
  const material = { params: readFileSync(join(dir, 'bfv-params.bin')), publicKey: readFileSync(join(dir, 'bfv-public-key.bin')), galoisKeys: readFileSync(join(dir, 'bfv-galois-keys.bin')) };
  const bfv = await BrokerBfv.fromPublicMaterial(material, m.attributeCount);
  if (bfv.layout.usersPerCiphertext !== m.usersPerCiphertext) {
    bfv.dispose();
    throw new ProtocolError('INVALID_ARGUMENT', `media announced ${m.usersPerCiphertext} users per ciphertext, its parameters give ${bfv.layout.usersPerCiphertext}`);
  }
  const tables = new Map<IdType, { table: TokenTable; positions: Uint32Array }>();
  for (const [t, v] of tokens) tables.set(t, { table: TokenTable.fromPacked(v.tokens), positions: v.positions });
  const labels = readLabels(dir, m);
  return { epoch: m.epoch, version: m.version, users: m.users, tables, ciphertexts, bfv, syncedAt: m.syncedAt, bytesOnDisk: dirBytes(dir), ...(labels ? { labels } : {}) };
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
  const tokens = new Map<IdType, PublishedTokens>();
  for (const { idType } of m.idTypes) tokens.set(idType, { tokens: readFileSync(join(dir, `tokens-${idType}.bin`)), positions: u32(readFileSync(join(dir, `positions-${idType}.bin`))) });
  return open(dir, m, tokens, new CiphertextFile(dir));
}

/** One download of a publication, written aside until it is complete and verified. */
export class UniverseDownload {
  private readonly root: string;
  private readonly tmp: string;
  private readonly m: UniverseManifest;
  private readonly tokens = new Map<IdType, { tokens: Uint8Array[]; positions: number[] }>();
  private readonly labels = new Map<IdType, Uint8Array[]>();
  private readonly cts: CiphertextFileWriter;
  private readonly digests: Uint8Array[] = [];
  private readonly bfv: BrokerBfv;

  /** Starts a download; `bfv` is media's public material of this publication, already loaded and checked. */
  constructor(stateDir: string, manifest: UniverseManifest, bfv: BrokerBfv) {
    this.bfv = bfv;
    if (!/^[0-9a-f]{64}$/.test(manifest.version)) throw new ProtocolError('INVALID_ARGUMENT', `expected a 64-hex publication version, got '${manifest.version.slice(0, 80)}'`);
    this.root = join(stateDir, 'universe');
    this.tmp = join(this.root, `${manifest.version}.tmp-${process.pid}`);
    rmSync(this.tmp, { recursive: true, force: true });
    mkdirSync(this.tmp, { recursive: true });
    this.m = manifest;
    writeFileSync(join(this.tmp, 'bfv-params.bin'), manifest.bfv.params);
    writeFileSync(join(this.tmp, 'bfv-public-key.bin'), manifest.bfv.publicKey);
    writeFileSync(join(this.tmp, 'bfv-galois-keys.bin'), manifest.bfv.galoisKeys);
    this.cts = new CiphertextFileWriter(this.tmp);
  }

  addTokens(idType: IdType, offset: number, tokens: readonly Uint8Array[], positions: readonly number[]): void {
    const want = this.m.idTypes.find((t) => t.idType === idType);
    if (!want) throw new ProtocolError('INVALID_ARGUMENT', `media sent '${idType}' tokens, its manifest lists none`);
    const cur = this.tokens.get(idType) ?? { tokens: [], positions: [] };
    this.tokens.set(idType, cur);
    if (offset !== cur.tokens.length) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: expected offset ${cur.tokens.length}, got ${offset}`);
    if (cur.tokens.length + tokens.length > want.tokens) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: more than the ${want.tokens} announced`);
    for (const p of positions) if (p >= this.m.users) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: position ${p} beyond the ${this.m.users} users`);
    cur.tokens.push(...tokens);
    cur.positions.push(...positions);
  }

  /** Sealed label boxes of one ID type (lookup kind), in token-table order. */
  addLabels(idType: IdType, offset: number, boxes: readonly Uint8Array[]): void {
    const want = this.m.idTypes.find((t) => t.idType === idType);
    if (!want || !this.m.labelsVersion) throw new ProtocolError('INVALID_ARGUMENT', `media sent '${idType}' labels, its manifest announces none`);
    const cur = this.labels.get(idType) ?? [];
    this.labels.set(idType, cur);
    if (offset !== cur.length) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' labels: expected offset ${cur.length}, got ${offset}`);
    if (cur.length + boxes.length > want.tokens) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' labels: more than one per token (${want.tokens})`);
    for (const b of boxes) if (b.length !== LABEL_BOX_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' labels: expected ${LABEL_BOX_BYTES}-byte boxes, got ${b.length}`);
    cur.push(...boxes);
  }

  labelsHeld(idType: IdType): number {
    return this.labels.get(idType)?.length ?? 0;
  }

  addCiphertexts(offset: number, list: readonly Uint8Array[]): void {
    if (offset !== this.cts.count) throw new ProtocolError('INVALID_ARGUMENT', `ciphertexts: expected offset ${this.cts.count}, got ${offset}`);
    if (this.cts.count + list.length > this.m.ciphertexts) throw new ProtocolError('INVALID_ARGUMENT', `ciphertexts: more than the ${this.m.ciphertexts} announced`);
    for (const ct of list) {
      this.digests.push(ciphertextDigest(ct));
      // Validates media's ciphertext (parameters, level, form) and keeps it in the stored form.
      this.cts.append(this.bfv.toStoredForm(ct));
    }
  }

  tokensHeld(idType: IdType): number {
    return this.tokens.get(idType)?.tokens.length ?? 0;
  }

  get ciphertextsHeld(): number {
    return this.cts.count;
  }

  /** Verifies and installs the publication as CURRENT; returns it ready for sessions. */
  async finish(): Promise<HeldUniverse> {
    this.cts.close();
    const m = this.m;
    const packed = new Map<IdType, PublishedTokens>();
    for (const { idType, tokens } of m.idTypes) {
      const got = this.tokens.get(idType) ?? { tokens: [], positions: [] };
      if (got.tokens.length !== tokens) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' tokens: expected ${tokens}, got ${got.tokens.length}`);
      const buf = new Uint8Array(got.tokens.length * TOKEN_BYTES);
      got.tokens.forEach((t, i) => buf.set(t, i * TOKEN_BYTES));
      packed.set(idType, { tokens: buf, positions: Uint32Array.from(got.positions) });
      writeFileSync(join(this.tmp, `tokens-${idType}.bin`), buf);
      const pos = packed.get(idType)!.positions;
      writeFileSync(join(this.tmp, `positions-${idType}.bin`), new Uint8Array(pos.buffer, pos.byteOffset, pos.byteLength));
    }
    if (this.cts.count !== m.ciphertexts) throw new ProtocolError('INVALID_ARGUMENT', `ciphertexts: expected ${m.ciphertexts}, got ${this.cts.count}`);
    const version = publicationVersion(m.epoch, packed, this.digests);
    if (version !== m.version) throw new ProtocolError('INVALID_ARGUMENT', `publication announced as ${m.version.slice(0, 12)} hashes to ${version.slice(0, 12)}: refused`);
    let labels: BrokerUniverse['labels'];
    if (m.labelsVersion) {
      const boxes = new Map<IdType, Uint8Array>();
      for (const { idType, tokens } of m.idTypes) {
        const got = this.labels.get(idType) ?? [];
        if (got.length !== tokens) throw new ProtocolError('INVALID_ARGUMENT', `'${idType}' labels: expected one per token (${tokens}), got ${got.length}`);
        const buf = new Uint8Array(got.length * LABEL_BOX_BYTES);
        got.forEach((b, i) => buf.set(b, i * LABEL_BOX_BYTES));
        boxes.set(idType, buf);
        writeFileSync(join(this.tmp, `labels-${idType}.bin`), buf);
      }
      const lv = labelsVersion(m.epoch, m.version, boxes);
      if (lv !== m.labelsVersion) throw new ProtocolError('INVALID_ARGUMENT', `labels announced as ${m.labelsVersion.slice(0, 12)} hash to ${lv.slice(0, 12)}: refused`);
      labels = { version: lv, publicationVersion: m.version, boxes };
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
    const tables = new Map<IdType, { table: TokenTable; positions: Uint32Array }>();
    for (const [t, v] of packed) tables.set(t, { table: TokenTable.fromPacked(v.tokens), positions: v.positions });
    return { epoch: m.epoch, version: m.version, users: m.users, tables, ciphertexts: new CiphertextFile(dir), bfv: this.bfv, syncedAt: stored.syncedAt, bytesOnDisk: dirBytes(dir), ...(labels ? { labels } : {}) };
  }

  abandon(): void {
    try {
      this.cts.close();
    } catch {
      // already closed
    }
    this.bfv.dispose();
    rmSync(this.tmp, { recursive: true, force: true });
  }

  /** Removes publications other than `keep` (sessions on them have ended or hold open files). */
  static prune(stateDir: string, keep: string): void {
    const root = join(stateDir, 'universe');
    for (const f of readdirSync(root)) if (f !== 'CURRENT' && f !== keep && !f.includes('.tmp-')) rmSync(join(root, f), { recursive: true, force: true });
  }
}
