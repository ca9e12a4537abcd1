// Benchmark of the broker's aggregation (BrokerBfv.aggregateStored) on a publication the broker
// holds on disk (a bench world's broker state, e.g. out/bench/state): `matched` distinct positions
// drawn at random over its users, CPU per run (user and system; the fastest and the median of
// `runs`), the primitives counted and their floor (bench/floors.ts costs measured in the same
// process), and the CPU inside the reads alone (CiphertextFile.readSplit).
// The first run is also printed apart (`first`: a cold process compiles the aggregation path);
// with `warm`, BrokerBfv.warmAggregate runs first, as the broker does when it takes a publication.
// Run: nice -n 10 node bench/aggregate-steps.ts <stateDir> [matched=2834] [runs=7] [warm]
import { randomInt } from 'node:crypto';
import { ATTRIBUTE_COUNT } from '../shared/src/common/attributes.ts';
import { primitiveDelta, primitiveSnapshot } from '../shared/src/common/op-counts.ts';
import { loadHeld } from '../services/broker/src/universe-store.ts';
import { floorMs, measurePrimitiveCosts } from './floors.ts';

const stateDir = process.argv[2];
if (!stateDir) throw new RangeError('expected a broker state directory (e.g. out/bench/state/broker), got none');
const matched = Number(process.argv[3] ?? 2834);
const runs = Number(process.argv[4] ?? 7);
const warm = process.argv[5] === 'warm';
const held = await loadHeld(stateDir);
if (!held) throw new Error(`expected a held publication under ${stateDir}/universe, got none`);
const users = held.users;
if (!Number.isInteger(matched) || matched < 1 || matched > users) throw new RangeError(`expected matched in [1, ${users}], got ${process.argv[3]}`);
const src = held.ciphertexts;
let readMs = 0;
const timed = {
  view: (c: number) => src.view(c),
  readSplit: (c: number, head: Uint8Array, rest: Uint8Array) => {
    const c0 = process.cpuUsage();
    const ok = src.readSplit?.(c, head, rest) ?? false;
    const d = process.cpuUsage(c0);
    readMs += (d.user + d.system) / 1000;
    return ok;
  },
};
if (warm) held.bfv.warmAggregate(src, src.count);
const noise = Array.from({ length: ATTRIBUTE_COUNT }, (_, j) => (j % 5) - 2); // nonzero, as a session's Laplace noise
const samples: { cpu: number; user: number; system: number; reads: number }[] = [];
let ops = {};
for (let r = 0; r < runs; r++) {
  const chosen = new Set<number>();
  while (chosen.size < matched) chosen.add(randomInt(users));
  const positions = [...chosen];
  const s = primitiveSnapshot();
  readMs = 0;
  const c0 = process.cpuUsage();
  held.bfv.aggregateStored(timed, src.count, positions, noise);
  const c = process.cpuUsage(c0);
  ops = primitiveDelta(s);
  samples.push({ cpu: (c.user + c.system) / 1000, user: c.user / 1000, system: c.system / 1000, reads: readMs });
}
const costs = await measurePrimitiveCosts();
const floor = floorMs(ops, costs);
const first = Math.round(samples[0]!.cpu * 10) / 10;
samples.sort((a, b) => a.cpu - b.cpu);
const med = samples[Math.floor(samples.length / 2)]!;
const r1 = (x: number) => Math.round(x * 10) / 10;
console.log(JSON.stringify({ users, ciphertexts: src.count, matched, warm, first, best: samples[0], median: { cpu: r1(med.cpu), user: r1(med.user), system: r1(med.system), reads: r1(med.reads) }, ops, floorMs: r1(floor), ratioBest: Math.round((samples[0]!.cpu / floor) * 100) / 100, ratioMedian: Math.round((med.cpu / floor) * 100) / 100 }));
held.bfv.dispose();
