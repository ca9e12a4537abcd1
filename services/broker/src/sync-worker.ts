/**
 * Worker body for sync-workers.ts: started with media's public BFV material of the publication
 * being synced and the path of the download's ciphertext file (workerData), turns each batch of
 * media's wire ciphertexts it is sent ({ id, bytes, lengths, first }: back to back, the first
 * being ciphertext `first` of the publication) into the broker's stored form with
 * BrokerBfv.storedFormParts — the validation and NTT the sync does on its own thread without
 * workers — and writes each straight from SEAL's memory at its place in the file, c × the
 * fixed stored length (storedFormLength: a positioned vectored write, no copy), and posts back
 * under the same id the batch's own buffer, its first 32 bytes per ciphertext now holding their
 * SHA-256 digests (ciphertextDigest of each wire ciphertext, taken before it is overwritten):
 * the buffer goes back and forth, not a fresh one per batch. An invalid ciphertext fails the
 * batch with its index and SEAL's reason.
 */
import { openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { BrokerBfv, type BfvPublicMaterial } from '@cleanroom/shared/crypto/bfv.ts';
import { ciphertextDigest } from '@cleanroom/shared/protocol/publication.ts';
import { writevFully } from '@cleanroom/shared/service/ciphertext-file.ts';

const { material, attributeCount, path } = workerData as { material: BfvPublicMaterial; attributeCount: number; path: string };
const ready = BrokerBfv.fromPublicMaterial(material, attributeCount).then((bfv) => ({ bfv, length: bfv.storedFormLength(), fd: openSync(path, 'r+') }));
ready.catch(() => undefined); // reported to each batch below

parentPort!.on('message', (m: { id: number; bytes: Uint8Array; lengths: Uint32Array; first: number }) => {
  ready.then(({ bfv, length, fd }) => {
    const n = m.lengths.length;
    const digests = new Uint8Array(32 * n);
    for (let i = 0, at = 0; i < n; at += m.lengths[i]!, i++) {
      const wire = m.bytes.subarray(at, at + m.lengths[i]!);
      let parts;
      try {
        parts = bfv.storedFormParts(wire);
      } catch (err) {
        throw new Error(`ciphertext ${m.first + i}: ${(err as Error).message}`);
      }
      const got = parts.reduce((a, p) => a + p.length, 0);
      if (got !== length) throw new Error(`ciphertext ${m.first + i}: a stored form of ${got} bytes, expected ${length}`);
      writevFully(fd, parts, (m.first + i) * length);
      digests.set(ciphertextDigest(wire), 32 * i);
    }
    const out = m.bytes;
    out.set(digests, 0);
    parentPort!.postMessage({ id: m.id, ok: true, out }, [out.buffer as ArrayBuffer]);
  }).catch((err: unknown) => parentPort!.postMessage({ id: m.id, ok: false, error: (err as Error).message }));
});
