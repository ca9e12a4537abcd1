/**
 * Micro-benchmark of the OPRF hot path (shared/src/crypto): prints ops/s for hashToGroup(Batch),
 * evaluate, evaluateBatch, evaluateBatchParallel, blind, unblind, finalize and randomElement.
 * Run: node bench/oprf.bench.ts [--large]   (--large adds a 200,000-ID hashToGroupBatch run)
 * Deterministic inputs; not part of the test suite. Prints ops/s by wall clock and by this
 * process's CPU time (user + system, all threads) — on a shared 2-core machine the CPU figure is
 * the stable one for single-thread work; for the parallel runs wall clock is the figure that counts.
 */
import { availableParallelism } from 'node:os';
import { hashToGroup, hashToGroupBatch, oprfDst } from '../shared/src/crypto/h2c.ts';
import { randomElement } from '../shared/src/crypto/group.ts';
import { OprfKey, blind, blindBatch, finalize, unblind } from '../shared/src/crypto/oprf.ts';
import { closeOprfWorkers, evaluateBatchParallel } from '../shared/src/crypto/oprf-pool.ts';

let cpuStart = process.cpuUsage();
function rate(label: string, n: number, ms: number): void {
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const perSec = (x: number): string => String(Math.round((n / x) * 1000)).padStart(9);
  console.log(`${label.padEnd(44)} ${perSec(ms)} ops/s wall  ${perSec(cpuMs)} ops/s per CPU-second   (${n} in ${ms.toFixed(0)} ms)`);
}
function start(): number {
  cpuStart = process.cpuUsage();
  return performance.now();
}

function time(label: string, n: number, f: (i: number) => unknown): void {
  const t = start();
  for (let i = 0; i < n; i++) f(i);
  rate(label, n, performance.now() - t);
}

const enc = new TextEncoder();
const dst = oprfDst('email', '2025-01');
const ids = (n: number, salt = ''): Uint8Array[] => Array.from({ length: n }, (_, i) => enc.encode(`user${i}${salt}@example.com`));

console.log(`node ${process.version}, ${availableParallelism()} cores`);
const warm = ids(2000, 'w');
hashToGroupBatch(warm, dst);

const single = ids(5000, 's');
time('hashToGroup (single)', single.length, (i) => hashToGroup(single[i]!, dst));
{
  const batch = ids(50_000);
  const t = start();
  hashToGroupBatch(batch, dst);
  rate('hashToGroupBatch (50,000)', batch.length, performance.now() - t);
}
if (process.argv.includes('--large')) {
  const batch = ids(200_000, 'L');
  const t = start();
  hashToGroupBatch(batch, dst);
  rate('hashToGroupBatch (200,000)', batch.length, performance.now() - t);
}

const key = OprfKey.generate();
const elements = hashToGroupBatch(ids(50_000, 'e'), dst);
time('evaluate (single)', 10_000, (i) => key.evaluate(elements[i]!));
{
  const t = start();
  key.evaluateBatch(elements);
  rate('evaluateBatch (50,000, 1 thread)', elements.length, performance.now() - t);
}
for (const [threads, note] of [[2, 'cold pool'], [2, 'warm pool'], [3, 'third worker cold']] as const) {
  const t = start();
  await evaluateBatchParallel(key, elements, threads);
  rate(`evaluateBatchParallel (50,000, ${threads} w, ${note})`, elements.length, performance.now() - t);
}
{
  const small = elements.slice(0, 5000);
  const t = start();
  await evaluateBatchParallel(key, small, 2);
  rate('evaluateBatchParallel (5,000, 2 w, warm)', small.length, performance.now() - t);
}
const blinded = elements.slice(0, 10_000).map((e) => blind(e));
time('blind', 10_000, (i) => blind(elements[i]!));
{
  const t = start();
  blindBatch(elements.slice(0, 10_000));
  rate('blindBatch (10,000)', 10_000, performance.now() - t);
}
const evaluated = blinded.map((b) => key.evaluate(b.blinded));
time('unblind', 10_000, (i) => unblind(blinded[i]!.inverse, evaluated[i]!));
const unblinded = blinded.map((b, i) => unblind(b.inverse, evaluated[i]!));
const inputs = ids(10_000, 'e');
time('finalize', 100_000, (i) => finalize(inputs[i % 10_000]!, unblinded[i % 10_000]!));
time('randomElement', 10_000, () => randomElement());
await closeOprfWorkers();
