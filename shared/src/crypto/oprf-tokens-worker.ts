/** Worker body for oprf-tokens.ts: computes the tokens of its slice and posts them back. */
import { parentPort, workerData } from 'node:worker_threads';
import { OprfKey } from './oprf.ts';
import { sodium } from './group.ts';
import { computeTokens, unpack } from './oprf-tokens.ts';

const { key, bytes, offsets, dst } = workerData as { key: Uint8Array; bytes: Uint8Array; offsets: Float64Array; dst: string };
try {
  const out = computeTokens(OprfKey.fromBytes(key), unpack(bytes, offsets), dst);
  parentPort!.postMessage({ ok: true, out }, [out.buffer as ArrayBuffer]);
} catch (err) {
  parentPort!.postMessage({ ok: false, error: (err as Error).message });
} finally {
  sodium.sodium_memzero(key);
}
