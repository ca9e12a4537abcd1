/**
 * Typed arrays reused from one call to the next: `f64`, `u32` and `u8` return a view of `n`
 * entries of an array kept under a name, grown (to the next power of two) when a call asks for
 * more. So a computation that runs once per session over arrays of its input's size (a
 * look-alike's selection, an audience's id reads) does not allocate, zero and fault in fresh
 * memory each time (on a virtual machine whose host takes freed memory back, the pages are
 * faulted in again one by one: bench/lookalike-steps.ts). Guarantees:
 * - an array larger than `maxBytes` is allocated for that call alone, never kept: what is kept
 *   stays bounded whatever a session asks;
 * - the contents are whatever the last user left (callers write before they read);
 * - one user at a time: `acquire()` hands out this scratch, or while it is held (an unfinished
 *   generator, a nested call) a fresh one that keeps nothing, and `release()` ends the hold.
 *   Not shared between threads (each worker has its own module state).
 */

type Kind = 'f64' | 'u32' | 'u8';
const BYTES: Record<Kind, number> = { f64: 8, u32: 4, u8: 1 };

export class Scratch {
  private readonly kept = new Map<string, Float64Array | Uint32Array | Uint8Array>();
  private held = false;
  private readonly maxBytes: number;
  /** `maxBytes`: the largest array kept (0: none kept, every array is the call's own). */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** This scratch, held until release(); or, while it is held, a new one that keeps nothing. */
  acquire(): Scratch {
    if (this.held) return new Scratch(0);
    this.held = true;
    return this;
  }

  release(): void {
    this.held = false;
  }

  f64(name: string, n: number): Float64Array {
    return this.get(name, 'f64', n) as Float64Array;
  }

  u32(name: string, n: number): Uint32Array {
    return this.get(name, 'u32', n) as Uint32Array;
  }

  u8(name: string, n: number): Uint8Array {
    return this.get(name, 'u8', n) as Uint8Array;
  }

  /** Writes every kept array, so that its pages are the process's before a session needs them. */
  touch(): void {
    for (const a of this.kept.values()) a.fill(0);
  }

  /** Bytes kept. */
  get bytes(): number {
    let b = 0;
    for (const a of this.kept.values()) b += a.byteLength;
    return b;
  }

  private get(name: string, kind: Kind, n: number): Float64Array | Uint32Array | Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`scratch ${name}: expected a length ≥ 0, got ${n}`);
    const key = `${kind}:${name}`;
    const have = this.kept.get(key);
    if (have && have.length >= n) return have.subarray(0, n);
    if (n * BYTES[kind] > this.maxBytes) return make(kind, n);
    const a = make(kind, Math.min(Math.floor(this.maxBytes / BYTES[kind]), n === 0 ? 0 : 2 ** Math.ceil(Math.log2(n))));
    this.kept.set(key, a);
    return a.subarray(0, n);
  }
}

function make(kind: Kind, n: number): Float64Array | Uint32Array | Uint8Array {
  return kind === 'f64' ? new Float64Array(n) : kind === 'u32' ? new Uint32Array(n) : new Uint8Array(n);
}
