/**
 * Media's publication encrypted on worker threads: each worker restores the publication's BFV
 * key pair (its secret key sent once at start, zeroed in the worker once loaded) and encrypts
 * the batches of users it is sent (publication-worker.ts), so the publication — one BFV
 * encryption per 128 users, ≈ 5 ms of CPU each, single-threaded before — runs on every
 * thread given (CLEANROOM_EVAL_THREADS). publish() keeps the ciphertexts in position order and
 * hashes them for the version as before: the same publication, made faster.
 *
 * Guarantees (KeyedWorkers): a batch's ciphertexts reach the batch that asked; a worker that
 * fails or exits fails every pending and later batch with that error (the publication fails;
 * nothing is installed); close() stops the workers.
 */
import type { MediaBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { KeyedWorkers } from '@cleanroom/shared/crypto/keyed-workers.ts';

export class PublicationWorkers {
  private readonly pool: KeyedWorkers;

  constructor(bfv: MediaBfv, threads: number) {
    this.pool = new KeyedWorkers(new URL('./publication-worker.ts', import.meta.url), undefined, threads, 'publication worker', {
      secretKey: bfv.secretKeyBytes(), material: bfv.publicMaterial(),
    });
  }

  get size(): number {
    return this.pool.size;
  }

  /** publish()'s `encrypt`: the batch (packed vectors in position order, transferred) to the next worker in turn. */
  readonly encrypt = async (packedUsers: Uint8Array, users: number): Promise<Uint8Array[]> => {
    const out = await this.pool.sendNext({ bytes: packedUsers, users }, [packedUsers.buffer as ArrayBuffer]);
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const n = dv.getUint32(0, true);
    const cts: Uint8Array[] = [];
    for (let i = 0, at = 4 + 4 * n; i < n; i++) {
      const len = dv.getUint32(4 + 4 * i, true);
      cts.push(out.subarray(at, at + len));
      at += len;
    }
    return cts;
  };

  close(): Promise<void> {
    return this.pool.close();
  }
}
