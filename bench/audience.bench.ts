/**
 * Media's audience write, alone: the user ids of 50,000 rows spread over a prepared universe
 * on disk, read one row at a time (`userId`, one read and buffer each) against
 * `userIdsOf` (rows in row order through a window of users.bin, in chunks of 8,192 as
 * media/src/node.ts writes an audience), by process CPU time; checks both give the same ids.
 *
 *   node bench/scale.ts --universe 200000     (prepares out/scale/state/universe/e-scale)
 *   node bench/audience.bench.ts [out/scale/state/universe/e-scale] [--rows 50000]
 */
import { DiskUniverse } from '../services/media/src/universe-files.ts';

const dir = process.argv[2] ?? 'out/scale/state/universe/e-scale';
const count = Number(process.argv[process.argv.indexOf('--rows') + 1] ?? 50_000) || 50_000;
const u = DiskUniverse.open(dir);
if (!u) throw new Error(`expected a prepared universe in ${dir} (run node bench/scale.ts first), got none`);
const rows = Uint32Array.from({ length: count }, (_, i) => (i * 2654435761) % u.size);
const cpuMs = <T>(f: () => T): [T, number] => {
  const c0 = process.cpuUsage();
  const r = f();
  const c = process.cpuUsage(c0);
  return [r, (c.user + c.system) / 1000];
};
for (let run = 1; run <= 2; run++) {
  const [one, oneMs] = cpuMs(() => Array.from(rows, (r) => u.userId(r)));
  const [windowed, windowMs] = cpuMs(() => {
    const out: string[] = [];
    for (let i = 0; i < rows.length; i += 8192) out.push(...u.userIdsOf(rows.subarray(i, i + 8192)));
    return out;
  });
  if (one.join('\n') !== windowed.join('\n')) throw new Error('userIdsOf disagrees with userId');
  console.log(`run ${run}: ${count} of ${u.size} users — userId per row ${oneMs.toFixed(0)} ms CPU, userIdsOf ${windowMs.toFixed(0)} ms CPU`);
}
u.close();
