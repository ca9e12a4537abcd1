/**
 * Tests' and benches' synthetic prepared universe: a directory DiskUniverse opens, with `users`
 * users whose IDs are `idOf(row)`, zero vectors, a fresh key and no ID types (no token, ID-hash
 * or points files) — for what reads users.bin and users.off alone (an audience's IDs), at sizes
 * a real preparation would take minutes to make. Not a preparation: nothing else holds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { PACKED_BYTES } from '@cleanroom/shared/protocol/universe.ts';
import { PREPARED_FORMAT } from './universe-files.ts';

/** Writes the universe into `dir` (existing); returns the bytes of users.bin and users.off. */
export function writeSyntheticUniverse(dir: string, users: number, idOf: (row: number) => string): { idBytes: number; offBytes: number } {
  const off = new Float64Array(users + 1);
  for (let r = 0; r < users; r++) off[r + 1] = off[r]! + Buffer.byteLength(idOf(r));
  const ids = Buffer.alloc(off[users]!);
  for (let r = 0; r < users; r++) ids.write(idOf(r), off[r]!);
  writeFileSync(join(dir, 'users.bin'), ids);
  writeFileSync(join(dir, 'users.off'), new Uint8Array(off.buffer));
  writeFileSync(join(dir, 'vectors.bin'), new Uint8Array(users * PACKED_BYTES));
  writeFileSync(join(dir, 'key.bin'), OprfKey.generate().toBytes());
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({
    format: PREPARED_FORMAT, epoch: 'synthetic', idTypes: [], users, attributeCounts: new Array<number>(ATTRIBUTE_COUNT).fill(0), dataSha256: '', createdAt: '',
  }));
  return { idBytes: ids.length, offBytes: off.byteLength };
}
