/**
 * Unblinded OPRF points X25519(k, H_dst(x)) of many inputs, hash-to-group and exponentiation
 * both on worker threads — for a node evaluating its OWN inputs under its own key (media's
 * label publication: the point a user's label key is derived from, crypto/label-box.ts). The
 * hash-to-group is the larger half of the cost, so oprf-pool.ts (exponentiation only) is not
 * enough there.
 *
 * `PointPool` starts `threads` workers (oprf-points-worker.ts) once with a copy of the key
 * (zeroed in each worker as soon as it is loaded) and serves any number of batches; a batch is
 * split into one contiguous slice per worker and returned in input order, so the result is
 * exactly `computePoints(key, inputs, dst)` (the single-thread path, which each worker runs).
 * Offline use (once per publication): the workers' start-up (≈150 ms) does not matter. A
 * failed worker fails every pending and later batch. Close the pool when done.
 */
import { Worker } from 'node:worker_threads';
import { OprfKey } from './oprf.ts';
import { hashToGroupBatch } from './h2c.ts';
import { ELEMENT_BYTES, type ElementBytes } from './group.ts';
import { pack } from './oprf-tokens.ts';
import { countPrimitive } from '../common/op-counts.ts';

const WORKER_URL = new URL('./oprf-points-worker.ts', import.meta.url);

/** X25519(key, H_dst(x)) for each input, on the calling thread. */
export function computePoints(key: OprfKey, inputs: readonly Uint8Array[], dst: string): ElementBytes[] {
  return key.evaluateBatch(hashToGroupBatch(inputs, dst));
}

/** Points laid back to back (ELEMENT_BYTES each), for the transfer from a worker. */
export function packPoints(points: readonly ElementBytes[]): Uint8Array {
  const out = new Uint8Array(points.length * ELEMENT_BYTES);
  points.forEach((p, i) => out.set(p, i * ELEMENT_BYTES));
  return out;
}

export class PointPool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (out: Uint8Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | undefined;

  constructor(key: OprfKey, threads: number) {
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new RangeError(`expected threads in 1..64, got ${threads}`);
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(WORKER_URL, { workerData: { key: key.toBytes() } });
      w.on('message', (m: { id: number; ok: boolean; out?: Uint8Array; error?: string }) => {
        const job = this.waiting.get(m.id);
        if (!job) return;
        this.waiting.delete(m.id);
        if (m.ok && m.out) job.resolve(m.out);
        else job.reject(new Error(`point worker failed: ${m.error}`));
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`expected the point worker to stay up, got exit code ${code}`)));
      return w;
    });
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const job of this.waiting.values()) job.reject(e);
    this.waiting.clear();
  }

  private run(w: Worker, inputs: readonly Uint8Array[], dst: string): Promise<Uint8Array> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    const { bytes, offsets } = pack(inputs);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, bytes, offsets, dst }, [bytes.buffer as ArrayBuffer, offsets.buffer as ArrayBuffer]);
    });
  }

  /** X25519(key, H_dst(x)) for each input (input order), spread over the pool. */
  async compute(inputs: readonly Uint8Array[], dst: string): Promise<ElementBytes[]> {
    const per = Math.ceil(inputs.length / this.workers.length);
    // run by the workers, counted here (op-counts.ts: counted where dispatched)
    countPrimitive('hashToGroup', inputs.length);
    countPrimitive('x25519', inputs.length);
    const parts = await Promise.all(this.workers.map((w, t) => this.run(w, inputs.slice(t * per, (t + 1) * per), dst)));
    const out: ElementBytes[] = [];
    for (const p of parts) for (let i = 0; i < p.length; i += ELEMENT_BYTES) out.push(p.slice(i, i + ELEMENT_BYTES));
    if (out.length !== inputs.length) throw new Error(`expected ${inputs.length} points from the workers, got ${out.length}`);
    return out;
  }

  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    this.failed ??= new Error('the point pool is closed');
    await Promise.allSettled(ws.map((w) => w.terminate()));
  }
}
