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
import { OprfKey } from './oprf.ts';
import { hashToGroupBatch } from './h2c.ts';
import { ELEMENT_BYTES, type ElementBytes } from './group.ts';
import { pack } from './oprf-tokens.ts';
import { KeyedWorkers } from './keyed-workers.ts';
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
  private readonly workers: KeyedWorkers;

  constructor(key: OprfKey, threads: number) {
    this.workers = new KeyedWorkers(WORKER_URL, key, threads, 'point worker');
  }

  /** X25519(key, H_dst(x)) for each input (input order), spread over the pool. */
  async compute(inputs: readonly Uint8Array[], dst: string): Promise<ElementBytes[]> {
    const per = Math.ceil(inputs.length / this.workers.size);
    // run by the workers, counted here (op-counts.ts: counted where dispatched)
    countPrimitive('hashToGroup', inputs.length);
    countPrimitive('x25519', inputs.length);
    const parts = await Promise.all(Array.from({ length: this.workers.size }, (_, t) => {
      const { bytes, offsets } = pack(inputs.slice(t * per, (t + 1) * per));
      return this.workers.run(t, bytes, offsets, dst);
    }));
    const out: ElementBytes[] = [];
    for (const p of parts) for (let i = 0; i < p.length; i += ELEMENT_BYTES) out.push(p.slice(i, i + ELEMENT_BYTES));
    if (out.length !== inputs.length) throw new Error(`expected ${inputs.length} points from the workers, got ${out.length}`);
    return out;
  }

  close(): Promise<void> {
    return this.workers.close();
  }
}
