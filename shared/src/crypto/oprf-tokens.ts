/**
 * Universe tokens in parallel: token(x) = finalize(x, X25519(k, H_dst(x))) for many IDs,
 * split over worker threads (one-off workers: preparation is an offline, once-per-epoch
 * job, so their ~150 ms start-up does not matter). Same result as the single-thread path
 * in any order of completion; the key is copied to each worker and zeroed there after use.
 *
 * The pool also returns each ID's OPRF point X25519(k, H_dst(x)) — the value its token is
 * finalised from, which media keeps for its label publication (crypto/label-box.ts,
 * services/media/src/universe-points.ts) — at no extra hash to group or X25519: it is the
 * same evaluation, copied out (ELEMENT_BYTES per ID).
 */
import { OprfKey, finalizeInto } from './oprf.ts';
import { hashToGroupBatch } from './h2c.ts';
import { ELEMENT_BYTES, TOKEN_BYTES, type ElementBytes } from './group.ts';
import { KeyedWorkers } from './keyed-workers.ts';

const WORKER_URL = new URL('./oprf-tokens-worker.ts', import.meta.url);

/** The OPRF points X25519(key, H_dst(x)) of `inputs` on the calling thread: what a token is finalised from. */
export function computePoints(key: OprfKey, inputs: readonly Uint8Array[], dst: string): ElementBytes[] {
  return key.evaluateBatch(hashToGroupBatch(inputs, dst));
}

/**
 * Single-thread path (also what each worker runs): TOKEN_BYTES per input, input order; when
 * `points` is given (ELEMENT_BYTES per input), each input's OPRF point is copied there too.
 */
export function computeTokens(key: OprfKey, inputs: readonly Uint8Array[], dst: string, points?: Uint8Array): Uint8Array {
  if (points && points.length !== inputs.length * ELEMENT_BYTES) throw new RangeError(`expected ${inputs.length * ELEMENT_BYTES} point bytes, got ${points.length}`);
  const out = new Uint8Array(inputs.length * TOKEN_BYTES);
  const CHUNK = 4096;
  for (let s = 0; s < inputs.length; s += CHUNK) {
    const part = inputs.slice(s, s + CHUNK);
    const evaluated = computePoints(key, part, dst);
    for (let k = 0; k < part.length; k++) {
      finalizeInto(out, (s + k) * TOKEN_BYTES, part[k]!, evaluated[k]!);
      points?.set(evaluated[k]!, (s + k) * ELEMENT_BYTES);
    }
  }
  return out;
}

/** A batch's tokens (TOKEN_BYTES each) and OPRF points (ELEMENT_BYTES each), input order. */
export interface TokenBatch {
  tokens: Uint8Array;
  points: Uint8Array;
}

export async function computeTokensParallel(key: OprfKey, inputs: readonly Uint8Array[], dst: string, threads: number): Promise<Uint8Array> {
  if (threads <= 1 || inputs.length < 20_000) return computeTokens(key, inputs, dst);
  const pool = new TokenPool(key, threads);
  try {
    return (await pool.compute(inputs, dst)).tokens;
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

  /** Tokens and points of `inputs` (input order), spread over the pool. */
  async compute(inputs: readonly Uint8Array[], dst: string): Promise<TokenBatch> {
    const { bytes, offsets } = pack(inputs);
    return this.computePacked(bytes, offsets, dst);
  }

  /**
   * The same over inputs already laid back to back (`pack`'s layout: input i is
   * bytes[offsets[i], offsets[i+1])): each worker is sent its contiguous slice, rebased.
   */
  async computePacked(bytes: Uint8Array, offsets: Float64Array, dst: string): Promise<TokenBatch> {
    const count = offsets.length - 1;
    if (count < 0 || offsets[count]! > bytes.length) throw new RangeError(`expected offsets within ${bytes.length} bytes, got ${count < 0 ? 'none' : offsets[count]}`);
    const per = Math.ceil(count / this.workers.size);
    const parts = await Promise.all(Array.from({ length: this.workers.size }, (_, t) => {
      const a = Math.min(count, t * per);
      const b = Math.min(count, (t + 1) * per);
      const base = offsets[a]!;
      return this.workers.run(t, bytes.slice(base, offsets[b]!), Float64Array.from(offsets.subarray(a, b + 1), (o) => o - base), dst);
    }));
    // each worker answers its slice's tokens then its points (oprf-tokens-worker.ts)
    const tokens = new Uint8Array(count * TOKEN_BYTES);
    const points = new Uint8Array(count * ELEMENT_BYTES);
    parts.forEach((p, t) => {
      const n = Math.min(count, (t + 1) * per) - Math.min(count, t * per);
      if (p.length !== n * (TOKEN_BYTES + ELEMENT_BYTES)) throw new Error(`expected ${n} tokens and points from token worker ${t}, got ${p.length} bytes`);
      tokens.set(p.subarray(0, n * TOKEN_BYTES), t * per * TOKEN_BYTES);
      points.set(p.subarray(n * TOKEN_BYTES), t * per * ELEMENT_BYTES);
    });
    return { tokens, points };
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
