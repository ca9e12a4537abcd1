/**
 * The broker's universe sync with its per-ciphertext work on worker threads: each worker loads
 * media's public material once, turns the ciphertexts of each message it is given into the
 * stored form (validation, NTT) and writes them at their places in the download's ciphertext
 * segment files — every stored form has the same length, so ciphertext c's place follows from c
 * (CiphertextPlaces) — answering with their digests (sync-worker.ts). The sync — ≈ 2 ms of CPU per ciphertext, on
 * the main thread alone before — so runs on CLEANROOM_EVAL_THREADS threads while the main thread
 * receives and verifies the next messages, and no stored form crosses threads. The download
 * records them in order (UniverseDownload.addWritten): the same file, the same version check.
 *
 * Guarantees (KeyedWorkers): a batch's answer reaches the batch that asked; an invalid
 * ciphertext fails its batch (and so the sync) naming it; a worker that fails or exits fails
 * every pending and later batch; close() stops the workers.
 */
import type { BfvPublicMaterial } from '@cleanroom/shared/crypto/bfv.ts';
import type { CiphertextPlaces } from '@cleanroom/shared/service/ciphertext-file.ts';
import { KeyedWorkers } from '@cleanroom/shared/crypto/keyed-workers.ts';

export class SyncWorkers {
  private readonly pool: KeyedWorkers;
  /** Batch buffers back from the workers, reused for the next batches (no fresh 3 MB per message). */
  private readonly spare: Uint8Array[] = [];

  /** `places`: the download's ciphertext segments (UniverseDownload.workerPlaces), which the workers write into. */
  constructor(material: BfvPublicMaterial, attributeCount: number, places: CiphertextPlaces, threads: number) {
    this.pool = new KeyedWorkers(new URL('./sync-worker.ts', import.meta.url), undefined, threads, 'sync worker', { material, attributeCount, places });
  }

  /**
   * Media's wire ciphertexts `first`, `first` + 1, … (copied into one transferred buffer) to the
   * next worker in turn: stored in the file when this resolves, with their 32-byte digests.
   */
  async convert(first: number, list: readonly Uint8Array[]): Promise<Uint8Array> {
    const lengths = Uint32Array.from(list, (c) => c.length);
    const size = Math.max(32 * list.length, list.reduce((a, c) => a + c.length, 0));
    const k = this.spare.findIndex((b) => b.length >= size);
    const buf = k >= 0 ? this.spare.splice(k, 1)[0]! : new Uint8Array(size);
    let at = 0;
    for (const c of list) {
      buf.set(c, at);
      at += c.length;
    }
    const back = await this.pool.sendNext({ bytes: buf.subarray(0, Math.max(at, 32 * list.length)), lengths, first }, [buf.buffer as ArrayBuffer, lengths.buffer as ArrayBuffer]);
    // the same buffer, back: the digests at its start
    const whole = new Uint8Array(back.buffer);
    const digests = whole.slice(0, 32 * list.length);
    if (this.spare.length < 2 * this.pool.size) this.spare.push(whole);
    return digests;
  }

  /** The worker threads. */
  get size(): number {
    return this.pool.size;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
