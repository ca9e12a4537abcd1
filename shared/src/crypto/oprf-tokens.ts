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

/**
 * Byte offsets of inputs laid back to back: offsets[i] is where input i starts, the last
 * entry the total. Float64 (exact to 2^53), not Uint32: a Uint32Array wrapped silently past
 * 4 GiB (≈ 3·10^8 IDs per worker) and gave wrong tokens with no error.
 */
export function offsetsOf(lengths: ArrayLike<number>): Float64Array {
  const offsets = new Float64Array(lengths.length + 1);
  let total = 0;
  for (let i = 0; i < lengths.length; i++) {
    offsets[i] = total;
    total += lengths[i]!;
  }
  offsets[lengths.length] = total;
  if (!Number.isSafeInteger(total)) throw new RangeError(`expected a total below 2^53 bytes, got ${total}`);
  return offsets;
}

/** Inputs as one buffer and an offset table: one transfer instead of a clone per input. */
export function pack(inputs: readonly Uint8Array[]): { bytes: Uint8Array; offsets: Float64Array } {
  const offsets = offsetsOf(inputs.map((x) => x.length));
  const bytes = new Uint8Array(offsets[inputs.length]!);
  inputs.forEach((x, i) => bytes.set(x, offsets[i]!));
  return { bytes, offsets };
}

export function unpack(bytes: Uint8Array, offsets: Float64Array): Uint8Array[] {
  return Array.from({ length: offsets.length - 1 }, (_, i) => bytes.subarray(offsets[i]!, offsets[i + 1]!));
}
