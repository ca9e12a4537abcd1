/**
 * A shard's cost by how it reads its input: one shard of a sharded preparation (prepareShard,
 * services/media/src/universe-store.ts) from the whole universe CSV — it parses every row and
 * keeps the consented rows s with s mod N = I — against the same shard from its own file of a
 * split source (universe-source.ts: `{shard}` in CLEANROOM_DATA), which holds only its rows.
 * Generates the world (--universe users) when --out has none, splits its universe.csv into
 * --shards files of consecutive rows, then runs shard 0 both ways, --runs times, alternately,
 * in this process, one after the other (nothing else of this bench runs meanwhile), and prints
 * per run the shard's wall and process CPU (all threads: its token workers too) and, per mode,
 * the median; then the CPU the whole-file shard spends on the rows it skips, per skipped row.
 *
 *   node bench/shard-input.ts [--universe 400000] [--shards 8] [--runs 3] [--out out/shard-input] [--threads 2]
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';
import { prepareShard } from '../services/media/src/universe-store.ts';
import { shardFile } from '../services/media/src/universe-source.ts';

const p = parseArgs(process.argv.slice(2), { universe: 'string', shards: 'string', runs: 'string', out: 'string', threads: 'string' });
const universe = intFlag(p, 'universe', 400_000, 1000, 100_000_000);
const shards = intFlag(p, 'shards', 8, 2, 1000);
const runs = intFlag(p, 'runs', 3, 1, 20);
const threads = intFlag(p, 'threads', 2, 1, 64);
const out = resolve(strFlag(p, 'out', 'out/shard-input'));
const world = join(out, 'world');
const csv = join(world, 'media/universe.csv');
const say = (s: string) => process.stdout.write(`${s}\n`);
if (!existsSync(csv) || !existsSync(join(world, `users-${universe}`))) {
  rmSync(world, { recursive: true, force: true });
  say(`generating a world of ${universe.toLocaleString('en')} media users…`);
  await generateWorld(world, { seed: 'shard-input', universeSize: universe, crmSize: 1000 });
  writeFileSync(join(world, `users-${universe}`), '');
}
// The split source: consecutive rows, one file per shard, each with the header.
const spec = join(out, 'split', 'universe-{shard}.csv');
mkdirSync(join(out, 'split'), { recursive: true });
const [header, ...lines] = readFileSync(csv, 'utf8').trimEnd().split('\n');
for (let i = 0; i < shards; i++) {
  const from = Math.floor((i * lines.length) / shards);
  const to = Math.floor(((i + 1) * lines.length) / shards);
  writeFileSync(shardFile(spec, i), `${[header, ...lines.slice(from, to)].join('\n')}\n`);
}

const log = pino({ level: 'silent' });
const figures: Record<'whole' | 'split', { wall: number; cpu: number; users: number }[]> = { whole: [], split: [] };
for (let r = 0; r < runs; r++) {
  for (const mode of ['whole', 'split'] as const) {
    const state = join(out, `state-${mode}`);
    rmSync(state, { recursive: true, force: true });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const s = await prepareShard({ stateDir: state, data: mode === 'whole' ? csv : spec, idTypes: ['phone'], epoch: 'e-shard-input', log, threads, index: 0, count: shards });
    const c = process.cpuUsage(c0);
    const f = { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, users: s.users };
    figures[mode].push(f);
    say(`run ${r + 1}/${runs} ${mode.padEnd(5)} shard 0 of ${shards}: ${f.users.toLocaleString('en')} users, ${f.wall.toFixed(2)} s wall, ${f.cpu.toFixed(2)} s CPU`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const whole = median(figures.whole.map((f) => f.cpu));
const split = median(figures.split.map((f) => f.cpu));
const skipped = lines.length - Math.round(lines.length / shards);
say(`median CPU: whole file ${whole.toFixed(2)} s, own file ${split.toFixed(2)} s (${(whole / split).toFixed(2)}×); `
  + `the whole-file shard's extra ${(whole - split).toFixed(2)} s over ≈ ${skipped.toLocaleString('en')} rows it skips: ${(((whole - split) * 1e6) / skipped).toFixed(2)} µs per skipped row`);
