/**
 * Label publication (lookup kind, shared/src/protocol/label-publication.ts) from stored OPRF
 * points, on a synthetic publication held in memory: N phone IDs, 80 % labelled and consenting
 * (as the W1 world: 776,461 of 970,034); the tokens and points come from the token workers, as
 * media's preparation stores them (crypto/oprf-tokens.ts). Prints wall seconds and this
 * process's CPU seconds of `--runs` publications, and checks their boxes are byte-identical for
 * the same random source. The sealing alone: media's node also joins the labels and IDs to its
 * rows and reads the points from disk (services/media/src/label-store.ts; its status gives
 * labels.seconds and labels.cpuSeconds). Not part of the test suite.
 *   node bench/labels.bench.ts [--users 100000] [--runs 2]
 */
import { createHash } from 'node:crypto';
import { parseArgs, intFlag } from '../cli/src/args.ts';
import { OprfKey } from '../shared/src/crypto/oprf.ts';
import { oprfDst } from '../shared/src/crypto/h2c.ts';
import { ELEMENT_BYTES } from '../shared/src/crypto/group.ts';
import { TokenPool } from '../shared/src/crypto/oprf-tokens.ts';
import { LABEL_BYTES } from '../shared/src/crypto/label-box.ts';
import { publishedTokens } from '../shared/src/protocol/publication.ts';
import { publishLabels, type LabelRandom } from '../shared/src/protocol/label-publication.ts';

const p = parseArgs(process.argv.slice(2), { users: 'string', runs: 'string' });
const n = intFlag(p, 'users', 100_000, 1000);
const runs = intFlag(p, 'runs', 2, 1, 100);
const epoch = 'e-bench';
const key = OprfKey.generate();
const enc = new TextEncoder();
const ids = Array.from({ length: n }, (_, i) => `+86139${String(i).padStart(8, '0')}`);
const pool = new TokenPool(key, 2);
const { tokens, points } = await pool.compute(ids.map((s) => enc.encode(s)), oprfDst('phone', epoch));
await pool.close();
const order = Uint32Array.from({ length: n }, (_, i) => i);
const pub = { epoch, version: 'v-bench', tokens: new Map([['phone' as const, publishedTokens(tokens, order)]]) };
const label = new Uint8Array(LABEL_BYTES).fill(7);
const src = {
  order,
  idOf: (row: number) => ids[row],
  pointOf: (row: number) => points.subarray(row * ELEMENT_BYTES, (row + 1) * ELEMENT_BYTES),
  labelOf: (row: number) => (row % 5 === 0 ? undefined : { label, consentShare: true }),
};
const seeded = (): LabelRandom => {
  let c = 0;
  return (out) => {
    for (let off = 0; off < out.length; off += 32) out.set(createHash('sha256').update(`bench\0${c++}`).digest().subarray(0, Math.min(32, out.length - off)), off);
  };
};

console.log(`label publication of ${n.toLocaleString('en')} published tokens (${(n * 0.8).toLocaleString('en')} real boxes) from stored points, node ${process.version}`);
let reference: Buffer | undefined;
for (let r = 1; r <= runs; r++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { labels } = await publishLabels(pub, src, { random: seeded() });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const phone = labels.boxes.get('phone')!;
  const boxes = Buffer.from(phone.read(0, phone.count));
  reference ??= boxes;
  console.log(`run ${r}: ${wall.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU; boxes identical to run 1: ${boxes.equals(reference)}`);
}
