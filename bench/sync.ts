/**
 * The broker's universe sync, again and again on one prepared world: starts the three nodes on
 * an --out directory that `node bench/bench.ts --out DIR` prepared (media reuses its prepared
 * universe and publication), then `--runs` times deletes the broker's copy of the publication
 * (<state>/broker/universe) and restarts the broker, which syncs the publication from media
 * again. Prints, per sync, the broker's wall and process CPU (user and system, from its
 * 'publication synced from media' log line), that CPU per ciphertext, the sync's garbage
 * collections (from the same line, where the broker logs them), and, after the runs, the
 * floor of bench/bench.ts — bfvLoad + bfvNtt + bfvWriteStored per ciphertext, measured in this
 * process (bench/floors.ts) — with each sync's ratio to it.
 *
 *   node bench/sync.ts --out /work/out-sync [--runs 3] [--broker-root DIR] [--cpu-prof DIR]
 *
 * --cpu-prof writes V8 CPU profiles of the broker's processes into DIR (one per broker start:
 * the last is the last sync's), for `node --cpu-prof`'s usual readers.
 * --broker-root runs the broker from another checkout (its services/broker/src/main.ts) in
 * the same cluster, for paired runs of two versions of the code on the same world and machine.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startCluster } from '../cli/src/cluster.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';
import { measurePrimitiveCosts } from './floors.ts';

const p = parseArgs(process.argv.slice(2), { out: 'string', runs: 'string', 'broker-root': 'string', 'cpu-prof': 'string' });
const out = resolve(strFlag(p, 'out', 'out/bench'));
const runs = intFlag(p, 'runs', 3, 1);
const brokerRoot = strFlag(p, 'broker-root', '');
const cpuProf = strFlag(p, 'cpu-prof', '');
const worldDir = join(out, 'world');
if (!existsSync(join(out, 'state', 'media'))) throw new RangeError(`expected a world prepared by 'node bench/bench.ts --out ${out}', found no ${join(out, 'state', 'media')}`);

const syncs: { cpu: number; ciphertexts: number }[] = [];
const cluster = await startCluster({ outDir: out, worldDir, readyTimeoutMs: 3_600_000, ...(cpuProf ? { env: { broker: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${resolve(cpuProf)}` } } } : {}), ...(brokerRoot ? { roots: { broker: resolve(brokerRoot) } } : {}) });
try {
  for (let r = 0; r < runs; r++) {
    const broker = cluster.nodes.broker;
    await cluster.restart('broker', () => rmSync(join(cluster.stateDir('broker'), 'universe'), { recursive: true, force: true }));
    const log = readFileSync(cluster.nodes.broker.logFile, 'utf8').slice(cluster.nodes.broker.logStart);
    const line = log.split('\n').reverse().find((l) => l.includes('publication synced from media'));
    if (!line) throw new Error(`the broker logged no sync (see ${broker.logFile})`);
    const s = JSON.parse(line) as { ciphertexts: number; seconds: number; cpuUserSeconds: number; cpuSystemSeconds: number; users: number; gcMajor?: number; gcMinor?: number; gcMs?: number; minorPageFaults?: number };
    const cpu = s.cpuUserSeconds + s.cpuSystemSeconds;
    syncs.push({ cpu, ciphertexts: s.ciphertexts });
    process.stdout.write(`sync ${r + 1}/${runs}${brokerRoot ? ` (broker from ${brokerRoot})` : ''}: ${s.users} users, ${s.ciphertexts} ciphertexts, ${s.seconds} s wall, CPU ${cpu.toFixed(1)} s (user ${s.cpuUserSeconds}, system ${s.cpuSystemSeconds}), ${(cpu * 1000 / s.ciphertexts).toFixed(2)} ms per ciphertext${s.gcMajor === undefined ? '' : `, GC ${s.gcMajor} major + ${s.gcMinor} minor, ${s.gcMs} ms`}${s.minorPageFaults === undefined ? '' : `, ${s.minorPageFaults} minor page faults`}\n`);
  }
} finally {
  await cluster.stop();
}
const costs = await measurePrimitiveCosts();
const perCt = costs.bfvLoad + costs.bfvNtt + costs.bfvWriteStored;
process.stdout.write(`floor per ciphertext ${perCt.toFixed(3)} ms (bfvLoad ${costs.bfvLoad.toFixed(3)} + bfvNtt ${costs.bfvNtt.toFixed(3)} + bfvWriteStored ${costs.bfvWriteStored.toFixed(3)}); `
  + `ratio per sync: ${syncs.map((x) => (x.cpu * 1000 / (x.ciphertexts * perCt)).toFixed(2)).join(', ')}\n`);
