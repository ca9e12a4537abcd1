/**
 * Worker body for sync-workers.ts: started with media's public BFV material of the publication
 * being synced and the places of the download's ciphertexts (workerData), turns each batch of
 * media's wire ciphertexts it is sent ({ id, bytes, lengths, first }: back to back, the first
 * being ciphertext `first` of the publication) into the broker's stored form with
 * BrokerBfv.storedFormParts — the validation and NTT the sync does on its own thread without
 * workers — and writes each straight from SEAL's memory at its place in its segment file, which
 * follows from c and the fixed stored length (CiphertextPlaceWriter: a positioned vectored
 * write, no copy), and posts back
 * under the same id the batch's own buffer, its first 32 bytes per ciphertext now holding their
 * SHA-256 digests (ciphertextDigest of each wire ciphertext, taken before it is overwritten):
 * the buffer goes back and forth, not a fresh one per batch. An invalid ciphertext fails the
 * batch with its index and SEAL's reason, a failed write (ENOSPC) with its index and the error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BrokerBfv, type BfvPublicMaterial } from '@cleanroom/shared/crypto/bfv.ts';
import { ciphertextDigest } from '@cleanroom/shared/protocol/publication.ts';
import { CiphertextPlaceWriter, type CiphertextPlaces } from '@cleanroom/shared/service/ciphertext-file.ts';

const { material, attributeCount, places } = workerData as { material: BfvPublicMaterial; attributeCount: number; places: CiphertextPlaces };
const ready = BrokerBfv.fromPublicMaterial(material, attributeCount).then((bfv) => ({ bfv, out: new CiphertextPlaceWriter(places) }));
ready.catch(() => undefined); // reported to each batch below

parentPort!.on('message', (m: { id: number; bytes: Uint8Array; lengths: Uint32Array; first: number }) => {
  ready.then(({ bfv, out: stored }) => {
    const n = m.lengths.length;
    const digests = new Uint8Array(32 * n);
    for (let i = 0, at = 0; i < n; at += m.lengths[i]!, i++) {
      const wire = m.bytes.subarray(at, at + m.lengths[i]!);
      try {
        const parts = bfv.storedFormParts(wire);
        const got = parts.reduce((a, p) => a + p.length, 0);
        if (got !== places.length) throw new Error(`a stored form of ${got} bytes, expected ${places.length}`);
        stored.write(m.first + i, parts);
      } catch (err) {
        throw new Error(`ciphertext ${m.first + i}: ${(err as Error).message}`); // SEAL's refusal, or a failed write (ENOSPC)
      }
      digests.set(ciphertextDigest(wire), 32 * i);
    }
    const out = m.bytes;
    out.set(digests, 0);
    parentPort!.postMessage({ id: m.id, ok: true, out }, [out.buffer as ArrayBuffer]);
  }).catch((err: unknown) => parentPort!.postMessage({ id: m.id, ok: false, error: (err as Error).message }));
});
