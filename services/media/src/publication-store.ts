/**
 * The media node's publication on disk: <stateDir>/publication/<version>/ holds the
 * publication's BFV secret key (mode 0600) and public material, the random user order,
 * the token → position table per ID type, and the encrypted attribute vectors
 * (service/ciphertext-file.ts). CURRENT names the version in use.
 *
 * On start: if CURRENT was published from exactly this prepared universe (same epoch,
 * tokens and attribute vectors, by SHA-256 fingerprint) it is reused; otherwise a new
 * publication is made with a FRESH key pair and the broker re-syncs (it sees a new
 * version). Writes go to a temporary directory renamed into place; older publications are
 * removed once the new one is in place.
 *
 * The manifest names its layout (PUBLICATION_FORMAT): tokens-<t>.bin holds TOKEN_BYTES (12)
 * per token; a publication in another layout (none written before held 16-byte tokens and no
 * `format`) is never reused — a new one is made and the broker re-syncs.
 */
import { createHash } from 'node:crypto';
import { existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemps } from '@cleanroom/shared/service/temp-dirs.ts';
import { lackOfRoom } from '@cleanroom/shared/service/volume.ts';
import { BFV_PARAMETERS, MediaBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { publish, type Publication, type TokenPages, type TokenSink } from '@cleanroom/shared/protocol/publication.ts';
import { Appender } from '@cleanroom/shared/service/record-file.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import type { Universe } from '@cleanroom/shared/protocol/universe.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import { CiphertextFile, CiphertextFileWriter } from '@cleanroom/shared/service/ciphertext-file.ts';
import { progressGate, PROGRESS_LOG_MS, type Logger } from '@cleanroom/shared/service/log.ts';
import { PublicationWorkers } from './publication-workers.ts';

export type MediaPublicationFull = Publication & { bfv: MediaBfv };

/** The on-disk layout of a publication; publications without this `format` held 16-byte tokens. */
export const PUBLICATION_FORMAT = 'pub-v2';

interface Manifest {
  format: typeof PUBLICATION_FORMAT;
  epoch: string;
  version: string;
  users: number;
  fingerprint: string;
  idTypes: IdType[];
  createdAt: string;
  encryptSeconds: number;
}

/** SHA-256 over what a publication is made of: epoch, every token table, every attribute vector. */
export function universeFingerprint(u: Universe): string {
  const h = createHash('sha256').update(`${u.epoch}\0${u.size}\0`);
  for (const type of [...u.idTypes].sort()) {
    h.update(`${type}\0`);
    for (const c of u.tokenChunks(type)) h.update(c.tokens);
    for (const c of u.tokenChunks(type)) h.update(new Uint8Array(c.rows.buffer, c.rows.byteOffset, c.rows.byteLength));
  }
  return h.update(u.packed).digest('hex');
}

function u32(bytes: Buffer): Uint32Array {
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

async function load(dir: string): Promise<MediaPublicationFull> {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  // SEAL (node-seal) takes plain Uint8Arrays, not Node Buffers.
  const bytes = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
  const material = { params: bytes('bfv-params.bin'), publicKey: bytes('bfv-public-key.bin'), galoisKeys: bytes('bfv-galois-keys.bin') };
  const bfv = await MediaBfv.restore(ATTRIBUTE_COUNT, bytes('bfv-secret-key.bin'), material);
  return {
    epoch: m.epoch, version: m.version, users: m.users, layout: bfv.layout, material, order: u32(readFileSync(join(dir, 'order.bin'))),
    tokens: tokenPagesOnDisk(dir, m.idTypes), ciphertexts: new CiphertextFile(dir), bfv,
  };
}

/** Each ID type's published tokens, read from this publication's files page by page (pread). */
function tokenPagesOnDisk(dir: string, idTypes: readonly IdType[]): Map<IdType, TokenPages> {
  return new Map(idTypes.map((t) => [t, tokenPagesOf(dir, t)]));
}

/** One ID type's published tokens in `dir`, read page by page (pread). */
function tokenPagesOf(dir: string, t: IdType): TokenPages {
  const read = (fd: number, bytes: number, at: number): Uint8Array => {
    const out = new Uint8Array(bytes);
    for (let got = 0; got < bytes;) {
      const n = readSync(fd, out, got, bytes - got, at + got);
      if (n === 0) throw new RangeError(`publication file ends at ${at + got}, expected ${at + bytes}`);
      got += n;
    }
    return out;
  };
  const tf = openSync(join(dir, `tokens-${t}.bin`), 'r');
  const pf = openSync(join(dir, `positions-${t}.bin`), 'r');
  const count = fstatSync(pf).size / 4;
  if (fstatSync(tf).size !== count * TOKEN_BYTES) throw new RangeError(`${dir}: expected ${count * TOKEN_BYTES} '${t}' token bytes for ${count} positions`);
  return {
    count,
    page(from, to) {
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from || to > count) throw new RangeError(`expected a page within [0, ${count}], got [${from}, ${to})`);
      return { tokens: read(tf, (to - from) * TOKEN_BYTES, from * TOKEN_BYTES), positions: new Uint32Array(read(pf, (to - from) * 4, from * 4).buffer) };
    },
  };
}

/**
 * Ciphertexts below which a publication is encrypted on the calling thread: starting a worker
 * (node-seal's load and the key pair restored) costs ≈ 0.6–0.9 s, ≈ 150 ciphertexts' encryption.
 */
const WORKERS_FROM_CIPHERTEXTS = 256;
/** The least a ciphertext takes in media's wire form: its first polynomial, N × (primes − 1) words of 8 B (the second is a seed). */
const WIRE_FORM_MIN_BYTES = BFV_PARAMETERS.polyModulusDegree * (BFV_PARAMETERS.coeffModulusBits.length - 1) * 8;

/**
 * The publication of `universe`: the one on disk when it was made from this prepared universe,
 * else a new one (fresh key pair), encrypted on `threads` worker threads (default 1: this
 * thread) when it has at least `workersFrom` ciphertexts (WORKERS_FROM_CIPHERTEXTS).
 */
export async function openPublication(opts: { stateDir: string; universe: Universe; log: Logger; threads?: number; workersFrom?: number }): Promise<{ publication: MediaPublicationFull; reused: boolean; seconds: number; cpuSeconds: number; threads: number }> {
  const root = join(opts.stateDir, 'publication');
  mkdirSync(root, { recursive: true });
  const fingerprint = universeFingerprint(opts.universe);
  const currentFile = join(root, 'CURRENT');
  const current = existsSync(currentFile) ? readFileSync(currentFile, 'utf8').trim() : '';
  if (current && existsSync(join(root, current, 'manifest.json'))) {
    const m = JSON.parse(readFileSync(join(root, current, 'manifest.json'), 'utf8')) as Manifest;
    if (m.format === PUBLICATION_FORMAT && m.fingerprint === fingerprint && CiphertextFile.exists(join(root, current))) {
      const publication = await load(join(root, current));
      opts.log.info({ version: m.version, users: m.users }, 'publication reused: it was made from this prepared universe');
      return { publication, reused: true, seconds: 0, cpuSeconds: 0, threads: 0 };
    }
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const bfv = await MediaBfv.create(ATTRIBUTE_COUNT);
  const due = progressGate(PROGRESS_LOG_MS, true);
  const staging = join(root, `staging.tmp-${process.pid}`);
  removeStaleTemps(root, 'staging'); // what a stopped process left half-made
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const w = new CiphertextFileWriter(staging);
  // the token tables go to their files range by range (never one table of every token in memory)
  const tokenFiles = new Map<IdType, { tokens: Appender; positions: Appender }>();
  const tokenSink: TokenSink = {
    append(type, tokens, positions) {
      let f = tokenFiles.get(type);
      if (!f) {
        f = { tokens: new Appender(join(staging, `tokens-${type}.bin`)), positions: new Appender(join(staging, `positions-${type}.bin`)) };
        tokenFiles.set(type, f);
      }
      f.tokens.write(tokens);
      f.positions.write(new Uint8Array(positions.buffer, positions.byteOffset, positions.byteLength));
    },
    finish(type) {
      const f = tokenFiles.get(type) ?? { tokens: new Appender(join(staging, `tokens-${type}.bin`)), positions: new Appender(join(staging, `positions-${type}.bin`)) };
      f.tokens.close();
      f.positions.close();
      return tokenPagesOf(staging, type);
    },
  };
  const ciphertexts = Math.ceil(opts.universe.size / bfv.layout.usersPerCiphertext);
  // The volume must hold at least every ciphertext's first polynomial (the seeded wire form's
  // c0: N × (primes − 1) × 8 B): refused now, with the figures, not after the encryption
  // (≈ 10 core-hours at 10^9 users). The rest (c1's seed, headers, tokens) is small beside it.
  const lack = lackOfRoom(root, ciphertexts * WIRE_FORM_MIN_BYTES, `the publication of ${opts.universe.size} users needs at least`);
  if (lack) {
    w.abandon();
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`${lack} (${ciphertexts} ciphertexts of at least ${WIRE_FORM_MIN_BYTES} B): free space or grow the volume`);
  }
  const threads = Math.max(1, opts.threads ?? 1);
  const workers = threads > 1 && ciphertexts >= (opts.workersFrom ?? WORKERS_FROM_CIPHERTEXTS) ? new PublicationWorkers(bfv, threads) : undefined;
  const encryptThreads = workers?.size ?? 1;
  let pub;
  try {
    pub = await publish(opts.universe, bfv, {
      sink: (ct) => w.append(ct),
      tokenSink,
      onProgress: (done, total) => {
        if (due()) opts.log.info({ done, total, threads: encryptThreads }, 'encrypting the universe for publication');
      },
      // two batches per worker in flight: each has the next while its last answer is taken
      ...(workers ? { encrypt: workers.encrypt, inflight: 2 * workers.size } : {}),
    });
  } catch (err) {
    w.abandon(); // the staging directory is removed at the next attempt
    throw err;
  } finally {
    await workers?.close();
  }
  w.close();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const dir = join(root, pub.version);
  const tmp = staging;
  writeFileSync(join(tmp, 'bfv-secret-key.bin'), bfv.secretKeyBytes(), { mode: 0o600 });
  writeFileSync(join(tmp, 'bfv-params.bin'), pub.material.params);
  writeFileSync(join(tmp, 'bfv-public-key.bin'), pub.material.publicKey);
  writeFileSync(join(tmp, 'bfv-galois-keys.bin'), pub.material.galoisKeys);
  writeFileSync(join(tmp, 'order.bin'), new Uint8Array(pub.order.buffer, pub.order.byteOffset, pub.order.byteLength));
  const manifest: Manifest = { format: PUBLICATION_FORMAT, epoch: pub.epoch, version: pub.version, users: pub.users, fingerprint, idTypes: [...pub.tokens.keys()], createdAt: new Date().toISOString(), encryptSeconds: seconds };
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(currentFile, pub.version);
  for (const f of readdirSync(root)) if (f !== 'CURRENT' && f !== pub.version) rmSync(join(root, f), { recursive: true, force: true });
  opts.log.info({ version: pub.version, users: pub.users, ciphertexts: pub.ciphertexts.count, seconds: Math.round(seconds * 10) / 10, threads: encryptThreads }, 'universe published: tokens and encrypted attributes for the broker');
  // Served from the files just written (the token tables went there range by range).
  return { publication: { ...pub, tokens: tokenPagesOnDisk(dir, [...pub.tokens.keys()]), ciphertexts: new CiphertextFile(dir), bfv }, reused: false, seconds, cpuSeconds, threads: encryptThreads };
}
