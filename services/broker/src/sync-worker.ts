/**
 * Worker body for sync-workers.ts: started with media's public BFV material of the publication
 * being synced (workerData), turns each batch of media's wire ciphertexts it is sent
 * ({ id, bytes, lengths }: back to back) into the broker's stored form with BrokerBfv.toStoredForm
 * — the validation and NTT the sync does on its own thread without workers — and hashes each
 * with ciphertextDigest, posting back under the same id one buffer: a u32 count n, n u32 stored
 * lengths (little-endian), n 32-byte digests, then the stored forms back to back. An invalid
 * ciphertext fails the batch with its index in the batch and SEAL's reason.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BrokerBfv, type BfvPublicMaterial } from '@cleanroom/shared/crypto/bfv.ts';
import { ciphertextDigest } from '@cleanroom/shared/protocol/publication.ts';

const { material, attributeCount } = workerData as { material: BfvPublicMaterial; attributeCount: number };
const ready = BrokerBfv.fromPublicMaterial(material, attributeCount);
ready.catch(() => undefined); // reported to each batch below

parentPort!.on('message', (m: { id: number; bytes: Uint8Array; lengths: Uint32Array }) => {
  ready.then((bfv) => {
    const n = m.lengths.length;
    const stored: Uint8Array[] = [];
    const digests = new Uint8Array(32 * n);
    for (let i = 0, at = 0; i < n; at += m.lengths[i]!, i++) {
      const wire = m.bytes.subarray(at, at + m.lengths[i]!);
      try {
        stored.push(bfv.toStoredForm(wire));
      } catch (err) {
        throw new Error(`ciphertext ${i} of the batch: ${(err as Error).message}`);
      }
      digests.set(ciphertextDigest(wire), 32 * i);
    }
    const out = new Uint8Array(4 + 4 * n + 32 * n + stored.reduce((a, s) => a + s.length, 0));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, n, true);
    stored.forEach((s, i) => dv.setUint32(4 + 4 * i, s.length, true));
    out.set(digests, 4 + 4 * n);
    let at = 4 + 36 * n;
    for (const s of stored) {
      out.set(s, at);
      at += s.length;
    }
    parentPort!.postMessage({ id: m.id, ok: true, out }, [out.buffer as ArrayBuffer]);
  }).catch((err: unknown) => parentPort!.postMessage({ id: m.id, ok: false, error: (err as Error).message }));
});
