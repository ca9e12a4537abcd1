/**
 * The epoch's OPRF key as a file an operator makes once and hands to every process of a
 * preparation (CLEANROOM_UNIVERSE_KEY_FILE; in Kubernetes, a Secret mounted into every shard pod
 * and the media node), for shards that share no volume (object storage: shard-store.ts).
 *
 *   {"format":"cleanroom-universe-key-v1","epoch":"<epoch>","key":"<64 hex digits>"}
 *
 * Guarantees: `writeUniverseKeyFile` never overwrites (a second run would split the epoch
 * between two keys) and writes mode 0600; `readUniverseKeyFile` returns the key only when the
 * file is that format, names the expected epoch (a new epoch needs a new key: the file cannot
 * silently keep the old key across a rotation) and holds a valid clamped scalar; otherwise it
 * throws a RangeError naming the file and what is wrong, never the key.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { parseStrict } from '@cleanroom/shared/crypto/jcs.ts';

export const UNIVERSE_KEY_FORMAT = 'cleanroom-universe-key-v1';

/** Makes a fresh key for `epoch` in a new file `path` (refused if it exists); returns its fingerprint. */
export function writeUniverseKeyFile(path: string, epoch: string): string {
  const key = OprfKey.generate();
  const body = `${JSON.stringify({ format: UNIVERSE_KEY_FORMAT, epoch, key: Buffer.from(key.toBytes()).toString('hex') })}\n`;
  writeFileSync(path, body, { mode: 0o600, flag: 'wx' });
  return key.fingerprint();
}

/** The key in `path`, which must be for `epoch`. */
export function readUniverseKeyFile(path: string, epoch: string): OprfKey {
  let v: unknown;
  try {
    v = parseStrict(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new RangeError(`universe key file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `expected ${UNIVERSE_KEY_FORMAT} JSON (cleanroom universe key), ${(err as Error).message}`}`);
  }
  const f = v as { format?: unknown; epoch?: unknown; key?: unknown };
  if (typeof v !== 'object' || v === null || f.format !== UNIVERSE_KEY_FORMAT) throw new RangeError(`universe key file ${path}: expected format ${UNIVERSE_KEY_FORMAT}`);
  if (f.epoch !== epoch) throw new RangeError(`universe key file ${path}: made for epoch '${String(f.epoch)}', this preparation's epoch (CLEANROOM_UNIVERSE_EPOCH) is '${epoch}': a new epoch needs a new key (cleanroom universe key --epoch ${epoch} --out FILE)`);
  if (typeof f.key !== 'string' || !/^[0-9a-f]{64}$/.test(f.key)) throw new RangeError(`universe key file ${path}: expected "key" as 64 lower-case hex digits`);
  try {
    return OprfKey.fromBytes(new Uint8Array(Buffer.from(f.key, 'hex')));
  } catch (err) {
    throw new RangeError(`universe key file ${path}: ${(err as Error).message}`);
  }
}
