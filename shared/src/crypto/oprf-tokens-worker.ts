/**
 * Worker body for oprf-tokens.ts (TokenPool): started with the key, computes the tokens of
 * each batch it is sent ({ id, bytes, offsets, dst }) and posts them back under the same id,
 * followed by the batch's OPRF points (one buffer: n tokens, then n points).
 * The key bytes it was started with are zeroed once the key is loaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OprfKey } from './oprf.ts';
import { ELEMENT_BYTES, sodium, TOKEN_BYTES } from './group.ts';
import { computeTokens, unpack } from './oprf-tokens.ts';

const { key } = workerData as { key: Uint8Array };
const oprfKey = OprfKey.fromBytes(key);
sodium.sodium_memzero(key);
parentPort!.on('message', (m: { id: number; bytes: Uint8Array; offsets: Float64Array; dst: string }) => {
  try {
    const inputs = unpack(m.bytes, m.offsets);
    const out = new Uint8Array(inputs.length * (TOKEN_BYTES + ELEMENT_BYTES));
    out.set(computeTokens(oprfKey, inputs, m.dst, out.subarray(inputs.length * TOKEN_BYTES)), 0);
    parentPort!.postMessage({ id: m.id, ok: true, out }, [out.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: m.id, ok: false, error: (err as Error).message });
  }
});
