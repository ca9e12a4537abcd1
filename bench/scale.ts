/**
 * `make bench-scale`: media's universe preparation at scale, alone (no cluster): streams the
 * universe CSV into the on-disk columnar universe (services/media/src/universe-files.ts) and
 * prints, as JSON, the preparation time, this process's peak resident memory (worker threads
 * included: they share the process), the bytes on disk per user, the resident memory of the
 * node's view once opened (what a serving media node holds), and a 10^8 extrapolation from
 * the measured per-user bytes; and the preparation's CPU (process, all threads, and this main
 * thread alone) per user against its floor — X25519 plus hash to group per token, measured in
 * this process after the preparation (bench/floors.ts) — with their ratio, as `make bench`
 * reports it. Generates the world first when `--world` has none.
 *
 *   node bench/scale.ts [--universe 10000000] [--world out/scale/world] [--out out/scale] [--threads 2]
 */
import { existsSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';
import { openUniverse } from '../services/media/src/universe-store.ts';
import { measureTokenCosts, ratio } from './floors.ts';

const p = parseArgs(process.argv.slice(2), { universe: 'string', world: 'string', out: 'string', threads: 'string' });
const universe = intFlag(p, 'universe', 10_000_000, 1000, 1_000_000_000);
const out = resolve(strFlag(p, 'out', 'out/scale'));
const world = resolve(strFlag(p, 'world', join(out, 'world')));
const threads = intFlag(p, 'threads', 2, 1, 64);
const csv = join(world, 'media/universe.csv');
if (!existsSync(csv)) await generateWorld(world, { seed: 'scale', universeSize: universe, crmSize: 10_000 });
const state = join(out, 'state');
rmSync(state, { recursive: true, force: true });

let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 250);
const t0 = performance.now();
const main0 = process.threadCpuUsage();
const { universe: u, status } = await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e-scale', log: pino({ level: 'info' }), threads });
const seconds = (performance.now() - t0) / 1000;
const mainCpu = process.threadCpuUsage(main0);
clearInterval(sample);
const costs = measureTokenCosts();
const cpuUs = (status.preparedCpuSeconds * 1e6) / u.size;
const floorUs = (status.computed * (costs.x25519 + costs.hashToGroup) * 1000) / u.size;
const maxRss = process.resourceUsage().maxRSS * 1024;
globalThis.gc?.();
const servingRss = process.memoryUsage().rss;
const bytes = u.bytesOnDisk();
const perUser = bytes / u.size;
const mib = (b: number) => Math.round(b / 2 ** 20);
process.stdout.write(`${JSON.stringify({
  rowsInCsv: universe, consentedUsers: u.size, tokensComputed: status.computed, threads,
  preparationSeconds: Number(seconds.toFixed(1)), usersPerSecond: Math.round(u.size / seconds),
  cpuSeconds: status.preparedCpuSeconds, cpuMicrosPerUser: Number(cpuUs.toFixed(1)),
  mainThreadCpuMicrosPerUser: Number(((mainCpu.user + mainCpu.system) / u.size).toFixed(1)),
  floorMicrosPerUser: Number(floorUs.toFixed(1)), primitiveCostsMicros: { x25519: Number((costs.x25519 * 1000).toFixed(2)), hashToGroup: Number((costs.hashToGroup * 1000).toFixed(2)) },
  floorRatio: ratio(cpuUs, floorUs), loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  peakRssMiB: mib(Math.max(peak, maxRss)),
  diskBytes: bytes, diskBytesPerUser: Number(perUser.toFixed(1)),
  servingRssMiB: mib(servingRss), servingHeldBytesPerUser: 8,
  extrapolated1e8: { diskGiB: Number(((perUser * 1e8) / 2 ** 30).toFixed(1)), servingVectorsMiB: mib(8 * 1e8) },
}, null, 2)}\n`);
