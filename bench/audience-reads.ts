/**
 * The bytes an audience's IDs cost to read (DiskUniverse.userIdLines) at the density a large
 * universe gives them: a synthetic prepared directory of --users users (IDs of 8 bytes, no ID
 * types: only users.bin and users.off matter here) and audiences of random members at the
 * densities of 50,000 members among 10^6 … 10^9 users, scaled to this universe. Prints bytes
 * read per member and for 50,000 members, and the wall time. Writes --users × 16 bytes to a
 * temporary directory, removed at the end.
 *
 *   node bench/audience-reads.ts [--users 10000000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskUniverse } from '../services/media/src/universe-files.ts';
import { writeSyntheticUniverse } from '../services/media/src/universe-files.fixture.ts';
import { intFlag, parseArgs } from '../cli/src/args.ts';

const p = parseArgs(process.argv.slice(2), { users: 'string' });
const users = intFlag(p, 'users', 10_000_000, 100_000, 200_000_000);
const AUDIENCE = 50_000;
const dir = mkdtempSync(join(tmpdir(), 'cleanroom-audience-reads-'));
try {
  writeSyntheticUniverse(dir, users, (r) => r.toString(36).padStart(8, '0'));
  const u = DiskUniverse.open(dir)!;
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  process.stdout.write(`synthetic universe of ${users.toLocaleString('en')} users, 8-byte IDs\n`);
  process.stdout.write('density of 50,000 among   members here   bytes read per member   for 50,000 members   ms\n');
  for (const among of [1e6, 1e7, 1e8, 1e9]) {
    const members = Math.round((AUDIENCE * users) / among);
    if (members < 50 || members > users) continue;
    const rows = Uint32Array.from({ length: members }, () => Math.floor(rnd() * users));
    const before = u.bytesRead;
    const t = performance.now();
    for (const chunk of u.userIdLines(rows)) void chunk;
    const ms = performance.now() - t;
    const per = (u.bytesRead - before) / members;
    process.stdout.write(`${among.toExponential(0).padStart(24)} ${members.toLocaleString('en').padStart(14)} ${per.toFixed(0).padStart(23)} ${`${((per * AUDIENCE) / 1e6).toFixed(1)} MB`.padStart(20)} ${ms.toFixed(1).padStart(6)}\n`);
  }
  u.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
