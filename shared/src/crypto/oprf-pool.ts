/**
 * The OPRF evaluation pool: `evaluateBatchParallel` spreads a batch of key.evaluate calls over a
 * lazily started pool of worker_threads (oprf-worker.ts), sending each a copy of the key bytes
 * (zeroed by the worker after the job) and a transferred packed buffer; the main thread only
 * packs and unpacks, so its event loop stays responsive while the workers compute. Every
 * element is validated on the calling thread first. Concurrent calls share the pool safely
 * (jobs are matched by id). Idle workers do not keep the process alive; `closeOprfWorkers`
 * ends them. The OPRF itself is oprf.ts.
 */
import { Worker } from 'node:worker_threads';
import { ELEMENT_BYTES, InvalidElementError, sodium, validateElements, validatePacked } from './group.ts';
import type { ElementBytes, InvalidElementReason } from './group.ts';
import { OprfKey } from './oprf.ts';
import { countOprf, countPrimitive } from '../common/op-counts.ts';
import { PackedList } from '../common/packed-list.ts';

/** Below this many elements evaluateBatchParallel stays on the calling thread. */
export const PARALLEL_THRESHOLD = 2000;

/** What a pool worker receives for one job (see oprf-worker.ts). */
export interface WorkerJob {
  id: number;
  key: Uint8Array;
  packed: ArrayBuffer;
  count: number;
}

/** What a pool worker posts back for one job. */
export type WorkerReply =
  | { id: number; ok: true; out: ArrayBuffer }
  | { id: number; ok: false; message: string; reason?: InvalidElementReason; index?: number };

interface Pending {
  resolve: (out: ArrayBuffer) => void;
  reject: (err: Error) => void;
  from: number;
}

/**
 * One long-lived evaluation worker. Starting a worker that loads TypeScript costs ≈150 ms here,
 * so workers are kept between calls; a worker is unref'd whenever it has no job, so an idle pool
 * never keeps the process alive, and ref'd while it has one, so an awaited job is never dropped.
 */
class PoolWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  dead = false;

  constructor(onDeath: (w: PoolWorker) => void) {
    this.worker = new Worker(WORKER_URL);
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const job = this.pending.get(reply.id);
      if (job === undefined) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.ok) job.resolve(reply.out);
      else if (reply.reason !== undefined) {
        job.reject(new InvalidElementError(reply.reason, reply.message, reply.index === undefined ? undefined : job.from + reply.index));
      } else job.reject(new Error(`OPRF worker failed: ${reply.message}`));
    });
    const die = (err: Error): void => {
      if (this.dead) return;
      this.dead = true;
      onDeath(this);
      for (const job of this.pending.values()) job.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`expected the OPRF worker to stay up, got exit code ${code}`)));
  }

  run(id: number, key: Uint8Array, packed: ArrayBuffer, count: number, from: number): Promise<ArrayBuffer> {
    return new Promise<ArrayBuffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, from });
      this.worker.ref();
      const job: WorkerJob = { id, key, packed, count };
      this.worker.postMessage(job, [packed]); // the key is structured-cloned; the caller zeroes its copy
    });
  }
}

const WORKER_URL = new URL('./oprf-worker.ts', import.meta.url);
const pool: PoolWorker[] = [];
let nextJobId = 1;

function poolOf(size: number): PoolWorker[] {
  while (pool.length < size) {
    pool.push(
      new PoolWorker((dead) => {
        const i = pool.indexOf(dead);
        if (i >= 0) pool.splice(i, 1);
      }),
    );
  }
  return pool.slice(0, size);
}

/** Starts `threads` pool workers ahead of time (e.g. at node start-up) and waits until they answer. */
export async function prepareOprfWorkers(threads: number): Promise<void> {
  checkThreads(threads);
  const key = OprfKey.generate().toBytes();
  try {
    await Promise.all(poolOf(threads).map((w) => w.run(nextJobId++, key, new ArrayBuffer(0), 0, 0)));
  } finally {
    sodium.sodium_memzero(key);
  }
}

/** Terminates every pool worker (graceful shutdown, tests). Pending jobs are rejected. */
export async function closeOprfWorkers(): Promise<void> {
  const all = pool.splice(0, pool.length);
  await Promise.allSettled(all.map((w) => w.worker.terminate()));
}

function checkThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new RangeError(`expected threads to be an integer in 1..64, got ${typeof threads === 'number' ? threads : typeof threads}`);
  }
}

/**
 * key.evaluateBatch(es) spread over `threads` pooled worker threads (contiguous slices, order
 * kept). Validates ALL elements on the calling thread first (InvalidElementError with the index).
 * Below PARALLEL_THRESHOLD elements, or with threads = 1, it runs on the calling thread. The first
 * call pays the workers' start-up (≈150 ms each, in parallel) unless prepareOprfWorkers ran.
 * `purpose` 'session' (default) counts the batch in the session evaluations tally (the
 * cleanroom_oprf_evaluations_total metric); 'own' is a node evaluating its own users (label
 * publication), which that metric does not count.
 */
export async function evaluateBatchParallel(key: OprfKey, es: readonly ElementBytes[], threads: number, purpose: 'session' | 'own' = 'session'): Promise<ElementBytes[]> {
  checkKey(key);
  checkThreads(threads);
  validateElements(es);
  if (purpose === 'session') countOprf(es.length);
  if (threads === 1 || es.length < PARALLEL_THRESHOLD) return key.evaluateBatch(es);
  const outs = await runOnPool(key, es.length, threads, (from, to) => {
    const packed = new ArrayBuffer((to - from) * ELEMENT_BYTES);
    const view = new Uint8Array(packed);
    for (let i = from; i < to; i++) view.set(es[i]!, (i - from) * ELEMENT_BYTES);
    return packed;
  });
  const result: Uint8Array[] = new Array<Uint8Array>(es.length);
  for (const { from, buf } of outs) {
    const view = new Uint8Array(buf);
    // views into the worker's one reply buffer, not a copy (and an ArrayBuffer) per element:
    // ~0.2 KB less per element, which is what a DH-PSI over ≈ 0.87·U elements holds
    for (let i = 0; i * ELEMENT_BYTES < view.length; i++) result[from + i] = view.subarray(i * ELEMENT_BYTES, (i + 1) * ELEMENT_BYTES);
  }
  return result;
}

/**
 * evaluateBatchParallel on a packed list (common/packed-list.ts): the same validation (all
 * elements first, InvalidElementError with the index), the same workers and order, but the
 * result is one packed buffer — no object per element on either side (media's BLIND round
 * holds the padded list, up to CLEANROOM_MAX_PADDED elements).
 */
export async function evaluatePackedParallel(key: OprfKey, es: PackedList, threads: number, purpose: 'session' | 'own' = 'session'): Promise<PackedList> {
  checkKey(key);
  if (!(es instanceof PackedList) || es.width !== ELEMENT_BYTES) throw new TypeError(`expected a PackedList of ${ELEMENT_BYTES}-byte elements, got ${es instanceof PackedList ? `${es.width}-byte items` : typeof es}`);
  checkThreads(threads);
  validatePacked(es.bytes);
  if (purpose === 'session') countOprf(es.length);
  if (threads === 1 || es.length < PARALLEL_THRESHOLD) {
    return PackedList.from(key.evaluateBatch(es.toArray()), ELEMENT_BYTES);
  }
  // each worker gets a copy of its slice (the buffer is transferred to the worker)
  const outs = await runOnPool(key, es.length, threads, (from, to) => es.bytes.slice(from * ELEMENT_BYTES, to * ELEMENT_BYTES).buffer);
  const result = PackedList.alloc(es.length, ELEMENT_BYTES);
  for (const { from, buf } of outs) result.bytes.set(new Uint8Array(buf), from * ELEMENT_BYTES);
  return result;
}

/** An OprfKey, or a TypeError naming what came instead. */
function checkKey(key: unknown): asserts key is OprfKey {
  if (!(key instanceof OprfKey)) throw new TypeError(`expected an OprfKey, got ${typeof key === 'object' && key !== null ? (key as object).constructor?.name ?? 'object' : typeof key}`);
}

/**
 * The pool's part of both entry points: n elements cut into contiguous slices, one per worker
 * (at most `threads`, each at least PARALLEL_THRESHOLD / 2), `slice(from, to)` giving each
 * worker's packed input (transferred to it); the replies with the index of their first
 * element. The key's bytes are wiped once the jobs are posted.
 */
async function runOnPool(key: OprfKey, n: number, threads: number, slice: (from: number, to: number) => ArrayBuffer): Promise<{ from: number; buf: ArrayBuffer }[]> {
  const parts = Math.min(threads, Math.ceil(n / (PARALLEL_THRESHOLD / 2)));
  const workers = poolOf(parts);
  const keyBytes = key.toBytes();
  const jobs: Promise<{ from: number; buf: ArrayBuffer }>[] = [];
  try {
    for (let p = 0; p < parts; p++) {
      const from = Math.floor((n * p) / parts);
      const to = Math.floor((n * (p + 1)) / parts);
      countPrimitive('x25519', to - from); // run by a worker thread, counted here
      jobs.push(workers[p]!.run(nextJobId++, keyBytes, slice(from, to), to - from, from).then((buf) => ({ from, buf })));
    }
  } finally {
    sodium.sodium_memzero(keyBytes);
  }
  return Promise.all(jobs);
}
