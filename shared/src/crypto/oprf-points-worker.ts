/**
 * Worker body for oprf-points.ts (PointPool): started with the key, computes X25519(k, H_dst(x))
 * for each batch it is sent ({ id, bytes, offsets, dst }) and posts the packed points back under
 * the same id. The key bytes it was started with are zeroed once the key is loaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OprfKey } from './oprf.ts';
import { sodium } from './group.ts';
import { unpack } from './oprf-tokens.ts';
import { computePoints, packPoints } from './oprf-points.ts';

if (parentPort === null) throw new Error('expected to run as a worker thread, got the main thread');
const port = parentPort;
const { key } = workerData as { key: Uint8Array };
const oprfKey = OprfKey.fromBytes(key);
sodium.sodium_memzero(key);
port.on('message', (m: { id: number; bytes: Uint8Array; offsets: Float64Array; dst: string }) => {
  try {
    const out = packPoints(computePoints(oprfKey, unpack(m.bytes, m.offsets), m.dst));
    port.postMessage({ id: m.id, ok: true, out }, [out.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id: m.id, ok: false, error: (err as Error).message });
  }
});
