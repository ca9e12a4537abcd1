/**
 * The media node's prepared universe on disk: <stateDir>/universe/<epoch>/ holds the
 * OPRF key (mode 0600), tokens per ID type, packed attribute vectors, user ids and a
 * manifest with the SHA-256 of the source CSV.
 *
 * On start: same epoch and same CSV digest → the prepared universe is reused as is
 * (no OPRF work); same epoch, changed CSV → re-prepared incrementally (tokens of IDs
 * already prepared are reused, only new IDs cost OPRF work); new epoch → new key, full
 * preparation. Writes go to a temporary directory renamed into place, so a crash never
 * leaves a half-written universe that would be reused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { readUniverse } from '@cleanroom/shared/data/files.ts';
import { PACKED_BYTES, PreparedUniverse, packVector, type UniverseColumns } from '@cleanroom/shared/protocol/universe.ts';
import type { IdType } from '@cleanroom/shared/protocol/messages.ts';
import type { Logger } from '@cleanroom/shared/service/log.ts';
import { nodeMetrics } from '@cleanroom/shared/service/metrics.ts';

export interface UniverseStatus {
  epoch: string;
  users: number;
  reused: boolean;
  computed: number;
  reusedTokens: number;
  preparedSeconds: number;
  rejectedRows: number;
  notConsented: number;
  /** Set by the node once the universe is published for the broker. */
  publication?: { version: string; reused: boolean; encryptSeconds: number; ciphertexts: number };
  /** Set by the node once its labels are published beside the tokens (lookup kind; label-store.ts). */
  labels?: { version: string; reused: boolean; seconds: number; labelled: Record<string, number>; bytes: number };
}

interface Manifest {
  epoch: string;
  dataSha256: string;
  idTypes: IdType[];
  users: number;
  createdAt: string;
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function loadPrepared(dir: string): { manifest: Manifest; universe: PreparedUniverse } | undefined {
  const mf = join(dir, 'manifest.json');
  if (!existsSync(mf)) return undefined;
  const manifest = JSON.parse(readFileSync(mf, 'utf8')) as Manifest;
  const parts: Record<string, Uint8Array> = {};
  for (const f of readdirSync(dir)) if (f !== 'manifest.json') parts[f] = readFileSync(join(dir, f));
  return { manifest, universe: PreparedUniverse.fromParts(manifest.epoch, manifest.idTypes, parts) };
}

function currentEpoch(root: string): string | undefined {
  const p = join(root, 'CURRENT');
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined;
}

export async function openUniverse(opts: {
  stateDir: string; data: string; idTypes: IdType[]; epoch: string | undefined; log: Logger; threads: number;
}): Promise<{ universe: PreparedUniverse; status: UniverseStatus }> {
  const root = join(opts.stateDir, 'universe');
  mkdirSync(root, { recursive: true });
  const epoch = opts.epoch ?? currentEpoch(root) ?? `e${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;
  const dir = join(root, epoch);
  const dataSha256 = await fileSha256(opts.data);
  const previous = existsSync(dir) ? loadPrepared(dir) : undefined;
  const sameTypes = previous && previous.manifest.idTypes.join(',') === opts.idTypes.join(',');
  if (previous && sameTypes && previous.manifest.dataSha256 === dataSha256) {
    writeFileSync(join(root, 'CURRENT'), epoch);
    const status: UniverseStatus = { epoch, users: previous.universe.size, reused: true, computed: 0, reusedTokens: 0, preparedSeconds: 0, rejectedRows: 0, notConsented: 0 };
    opts.log.info({ epoch, users: status.users }, 'universe reused: prepared universe on disk matches the data, no rebuild');
    return { universe: previous.universe, status };
  }
  const t0 = performance.now();
  // Columns, not an object per user: strings are copied out of the CSV chunk (a sliced
  // string would keep the whole chunk alive) and vectors packed into one growing buffer.
  const cols: UniverseColumns = { userIds: [], ids: Object.fromEntries(opts.idTypes.map((t) => [t, []])), packed: new Uint8Array(1 << 20) };
  let rejectedRows = 0;
  let notConsented = 0;
  let rowsRead = 0;
  for await (const row of readUniverse(opts.data, () => rejectedRows++)) {
    if (++rowsRead % 10_000 === 0) nodeMetrics.universe.rowsRead(rowsRead + rejectedRows);
    if (!row.consent) {
      notConsented++;
      continue;
    }
    const i = cols.userIds.length;
    cols.userIds.push(detach(row.userId));
    for (const t of opts.idTypes) {
      const raw = t === 'phone' ? row.phone : t === 'email' ? row.email : row.deviceId;
      const n = normalizeId(t, raw);
      cols.ids[t]!.push(n.ok ? detach(n.value) : undefined);
    }
    if ((i + 1) * PACKED_BYTES > cols.packed.length) {
      const grown = new Uint8Array(cols.packed.length * 2);
      grown.set(cols.packed);
      cols.packed = grown;
    }
    cols.packed.set(packVector(row.vector), i * PACKED_BYTES);
  }
  nodeMetrics.universe.rowsRead(rowsRead + rejectedRows);
  cols.packed = cols.packed.slice(0, cols.userIds.length * PACKED_BYTES);
  const key = previous?.universe.key ?? OprfKey.generate();
  const { universe, stats } = await PreparedUniverse.prepareParallel(cols, key, epoch, opts.idTypes, previous?.universe, opts.threads);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [name, bytes] of Object.entries(universe.toParts())) {
    writeFileSync(join(tmp, name), bytes, { mode: name === 'key.bin' ? 0o600 : 0o644 });
  }
  const manifest: Manifest = { epoch, dataSha256, idTypes: opts.idTypes, users: universe.size, createdAt: new Date().toISOString() };
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(join(root, 'CURRENT'), epoch);
  const status: UniverseStatus = {
    epoch, users: universe.size, reused: false, computed: stats.computed, reusedTokens: stats.reused,
    preparedSeconds: (performance.now() - t0) / 1000, rejectedRows, notConsented,
  };
  opts.log.info({ ...status }, 'universe prepared');
  return { universe, status };
}

/** A flat copy of a string that may be a slice of a much larger one. */
function detach(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
