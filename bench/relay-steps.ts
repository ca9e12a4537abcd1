/**
 * The broker's BLIND relay in one process, step by step (issue 13): what it does to A's
 * blinded elements and media's evaluations besides the network — decode A's batches, pad and
 * shuffle (padding.ts padInPlace, in the list the dummies were drawn into), encode the padded
 * list's batches (PackedBlindedBatchCodec), the payloads' SHA-256 (sealing, and opening on the
 * other side), the gRPC envelope's protobuf (de)serialisation, media's batches read in place
 * (BlindedBatchInPlaceCodec, joinInPlace), unpad, encode A's reply. No X25519: the dummies are
 * drawn before the timed runs (as the node draws them during OPEN), media's evaluation is
 * played by the padded bytes themselves. CPU ms per step (user + system: a fresh list-sized
 * buffer's page faults are system time), each of `runs` runs printed (no best-of: a loaded
 * machine shows its spread).
 *
 *   node bench/relay-steps.ts [--padded 50000] [--seeds 5000] [--runs 6] [--old]
 *
 * --old times the packed path the node used before (padAndShuffle into a new list,
 * PackedBlindedBatchCodec + joinPacked) for a paired comparison. Measures; judges nothing.
 */
import { BATCH_BYTES, BATCH_ITEMS, BlindedBatchCodec, BlindedBatchInPlaceCodec, joinBatches, joinInPlace, joinPacked, PackedBlindedBatchCodec, splitBatches, splitPacked } from '../shared/src/rpc/codec.ts';
import { PackedList } from '../shared/src/common/packed-list.ts';
import { drawDummies, padAndShuffle, padInPlace, unpad } from '../shared/src/protocol/padding.ts';
import { cryptoUniform } from '../shared/src/protocol/policy.ts';
import { randomElement, ELEMENT_BYTES } from '../shared/src/crypto/group.ts';
import { sha256Hex } from '../shared/src/crypto/sha256.ts';
import { serviceDefinition } from '../shared/src/rpc/proto.ts';
import type { Envelope } from '../shared/src/transcript/statement.ts';
import { intFlag, parseArgs } from '../cli/src/args.ts';

const args = parseArgs(process.argv.slice(2), { padded: 'string', seeds: 'string', runs: 'string', old: 'boolean' });
const P = intFlag(args, 'padded', 50_000, 2);
const n = intFlag(args, 'seeds', 5_000, 1);
const runs = intFlag(args, 'runs', 6, 1);
const old = args.flags.old === true;
if (n >= P) throw new RangeError(`expected --seeds below --padded, got ${n} ≥ ${P}`);

const blinded = Array.from({ length: n }, () => randomElement());
const dummies = drawDummies(P - n);
const fromA = splitBatches(blinded, BATCH_ITEMS, BATCH_BYTES).map((b) => BlindedBatchCodec.encode(b));
const evaluate = serviceDefinition('Media').Evaluate as unknown as { requestSerialize(e: Envelope): Buffer; requestDeserialize(b: Buffer): Envelope };
const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const steps: Record<string, number> = {};
const step = <X>(name: string, f: () => X): X => {
  const c0 = cpuMs();
  const out = f();
  steps[name] = (steps[name] ?? 0) + cpuMs() - c0;
  return out;
};
console.log(`padded ${P}, seeds ${n}, ${old ? 'old packed path' : 'in place'}; CPU ms per step`);
for (let r = 0; r < runs; r++) {
  for (const k of Object.keys(steps)) steps[k] = 0;
  // the node's list, the dummies drawn into its tail during OPEN (untimed)
  const list = PackedList.alloc(P, ELEMENT_BYTES);
  list.bytes.set(dummies.bytes, n * ELEMENT_BYTES);
  const mine = step('decode A', () => joinBatches(fromA.map((w) => BlindedBatchCodec.decode(w)), 'blinded'));
  const { padded, padMap } = step('pad', () => (old ? padAndShuffle(mine, dummies, P, cryptoUniform) : padInPlace(mine, list, cryptoUniform)));
  const payloads = step('encode padded', () => splitPacked(padded, BATCH_ITEMS, BATCH_BYTES).map((b) => PackedBlindedBatchCodec.encode(b)));
  step('sha256 seal+open', () => payloads.forEach((w) => [sha256Hex(w), sha256Hex(w)]));
  const wire = step('envelope serialize', () => payloads.map((payload) => evaluate.requestSerialize({ statement: new Uint8Array(300), payload, signatures: [{ keyid: 'k', sig: new Uint8Array(64) }] })));
  const envs = step('envelope deserialize', () => wire.map((w) => evaluate.requestDeserialize(w)));
  const back = step('decode evaluated', () => (old
    ? joinPacked(envs.map((e) => PackedBlindedBatchCodec.decode(e.payload)), 'evaluated')
    : joinInPlace(envs.map((e) => BlindedBatchInPlaceCodec.decode(e.payload)), 'evaluated')));
  const own = step('unpad', () => unpad(back, padMap, n));
  step('encode for A', () => splitPacked(own, BATCH_ITEMS, BATCH_BYTES).map((b) => PackedBlindedBatchCodec.encode(b)));
  const total = Object.values(steps).reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ totalMs: Math.round(total * 10) / 10, ...Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, Math.round(v * 10) / 10])) }));
}
