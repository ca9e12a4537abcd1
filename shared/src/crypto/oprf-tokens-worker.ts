/** Worker body for oprf-tokens.ts: computes the tokens of its slice and posts them back. */
import { parentPort, workerData } from 'node:worker_threads';
import { OprfKey } from './oprf.ts';
import { sodium } from './group.ts';
import { computeTokens } from './oprf-tokens.ts';

const { key, inputs, dst } = workerData as { key: Uint8Array; inputs: Uint8Array[]; dst: string };
try {
  const out = computeTokens(OprfKey.fromBytes(key), inputs, dst);
  parentPort!.postMessage({ ok: true, out }, [out.buffer as ArrayBuffer]);
} catch (err) {
  parentPort!.postMessage({ ok: false, error: (err as Error).message });
} finally {
  sodium.sodium_memzero(key);
}
