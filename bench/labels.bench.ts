/**
 * Label publication (lookup kind, shared/src/protocol/label-publication.ts) on one thread and
 * on worker threads, on the same synthetic publication: N phone IDs, 80 % labelled and
 * consenting (as the W1 world: 776,461 of 970,034). Prints wall seconds and this process's CPU
 * seconds (all threads) per thread count, and checks the boxes are byte-identical across
 * thread counts for the same random source. Not part of the test suite.
 *   node bench/labels.bench.ts [--users 100000] [--threads 1,2]
 */
import { createHash } from 'node:crypto';
import { parseArgs, intFlag, strFlag } from '../cli/src/args.ts';
import { OprfKey } from '../shared/src/crypto/oprf.ts';
import { oprfDst } from '../shared/src/crypto/h2c.ts';
import { computeTokensParallel } from '../shared/src/crypto/oprf-tokens.ts';
import { LABEL_BYTES } from '../shared/src/crypto/label-box.ts';
import { publishedTokens } from '../shared/src/protocol/publication.ts';
import { publishLabels, type LabelRandom } from '../shared/src/protocol/label-publication.ts';

const p = parseArgs(process.argv.slice(2), { users: 'string', threads: 'string' });
const n = intFlag(p, 'users', 100_000, 1000);
const threads = strFlag(p, 'threads', '1,2').split(',').map(Number);
const epoch = 'e-bench';
const key = OprfKey.generate();
const enc = new TextEncoder();
const ids = Array.from({ length: n }, (_, i) => `+86139${String(i).padStart(8, '0')}`);
const tokens = await computeTokensParallel(key, ids.map((s) => enc.encode(s)), oprfDst('phone', epoch), 2);
const order = Uint32Array.from({ length: n }, (_, i) => i);
const pub = { epoch, version: 'v-bench', tokens: new Map([['phone' as const, publishedTokens(tokens, order)]]) };
const label = new Uint8Array(LABEL_BYTES).fill(7);
const src = { order, idOf: (row: number) => ids[row], labelOf: (row: number) => (row % 5 === 0 ? undefined : { label, consentShare: true }) };
const seeded = (): LabelRandom => {
  let c = 0;
  return (out) => {
    for (let off = 0; off < out.length; off += 32) out.set(createHash('sha256').update(`bench\0${c++}`).digest().subarray(0, Math.min(32, out.length - off)), off);
  };
};

console.log(`label publication of ${n.toLocaleString('en')} published tokens (${(n * 0.8).toLocaleString('en')} real boxes), node ${process.version}`);
let reference: Buffer | undefined;
for (const t of threads) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { labels } = await publishLabels(pub, key, src, { threads: t, random: seeded() });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const phone = labels.boxes.get('phone')!;
  const boxes = Buffer.from(phone.read(0, phone.count));
  reference ??= boxes;
  console.log(`threads ${t}: ${wall.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU (all threads); boxes identical to threads ${threads[0]}: ${boxes.equals(reference)}`);
}
