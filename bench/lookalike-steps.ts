/**
 * The CPU of media's look-alike steps, one at a time, on a prepared universe directory (the
 * media node's state/media/universe/<epoch>, e.g. after `node bench/bench.ts`): the selection
 * (buildLookalike: score every user, keep the best, order them, the quality figure), the
 * audience file as the node writes it (userIdLines: the ids' bytes from users.bin, no string
 * per member; synced) and, with --strings, the same file from strings (userIdsOf + join, the
 * write before 2026-12), plus the `lookalikeScore` kernel of bench/floors.ts on the same universe — so that
 * the phase's parts can be set against its floor without a whole session. The cohort profile
 * is made up from the universe (every 7th user with two given attributes), one count more in
 * one attribute at each repeat after the first (each session's cohort is another). CPU of this thread
 * (process.threadCpuUsage, in this machine's 4 ms steps: GC and compiler threads apart) and
 * wall; the node's start-up warm-ups run first, so the first repeat is what a node's first
 * session pays and the later ones what its later sessions pay (a median of them is printed).
 * Reads only (the audience files go to a temporary directory, then are deleted).
 *
 *   node bench/lookalike-steps.ts out/bench/state/media/universe/<epoch> [--repeats 5] [--audience 50000] [--strings]
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskUniverse } from '../services/media/src/universe-files.ts';
import { buildLookalike, universeCosineWeights, warmLookalike } from '@cleanroom/shared/protocol/lookalike.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { PACKED_BYTES, warmUserIdLines } from '@cleanroom/shared/protocol/universe.ts';
import { parseArgs, intFlag } from '../cli/src/args.ts';
import { measureScoreCost } from './floors.ts';

const p = parseArgs(process.argv.slice(2), { repeats: 'string', audience: 'string', strings: 'boolean' });
const dir = p.positionals[0];
if (!dir) throw new Error('usage: node bench/lookalike-steps.ts <prepared universe dir> [--repeats 5] [--audience 50000] [--strings]');
const repeats = intFlag(p, 'repeats', 5, 1);
const audienceSize = intFlag(p, 'audience', 50_000, 1);
const withStrings = p.flags.strings === true;
const u = DiskUniverse.open(dir);
if (!u) throw new Error(`${dir}: expected a prepared universe directory (manifest.json)`);
const out = mkdtempSync(join(tmpdir(), 'cleanroom-lookalike-steps-'));

const cpuMs = (): number => {
  const c = process.threadCpuUsage();
  return (c.user + c.system) / 1000;
};
/** f's result, its CPU ms (this thread) and its wall ms. */
function timed<T>(f: () => T): [T, number, number] {
  const c0 = cpuMs();
  const w0 = performance.now();
  const r = f();
  return [r, cpuMs() - c0, performance.now() - w0];
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;

// What the node does when it starts (not in a session): the cosine weights, the warm-ups (look-alike, id pass).
universeCosineWeights(u.packed, u.size);
warmLookalike();
warmUserIdLines(u);

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
process.stdout.write('repeat   select ms (CPU / wall)   audience file ms (bytes; CPU / wall)   audience file ms (strings, before)   read of users.off + users.bin\n');
const walls: { select: number; file: number }[] = [];
try {
  for (let r = 0; r < repeats; r++) {
    if (r > 0) totals[(r - 1) % ATTRIBUTE_COUNT]! += 1; // each repeat another cohort, as sessions are
    const [built, selectMs, selectWall] = timed(() => buildLookalike({ totals, cohortSize, universeShares: u.shares, packed: u.packed, users: u.size, exclude: new Set(), audienceSize }));
    const before = u.bytesRead;
    const [, bytesMs, bytesWall] = timed(() => {
      const fd = openSync(join(out, 'bytes.txt'), 'w');
      try {
        for (const chunk of u.userIdLines(built.rows)) writeSync(fd, chunk);
        fsyncSync(fd); // as the node stores it
      } finally {
        closeSync(fd);
      }
    });
    const readMB = (u.bytesRead - before) / 1e6;
    const [, stringsMs] = !withStrings ? [undefined, NaN] : timed(() => {
      const ids = u.userIdsOf(built.rows);
      const fd = openSync(join(out, 'strings.txt'), 'w');
      try {
        for (let i = 0; i < ids.length; i += 8192) writeSync(fd, ids.slice(i, i + 8192).join('\n') + '\n');
      } finally {
        closeSync(fd);
      }
    });
    if (withStrings && !readFileSync(join(out, 'bytes.txt')).equals(readFileSync(join(out, 'strings.txt')))) throw new Error('the two audience files differ');
    walls.push({ select: selectWall, file: bytesWall });
    process.stdout.write(`${String(r).padStart(6)} ${`${selectMs.toFixed(1)} / ${selectWall.toFixed(1)}`.padStart(22)} ${`${bytesMs.toFixed(1)} / ${bytesWall.toFixed(1)}`.padStart(37)} ${stringsMs.toFixed(1).padStart(36)} ${readMB.toFixed(1).padStart(30)} MB   (quality ${built.quality})\n`);
  }
  // The first repeat is what a node's first session pays; the later ones, a node's later sessions.
  const later = walls.slice(1);
  if (later.length > 0) process.stdout.write(`wall ms, first repeat: select ${walls[0]!.select.toFixed(1)}, audience file ${walls[0]!.file.toFixed(1)}; median of the ${later.length} after it: select ${median(later.map((w) => w.select)).toFixed(1)}, audience file ${median(later.map((w) => w.file)).toFixed(1)}\n`);
} finally {
  for (const f of readdirSync(out)) rmSync(join(out, f));
  rmSync(out, { recursive: true, force: true });
}
