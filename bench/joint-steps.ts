// Benchmark of the broker's joint-count sum (BrokerBfv.sumIndicators) in one process: media's
// indicator ciphertexts for `users` positions (encryptIndicators), the broker's masked sum over
// `matched` distinct positions drawn at random, CPU per run (the fastest of `runs`), with the
// primitives it counted and their floor (bench/floors.ts costs measured in the same process).
// Checks that media decrypts exactly |matched ∧ indicator|.
// Run: nice -n 10 node bench/joint-steps.ts [users=975000] [matched=1300] [runs=5]
import { randomInt } from 'node:crypto';
import { cryptoBelow } from '../shared/src/protocol/policy.ts';
import { ATTRIBUTE_COUNT } from '../shared/src/common/attributes.ts';
import { BrokerBfv, MediaBfv } from '../shared/src/crypto/bfv.ts';
import { primitiveDelta, primitiveSnapshot } from '../shared/src/common/op-counts.ts';
import { floorMs, measurePrimitiveCosts } from './floors.ts';

const users = Number(process.argv[2] ?? 975_000);
const matched = Number(process.argv[3] ?? 1300);
const runs = Number(process.argv[4] ?? 5);
for (const [n, v] of [['users', users], ['matched', matched], ['runs', runs]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`expected a positive integer ${n}, got ${v}`);
}
if (matched > users) throw new RangeError(`expected matched ≤ users, got ${matched} > ${users}`);

const media = await MediaBfv.create(ATTRIBUTE_COUNT);
const broker = await BrokerBfv.fromPublicMaterial(media.publicMaterial(), ATTRIBUTE_COUNT);
const bits = new Uint8Array(users);
for (let i = 0; i < users; i++) bits[i] = randomInt(2);
const cts = media.encryptIndicators(bits);
const chosen = new Set<number>();
while (chosen.size < matched) chosen.add(randomInt(users));
const positions = [...chosen];
const want = positions.filter((p) => bits[p] === 1).length;
const uniformBelow = cryptoBelow; // what the broker uses (protocol/broker.ts jointSum)

let best = Infinity;
let ops = {};
for (let r = 0; r < runs; r++) {
  const s = primitiveSnapshot();
  const c0 = process.cpuUsage();
  const sum = broker.sumIndicators(cts, positions, 0, uniformBelow);
  const c = process.cpuUsage(c0);
  ops = primitiveDelta(s);
  best = Math.min(best, (c.user + c.system) / 1000);
  const got = media.decryptSlotSum(sum);
  if (got !== want) throw new Error(`expected the masked sum to decrypt to ${want}, got ${got}`);
}
const costs = await measurePrimitiveCosts();
const floor = floorMs(ops, costs);
console.log(JSON.stringify({ users, ciphertexts: cts.length, matched, sumCpuMs: Math.round(best * 10) / 10, ops, floorMs: Math.round(floor * 10) / 10, ratio: floor > 0 ? Math.round((best / floor) * 100) / 100 : null,
  costs: { bfvLoad: costs.bfvLoad, bfvNtt: costs.bfvNtt, bfvEncode: costs.bfvEncode, bfvPlainNtt: costs.bfvPlainNtt, bfvMultiplyPlain: costs.bfvMultiplyPlain, bfvAdd: costs.bfvAdd, bfvEncryptZero: costs.bfvEncryptZero } }));
media.dispose();
broker.dispose();
