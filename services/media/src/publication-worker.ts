/**
 * Worker body for publication-workers.ts: started with the publication's BFV secret key and
 * public material (workerData), encrypts each batch of users it is sent ({ id, bytes, users }:
 * their packed vectors in position order) with encryptPackedUsers — exactly what publish() does
 * on the main thread — and posts the ciphertexts back under the same id in one buffer: a u32
 * count, a u32 length per ciphertext (little-endian), then the ciphertexts back to back.
 * The secret key bytes it was started with are zeroed once the key is loaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MediaBfv, type BfvPublicMaterial } from '@cleanroom/shared/crypto/bfv.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { encryptPackedUsers } from '@cleanroom/shared/protocol/publication.ts';

const { secretKey, material } = workerData as { secretKey: Uint8Array; material: BfvPublicMaterial };
const ready = MediaBfv.restore(ATTRIBUTE_COUNT, secretKey, material).finally(() => secretKey.fill(0));
ready.catch(() => undefined); // reported to each job below

parentPort!.on('message', (m: { id: number; bytes: Uint8Array; users: number }) => {
  ready.then((bfv) => {
    const cts = encryptPackedUsers(bfv, m.bytes, m.users);
    const out = new Uint8Array(4 + 4 * cts.length + cts.reduce((a, c) => a + c.length, 0));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, cts.length, true);
    let at = 4 + 4 * cts.length;
    cts.forEach((c, i) => {
      dv.setUint32(4 + 4 * i, c.length, true);
      out.set(c, at);
      at += c.length;
    });
    parentPort!.postMessage({ id: m.id, ok: true, out }, [out.buffer as ArrayBuffer]);
  }).catch((err: unknown) => parentPort!.postMessage({ id: m.id, ok: false, error: (err as Error).message }));
});
