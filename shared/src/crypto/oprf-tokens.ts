/**
 * Universe tokens in parallel: token(x) = finalize(x, X25519(k, H_dst(x))) for many IDs,
 * split over worker threads (one-off workers: preparation is an offline, once-per-epoch
 * job, so their ~150 ms start-up does not matter). Same result as the single-thread path
 * in any order of completion; the key is copied to each worker and zeroed there after use.
 */
import { Worker } from 'node:worker_threads';
import { OprfKey, finalize } from './oprf.ts';
import { hashToGroupBatch } from './h2c.ts';
import { TOKEN_BYTES } from './group.ts';

const WORKER_URL = new URL('./oprf-tokens-worker.ts', import.meta.url);

/** Single-thread path (also what each worker runs). */
export function computeTokens(key: OprfKey, inputs: readonly Uint8Array[], dst: string): Uint8Array {
  const out = new Uint8Array(inputs.length * TOKEN_BYTES);
  const CHUNK = 4096;
  for (let s = 0; s < inputs.length; s += CHUNK) {
    const part = inputs.slice(s, s + CHUNK);
    const evaluated = key.evaluateBatch(hashToGroupBatch(part, dst));
    part.forEach((x, k) => out.set(finalize(x, evaluated[k]!), (s + k) * TOKEN_BYTES));
  }
  return out;
}

export async function computeTokensParallel(key: OprfKey, inputs: readonly Uint8Array[], dst: string, threads: number): Promise<Uint8Array> {
  if (threads <= 1 || inputs.length < 20_000) return computeTokens(key, inputs, dst);
  const per = Math.ceil(inputs.length / threads);
  const parts = await Promise.all(Array.from({ length: threads }, (_, t) => {
    const { bytes, offsets } = pack(inputs.slice(t * per, (t + 1) * per));
    return new Promise<Uint8Array>((resolve, reject) => {
      const w = new Worker(WORKER_URL, { workerData: { key: key.toBytes(), bytes, offsets, dst }, transferList: [bytes.buffer as ArrayBuffer, offsets.buffer as ArrayBuffer] });
      w.once('message', (m: { ok: boolean; out?: Uint8Array; error?: string }) => {
        void w.terminate();
        if (m.ok) resolve(m.out!);
        else reject(new Error(`token worker failed: ${m.error}`));
      });
      w.once('error', reject);
    });
  }));
  const out = new Uint8Array(inputs.length * TOKEN_BYTES);
  parts.forEach((p, t) => out.set(p, t * per * TOKEN_BYTES));
  return out;
}

/** Inputs as one buffer and an offset table: one transfer instead of a clone per input. */
export function pack(inputs: readonly Uint8Array[]): { bytes: Uint8Array; offsets: Uint32Array } {
  const offsets = new Uint32Array(inputs.length + 1);
  let total = 0;
  inputs.forEach((x, i) => {
    offsets[i] = total;
    total += x.length;
  });
  offsets[inputs.length] = total;
  const bytes = new Uint8Array(total);
  inputs.forEach((x, i) => bytes.set(x, offsets[i]!));
  return { bytes, offsets };
}

export function unpack(bytes: Uint8Array, offsets: Uint32Array): Uint8Array[] {
  return Array.from({ length: offsets.length - 1 }, (_, i) => bytes.subarray(offsets[i]!, offsets[i + 1]!));
}
