/**
 * Worker threads that each hold a copy of one OPRF key (sent once at start, zeroed in the
 * worker after loading), or none, and answer jobs of packed inputs: the scaffolding of the
 * token pool (oprf-tokens.ts), of media's keyless position-hash warm-up
 * (services/media/src/psi-positions.ts), whose jobs are ranges rather than inputs (`send`),
 * and of media's publication encryption (services/media/src/publication-workers.ts), whose
 * workers start with its BFV key in `data` instead.
 * A worker script answers each message `{ id, ...job }` with `{ id, ok, out }` (a Uint8Array,
 * transferred) or `{ id, ok: false, error }`.
 *
 * Guarantees: a job's answer reaches the job that asked for it; a worker that errs or exits
 * fails every pending and later job with that error (no hang); after `close` every job fails.
 */
import { Worker } from 'node:worker_threads';
import type { OprfKey } from './oprf.ts';

export class KeyedWorkers {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (out: Uint8Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | undefined;
  private readonly what: string;

  /**
   * `what` names the workers in errors ("token worker", "position-hash worker"); `key`
   * undefined: workers without one; `data`: more of each worker's workerData (copied to each).
   */
  constructor(script: URL, key: OprfKey | undefined, threads: number, what: string, data: Readonly<Record<string, unknown>> = {}) {
    this.what = what;
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new RangeError(`expected threads in 1..64, got ${threads}`);
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(script, { workerData: { ...data, ...(key ? { key: key.toBytes() } : {}) } });
      w.on('message', (m: { id: number; ok: boolean; out?: Uint8Array; error?: string }) => {
        const job = this.waiting.get(m.id);
        if (!job) return;
        this.waiting.delete(m.id);
        if (m.ok && m.out) job.resolve(m.out);
        else job.reject(new Error(`${this.what} failed: ${m.error}`));
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => this.fail(new Error(`expected the ${this.what} to stay up, got exit code ${code}`)));
      return w;
    });
  }

  /** How many workers there are. */
  get size(): number {
    return this.workers.length;
  }

  /** Sends worker `t` the packed inputs (transferred, not copied) and resolves with its answer. */
  run(t: number, bytes: Uint8Array, offsets: Float64Array, dst: string): Promise<Uint8Array> {
    return this.send(t, { bytes, offsets, dst }, [bytes.buffer as ArrayBuffer, offsets.buffer as ArrayBuffer]);
  }

  /** Sends one job to the next worker in turn (round robin: for jobs of about equal work). */
  sendNext(job: Readonly<Record<string, unknown>>, transfer: readonly ArrayBuffer[] = []): Promise<Uint8Array> {
    return this.send(this.turn++ % Math.max(1, this.workers.length), job, transfer);
  }

  private turn = 0;

  /** Sends worker `t` one job (its `transfer` buffers moved, not copied) and resolves with its answer. */
  send(t: number, job: Readonly<Record<string, unknown>>, transfer: readonly ArrayBuffer[] = []): Promise<Uint8Array> {
    const w = this.workers[t];
    if (this.failed) return Promise.reject(this.failed);
    if (!w) return Promise.reject(new RangeError(`expected a worker index in [0, ${this.workers.length}), got ${t}`));
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ ...job, id }, [...transfer]);
    });
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const job of this.waiting.values()) job.reject(e);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.failed ??= new Error(`the ${this.what} pool is closed`);
    const ws = this.workers.splice(0);
    await Promise.allSettled(ws.map((w) => w.terminate()));
  }
}
