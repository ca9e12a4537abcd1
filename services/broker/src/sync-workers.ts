/**
 * The broker's universe sync with its per-ciphertext work on worker threads: each worker loads
 * media's public material once and turns the ciphertexts of each message it is given into the
 * stored form (validation, NTT) with their digests (sync-worker.ts), so the sync — ≈ 2 ms of
 * CPU per ciphertext, on the main thread alone before — runs on CLEANROOM_EVAL_THREADS threads
 * while the main thread receives and verifies the next messages. The download still appends
 * them in order (UniverseDownload.addConverted): the same files, the same version check.
 *
 * Guarantees (KeyedWorkers): a batch's answer reaches the batch that asked; an invalid
 * ciphertext fails its batch (and so the sync) naming it; a worker that fails or exits fails
 * every pending and later batch; close() stops the workers.
 */
import type { BfvPublicMaterial } from '@cleanroom/shared/crypto/bfv.ts';
import { KeyedWorkers } from '@cleanroom/shared/crypto/keyed-workers.ts';

/** One converted batch: per ciphertext its digest (32 bytes) and its stored form. */
export interface ConvertedCiphertexts {
  digests: Uint8Array;
  stored: Uint8Array[];
}

export class SyncWorkers {
  private readonly pool: KeyedWorkers;
  private next = 0;

  constructor(material: BfvPublicMaterial, attributeCount: number, threads: number) {
    this.pool = new KeyedWorkers(new URL('./sync-worker.ts', import.meta.url), undefined, threads, 'sync worker', { material, attributeCount });
  }

  /** Media's wire ciphertexts (copied into one transferred buffer) to the next worker in turn. */
  async convert(list: readonly Uint8Array[]): Promise<ConvertedCiphertexts> {
    const lengths = Uint32Array.from(list, (c) => c.length);
    const bytes = new Uint8Array(list.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of list) {
      bytes.set(c, at);
      at += c.length;
    }
    const t = this.next++ % this.pool.size;
    const out = await this.pool.send(t, { bytes, lengths }, [bytes.buffer as ArrayBuffer, lengths.buffer as ArrayBuffer]);
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const n = dv.getUint32(0, true);
    if (n !== list.length) throw new Error(`sync worker answered ${n} ciphertexts for ${list.length}`);
    const stored: Uint8Array[] = [];
    for (let i = 0, from = 4 + 36 * n; i < n; i++) {
      const len = dv.getUint32(4 + 4 * i, true);
      stored.push(out.subarray(from, from + len));
      from += len;
    }
    return { digests: out.subarray(4 + 4 * n, 4 + 36 * n), stored };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
