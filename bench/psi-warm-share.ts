/**
 * How much media's PSI position-hash warm-up (services/media/src/psi-positions.ts) slows a
 * session's work that runs beside it, and how much that work slows the warm-up, by the
 * warm-up's number of worker threads and their nice value — the measurement behind the
 * node's choice. A session's stand-in: --batches batches, one after another, of media's OPRF
 * evaluation on its pool (crypto/oprf-pool.ts evaluatePackedParallel of --batch elements on
 * --eval-threads workers, as CLEANROOM_EVAL_THREADS), started with the warm-up. Per
 * configuration (the batches alone, then each `threads × nice` warm-up of --users users in a
 * fresh directory), interleaved over --rounds: the batches' median wall ms, the warm-up's wall
 * seconds (it goes on after the batches) and the warm-up's CPU seconds (this process's, less
 * the batches' alone) — on a busy machine, compare configurations within a round.
 *
 *   node bench/psi-warm-share.ts [--users 150000] [--batch 20000] [--batches 12] [--eval-threads 2] [--rounds 2]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intFlag, parseArgs } from '../cli/src/args.ts';
import { PositionHashFile } from '../services/media/src/psi-positions.ts';
import { evaluatePackedParallel, closeOprfWorkers, prepareOprfWorkers } from '@cleanroom/shared/crypto/oprf-pool.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { ELEMENT_BYTES, randomElements } from '@cleanroom/shared/crypto/group.ts';
import { PackedList } from '@cleanroom/shared/common/packed-list.ts';

const p = parseArgs(process.argv.slice(2), { users: 'string', batch: 'string', batches: 'string', 'eval-threads': 'string', rounds: 'string' });
const users = intFlag(p, 'users', 150_000, 1000);
const batch = intFlag(p, 'batch', 20_000, 2000);
const count = intFlag(p, 'batches', 12, 1);
const evalThreads = intFlag(p, 'eval-threads', 2, 1, 64);
const rounds = intFlag(p, 'rounds', 2, 1);
const CONFIGS = [0, 1, 2].flatMap((threads) => (threads === 0 ? [{ threads, nice: 0 }] : [0, 10, 19].map((nice) => ({ threads, nice }))));

const key = OprfKey.generate();
const elements = PackedList.from(randomElements(batch), ELEMENT_BYTES);
await prepareOprfWorkers(evalThreads);

/** `count` session batches one after another; each one's wall ms. */
async function batches(): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await evaluatePackedParallel(key, elements, evalThreads);
    ms.push(performance.now() - t);
  }
  return ms;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const cpuSeconds = (): number => ((u) => (u.user + u.system) / 1e6)(process.cpuUsage());

for (let r = 0; r < rounds; r++) {
  let alone = NaN;
  for (const c of CONFIGS) {
    const cpu0 = cpuSeconds();
    if (c.threads === 0) {
      const ms = await batches();
      alone = cpuSeconds() - cpu0;
      process.stdout.write(`${JSON.stringify({ round: r + 1, warmup: 'none', batchMedianMs: Math.round(median(ms)), batchesCpuSeconds: Math.round(alone * 10) / 10, loadavg: loadavg() })}\n`);
      continue;
    }
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-psi-share-'));
    const f = new PositionHashFile(dir, users);
    try {
      const warm = f.warm('v-share', { threads: c.threads, nice: c.nice });
      const ms = await batches();
      const figs = await warm;
      process.stdout.write(`${JSON.stringify({
        round: r + 1, warmup: `${c.threads} worker${c.threads > 1 ? 's' : ''}, nice ${c.nice}`, batchMedianMs: Math.round(median(ms)),
        warmupSeconds: Math.round((figs?.seconds ?? NaN) * 10) / 10, warmupCpuSeconds: Math.round((cpuSeconds() - cpu0 - alone) * 10) / 10, loadavg: loadavg(),
      })}\n`);
    } finally {
      f.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
await closeOprfWorkers();

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
