/**
 * Universe tokens in parallel: token(x) = finalize(x, X25519(k, H_dst(x))) for many IDs,
 * split over worker threads (one-off workers: preparation is an offline, once-per-epoch
 * job, so their ~150 ms start-up does not matter). Same result as the single-thread path
 * in any order of completion; the key is copied to each worker and zeroed there after use.
 */
import { OprfKey, finalizeInto } from './oprf.ts';
import { hashToGroupBatch } from './h2c.ts';
import { TOKEN_BYTES } from './group.ts';
import { KeyedWorkers } from './keyed-workers.ts';

const WORKER_URL = new URL('./oprf-tokens-worker.ts', import.meta.url);

/** Single-thread path (also what each worker runs). */
export function computeTokens(key: OprfKey, inputs: readonly Uint8Array[], dst: string): Uint8Array {
  const out = new Uint8Array(inputs.length * TOKEN_BYTES);
  const CHUNK = 4096;
  for (let s = 0; s < inputs.length; s += CHUNK) {
    const part = inputs.slice(s, s + CHUNK);
    const evaluated = key.evaluateBatch(hashToGroupBatch(part, dst));
    for (let k = 0; k < part.length; k++) finalizeInto(out, (s + k) * TOKEN_BYTES, part[k]!, evaluated[k]!);
  }
  return out;
}

export async function computeTokensParallel(key: OprfKey, inputs: readonly Uint8Array[], dst: string, threads: number): Promise<Uint8Array> {
  if (threads <= 1 || inputs.length < 20_000) return computeTokens(key, inputs, dst);
  const pool = new TokenPool(key, threads);
  try {
    return await pool.compute(inputs, dst);
  } finally {
    await pool.close();
  }
}

/**
 * Long-lived token workers for a streaming preparation: started once with the key (copied to
 * each worker, zeroed there when the pool closes), then `compute` any number of batches. A
 * batch is split into one contiguous slice per worker; the result is in input order.
 */
export class TokenPool {
  private readonly workers: KeyedWorkers;

  constructor(key: OprfKey, threads: number) {
    this.workers = new KeyedWorkers(WORKER_URL, key, threads, 'token worker');
  }

  /** Tokens of `inputs` (TOKEN_BYTES each, input order), spread over the pool. */
  async compute(inputs: readonly Uint8Array[], dst: string): Promise<Uint8Array> {
    const { bytes, offsets } = pack(inputs);
    return this.computePacked(bytes, offsets, dst);
  }

  /**
   * The same over inputs already laid back to back (`pack`'s layout: input i is
   * bytes[offsets[i], offsets[i+1])): each worker is sent its contiguous slice, rebased.
   */
  async computePacked(bytes: Uint8Array, offsets: Float64Array, dst: string): Promise<Uint8Array> {
    const count = offsets.length - 1;
    if (count < 0 || offsets[count]! > bytes.length) throw new RangeError(`expected offsets within ${bytes.length} bytes, got ${count < 0 ? 'none' : offsets[count]}`);
    const per = Math.ceil(count / this.workers.size);
    const parts = await Promise.all(Array.from({ length: this.workers.size }, (_, t) => {
      const a = Math.min(count, t * per);
      const b = Math.min(count, (t + 1) * per);
      const base = offsets[a]!;
      return this.workers.run(t, bytes.slice(base, offsets[b]!), Float64Array.from(offsets.subarray(a, b + 1), (o) => o - base), dst);
    }));
    const out = new Uint8Array(count * TOKEN_BYTES);
    parts.forEach((p, t) => out.set(p, t * per * TOKEN_BYTES));
    return out;
  }

  close(): Promise<void> {
    return this.workers.close();
  }
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
