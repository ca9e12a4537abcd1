/**
 * The CPU of media's joint-count selection (protocol/media.ts selectedPositions: consent_ads ∧
 * the session's media predicate, one byte per published position) on a synthetic universe of
 * `--users` (random packed vectors, 97 % consent, a random publication order, the demo media
 * predicate of `cleanroom` sessions), beside the previous pass — position by position, its
 * user's consent byte and packed vector read in the publication's random order — for
 * comparison; both must give the same bytes. Mean CPU of this thread over `--repeats` runs
 * after one untimed run of each, alternated so that load on a shared machine falls on both.
 *
 *   node bench/selection-steps.ts [--users 970034] [--repeats 10]
 */
import { randomFillSync, randomInt } from 'node:crypto';
import { compileMediaPredicate, packedPredicateTest } from '@cleanroom/shared/protocol/predicate-schemas.ts';
import { selectedPositions } from '@cleanroom/shared/protocol/media.ts';
import { PACKED_BYTES } from '@cleanroom/shared/protocol/universe.ts';
import { randomPermutation } from '@cleanroom/shared/protocol/policy.ts';
import { DEMO_MEDIA_PREDICATE } from '../cli/src/kinds.ts';
import { parseArgs, intFlag } from '../cli/src/args.ts';

const p = parseArgs(process.argv.slice(2), { users: 'string', repeats: 'string' });
const users = intFlag(p, 'users', 970_034, 1);
const repeats = intFlag(p, 'repeats', 10, 1);
const packed = new Uint8Array(users * PACKED_BYTES);
randomFillSync(packed);
const purposes = { ads: Uint8Array.from({ length: users }, () => (randomInt(100) < 97 ? 1 : 0)), share: new Uint8Array(users) };
const order = randomPermutation(users);
const predicate = compileMediaPredicate(DEMO_MEDIA_PREDICATE);

/** The previous pass: position by position (random reads of consent and vector). */
function previous(): Uint8Array {
  const bits = new Uint8Array(order.length);
  const test = packedPredicateTest(predicate);
  for (let pos = 0; pos < order.length; pos++) {
    const row = order[pos]!;
    if (purposes.ads[row] === 1 && test(packed, row * PACKED_BYTES)) bits[pos] = 1;
  }
  return bits;
}
const current = (): Uint8Array => selectedPositions(order, purposes, packed, predicate);

const a = previous();
const b = current();
if (!a.every((v, i) => v === b[i])) throw new Error('selection-steps: the two passes select different positions');
const cpuMs = (): number => {
  const c = process.threadCpuUsage();
  return (c.user + c.system) / 1000;
};
let prevMs = 0;
let curMs = 0;
for (let r = 0; r < repeats; r++) {
  let t = cpuMs();
  previous();
  prevMs += cpuMs() - t;
  t = cpuMs();
  current();
  curMs += cpuMs() - t;
}
process.stdout.write(`${users.toLocaleString('en')} positions, ${b.reduce((s, v) => s + v, 0).toLocaleString('en')} selected; mean CPU of ${repeats} runs: selectedPositions ${(curMs / repeats).toFixed(1)} ms, previous pass ${(prevMs / repeats).toFixed(1)} ms\n`);
