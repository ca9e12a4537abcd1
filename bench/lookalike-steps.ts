/**
 * The CPU of media's look-alike steps, one at a time, on a prepared universe directory (the
 * media node's state/media/universe/<epoch>, e.g. after `node bench/bench.ts`): the selection
 * (buildLookalike: score every user, keep the best, order them, the quality figure), the
 * audience file as the node writes it (userIdLines: the ids' bytes from users.bin, no string
 * per member) and, for comparison, the same file from strings (userIdsOf + join, the previous
 * write), plus the `lookalikeScore` kernel of bench/floors.ts on the same universe — so that
 * the phase's parts can be set against its floor without a whole session. The cohort profile
 * is made up from the universe (every 7th user with two given attributes). CPU of this thread
 * (process.threadCpuUsage: GC and compiler threads apart); the first repeat includes V8's
 * compilation. Reads only (the audience files go to a temporary directory, then are deleted).
 *
 *   node bench/lookalike-steps.ts out/bench/state/media/universe/<epoch> [--repeats 5] [--audience 50000]
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskUniverse } from '../services/media/src/universe-files.ts';
import { buildLookalike, universeCosineWeights, warmLookalike } from '@cleanroom/shared/protocol/lookalike.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { PACKED_BYTES } from '@cleanroom/shared/protocol/universe.ts';
import { parseArgs, intFlag } from '../cli/src/args.ts';
import { measureScoreCost } from './floors.ts';

const p = parseArgs(process.argv.slice(2), { repeats: 'string', audience: 'string' });
const dir = p.positionals[0];
if (!dir) throw new Error('usage: node bench/lookalike-steps.ts <prepared universe dir> [--repeats 5] [--audience 50000]');
const repeats = intFlag(p, 'repeats', 5, 1);
const audienceSize = intFlag(p, 'audience', 50_000, 1);
const u = DiskUniverse.open(dir);
if (!u) throw new Error(`${dir}: expected a prepared universe directory (manifest.json)`);
const out = mkdtempSync(join(tmpdir(), 'cleanroom-lookalike-steps-'));

const cpuMs = (): number => {
  const c = process.threadCpuUsage();
  return (c.user + c.system) / 1000;
};
function timed<T>(f: () => T): [T, number] {
  const c0 = cpuMs();
  const r = f();
  return [r, cpuMs() - c0];
}

// What the node does when it starts (not in a session): the cosine weights, the warm-ups.
universeCosineWeights(u.packed, u.size);
warmLookalike();

const totals = new Array<number>(ATTRIBUTE_COUNT).fill(0);
let cohortSize = 0;
for (let r = 0; r < u.size && cohortSize < 3000; r += 7) {
  const v = u.packed.subarray(r * PACKED_BYTES, (r + 1) * PACKED_BYTES);
  if (!((v[0]! >> 3) & 1) || !((v[2]! >> 1) & 1)) continue;
  cohortSize++;
  for (let j = 0; j < ATTRIBUTE_COUNT; j++) if ((v[j >> 3]! >> (j & 7)) & 1) totals[j]!++;
}

const kernelMs = measureScoreCost({ repeats: 5 }) * u.size;
process.stdout.write(`${u.size.toLocaleString('en')} users, audience ${audienceSize.toLocaleString('en')}; lookalikeScore floor (bench/floors.ts kernel × users): ${kernelMs.toFixed(1)} ms\n`);
process.stdout.write('repeat   select ms   audience file ms (bytes)   audience file ms (strings, before)   read of users.off + users.bin\n');
try {
  for (let r = 0; r < repeats; r++) {
    const [built, selectMs] = timed(() => buildLookalike({ totals, cohortSize, universeShares: u.shares, packed: u.packed, users: u.size, exclude: new Set(), audienceSize }));
    const before = u.bytesRead;
    const [, bytesMs] = timed(() => {
      const fd = openSync(join(out, 'bytes.txt'), 'w');
      try {
        for (const chunk of u.userIdLines(built.rows)) writeSync(fd, chunk);
      } finally {
        closeSync(fd);
      }
    });
    const readMB = (u.bytesRead - before) / 1e6;
    const [, stringsMs] = timed(() => {
      const ids = u.userIdsOf(built.rows);
      const fd = openSync(join(out, 'strings.txt'), 'w');
      try {
        for (let i = 0; i < ids.length; i += 8192) writeSync(fd, ids.slice(i, i + 8192).join('\n') + '\n');
      } finally {
        closeSync(fd);
      }
    });
    if (!readFileSync(join(out, 'bytes.txt')).equals(readFileSync(join(out, 'strings.txt')))) throw new Error('the two audience files differ');
    process.stdout.write(`${String(r).padStart(6)} ${selectMs.toFixed(1).padStart(11)} ${bytesMs.toFixed(1).padStart(18)} ${stringsMs.toFixed(1).padStart(28)} ${readMB.toFixed(1).padStart(24)} MB   (quality ${built.quality})\n`);
  }
} finally {
  for (const f of readdirSync(out)) rmSync(join(out, f));
  rmSync(out, { recursive: true, force: true });
}
