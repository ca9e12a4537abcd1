/**
 * BFV cohort profile: media (B) encrypts its users' binary attribute vectors under its own key;
 * the broker (C) sums the vectors of A's real users homomorphically and returns ONE ciphertext
 * (the "profile") from which B decrypts only the per-attribute totals (+ C's noise).
 *
 * Scheme and parameters (fixed; both sides build the same context and C rejects any other):
 *   BFV (Microsoft SEAL 4.1 via node-seal 7), N = 8192, coefficient modulus 60+49+49+60 bits
 *   (218 bits: the 128-bit bound of the HomomorphicEncryption.org standard for N = 8192; the
 *   last 60-bit prime is SEAL's special key-switching prime, so ciphertexts live on 60+49+49 =
 *   158 bits and the last level is the single 60-bit prime), plain modulus t = 33538049, a
 *   25-bit batching prime (t ≡ 1 mod 2N). SEALContext is built with SecLevelType.tc128 and
 *   refuses anything weaker: 128-bit classical security under RLWE.
 *
 * Slot layout (BatchEncoder: 8192 slots = a 2 × 4096 matrix, slot i < 4096 is row 0):
 *   block = next power of two ≥ attributeCount (64 → 64), usersPerCiphertext = 8192 / block
 *   (64 → 128). User u of a ciphertext occupies slots [u·block, u·block + block): attribute j in
 *   slot u·block + j, slots attributeCount..block-1 of a block are zero; users 0..63 in row 0,
 *   64..127 in row 1 (for block 64). Unused user positions (the tail of the last ciphertext) are
 *   zero. Global position of a user = ciphertextIndex · usersPerCiphertext + u.
 *
 * Aggregation at C (BrokerBfv.aggregate):
 *   1. per ciphertext: skipped (not even parsed) when none of its positions is real; used as is
 *      when all usersPerCiphertext positions are real (and block = attributeCount); otherwise
 *      multiplyPlain by a 0/1 mask that is 1 on the attribute slots of the real users. Sum all.
 *      Computed as the same sum with fewer products: the ciphertexts are summed per user slot
 *      first and each slot's sum masked once (exact in NTT form; GROUPED_MAX below).
 *   2. rotate-and-sum: rotateRows by block, 2·block, …, 2048 (sums the blocks of each row), then
 *      rotateColumns (sums the two rows): every block then holds the totals over real users.
 *   3. add C's noise (integers, may be negative) as a plaintext replicated into every block.
 *   4. re-randomize (add a fresh public-key encryption of zero) and modulus-switch to the last
 *      level. Switching from q (158 bits) to q_last (60 bits) scales the data-dependent noise —
 *      which depends on the masks, i.e. on which positions are real — down by ≈ q/q_last
 *      (≈ 2^98) and adds fresh rounding noise that is far larger than what remains of it
 *      (measured: budget 84 bits before the switch for 300 masked ciphertexts, 27 after —
 *      the same as a fresh encryption switched down, whatever the mask).
 *      This is a HEURISTIC circuit-privacy measure against a media node that studies the
 *      ciphertext noise to learn the mask; it is not a proof (no noise flooding with a
 *      statistical bound, no bootstrapping-based sanitization). It also shrinks the profile
 *      (one prime instead of three: ≈ 131 KB instead of ≈ 360 KB). The test suite checks that
 *      the profile's noise budget does not depend on the mask.
 *   Galois keys: only the row steps block·2^i < 4096 and the column rotation (SEAL: step 0 in
 *   create_galois_keys(steps) = Galois element 2N−1), seed-compressed: ≈ 5 MB for 64
 *   attributes instead of the ≈ 52 MB full set.
 *
 * Decoding: decodeBigInt64 gives the centred representation (values > t/2 are negative), so
 *   negative noise works. aggregate requires keptCount + |noise_j| ≤ (t−1)/2 for every j, so
 *   totals (≤ kept count, padded cohort ≤ 10^6) plus noise never wrap.
 *
 * What each party learns:
 *   - C: nothing about attributes — it holds only B's public key and Galois keys, never
 *     decrypts (IND-CPA under RLWE). It learns ciphertext counts and sizes (i.e. the padded
 *     list size, which it chose anyway).
 *   - B: the profile: totals over the real users + noise, identical in every block; the other
 *     slots of a block (padding) hold the sum of what B itself put there (zero if honest).
 *     Assumes a semi-honest B: a B that encrypts non-binary, user-specific weights (e.g. 2^u)
 *     learns the keep set from the totals — C cannot check plaintext ranges (no ZK proofs), and
 *     a degenerate public key weakens the re-randomization. The cohort-size threshold is
 *     enforced outside this module.
 *
 * Untrusted bytes (params, keys, ciphertexts) are size-capped and loaded inside try/catch:
 * malformed, truncated, oversized or other-parameter inputs throw BfvFormatError; loaded ciphertexts are checked
 * by SEAL's is_valid_for (inside load) and here for size 2, non-NTT form and the expected level.
 *
 * Thread-safety: the SEAL runtime is one WebAssembly instance per JS realm (memoised by
 * loadSeal); every method is synchronous, so calls never interleave on one event loop. Worker
 * threads each load their own runtime. Instances must be dispose()d: WASM memory has no GC;
 * every SEAL object created here is freed with .delete() before the call returns.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import SEAL from 'node-seal';
import type {
  BatchEncoder,
  Ciphertext,
  ClassHandle,
  Decryptor,
  EncryptionParameters,
  Encryptor,
  Evaluator,
  GaloisKeys,
  KeyGenerator,
  MainModule,
  ParmsIdType,
  Plaintext,
  PublicKey,
  SEALContext,
  SecretKey,
} from 'node-seal';
import { countBfv, countPrimitive, opCounts, primitiveSnapshot, restorePrimitiveCounts, uncounted } from '../common/op-counts.ts';

/** The node-seal runtime (Emscripten module) with its exception helpers. */
export type SealRuntime = MainModule & {
  getExceptionMessage?: (e: unknown) => [string, string];
  decrementExceptionRefcount?: (e: unknown) => void;
};

/** Serialized SEAL object (saveToArray; zstd, or none for media's ciphertexts: WIRE_COMPRESSION). */
export type BfvBytes = Uint8Array;

/** The fixed parameters of this module (documentation and reporting). */
export const BFV_PARAMETERS = Object.freeze({
  scheme: 'bfv',
  polyModulusDegree: 8192,
  coeffModulusBits: Object.freeze([60, 49, 49, 60]),
  plainModulusBits: 25,
  securityLevel: 128,
});

/**
 * Serialization of media's ciphertexts on the wire (encryptUsers, encryptIndicators): SEAL's
 * seed-compressed form without zstd. Measured (bench/publication-steps.ts): zstd shrinks a
 * 128-user ciphertext only from 196,802 to ≈ 182,300 bytes (−7 %: the coefficients are uniform
 * mod 49–60-bit primes, so only the top bits of each 64-bit word compress) but costs media
 * ≈ 0.3 ms to compress and the broker ≈ 1.2 ms to decompress per ciphertext — more than the
 * NTT the broker's sync is floored on. Loading accepts either form (SEAL's header names it), so
 * zstd ciphertexts from an older media still load. Keys and parameters stay zstd (sent once).
 */
export const WIRE_COMPRESSION = 'none' as const;

const N = BFV_PARAMETERS.polyModulusDegree;
// MediaBfv.decryptSlotSum adds N slots below t in doubles: exact only while N · t < 2^53.
if (BFV_PARAMETERS.plainModulusBits + Math.log2(N) > 53) throw new Error(`bfv: N · t must stay below 2^53 (slot sums in doubles), got 2^${BFV_PARAMETERS.plainModulusBits + Math.log2(N)}`);

/**
 * Aggregation sums per user slot before masking: masking is linear and exact in NTT form
 * (Σ_c ct_c ⊙ m_u = (Σ_c ct_c) ⊙ m_u, slot-wise mod q), so every ciphertext whose real users
 * sit in slot u is added into one running sum for u, and each sum is masked once — at most
 * usersPerCiphertext products per aggregation instead of one per real user (a session's typical
 * ciphertext holds one real user). The slots are summed one after another into ONE running sum
 * (a first-level ciphertext, ≈ 393 KB of WebAssembly memory; its first ciphertext read straight
 * into it), so a ciphertext with real users in k slots is loaded k times. Holding 32 slots' sums
 * at once instead (the former SLOT_WINDOW: 12.6 MB) loaded about as many (a session's ciphertext
 * holds one real user, seldom two, and two users in different windows were loaded twice too) but
 * copied each slot's first ciphertext into its sum and added into sums spread over 12.6 MB: the
 * aggregation of 2,040 random positions of the 10^6-user bench publication took ≈ 7 % more CPU
 * (medians 304–405 → 281–294 ms, paired, loaded machine). A ciphertext with
 * more than GROUPED_MAX real users is masked once with a mask built for its list (a batch
 * encoding and a plaintext NTT) instead.
 */
const GROUPED_MAX = 16;
/** BrokerBfv.warmAggregate: positions per warm-up aggregation, and indicator ciphertexts for the warm-up joint sum. */
const WARM_POSITIONS = 1024;
const WARM_INDICATORS = 4;
const ROW = N / 2;

let sealPromise: Promise<SealRuntime> | undefined;
/** The little of the WebAssembly API used here (the project's TypeScript lib has no DOM types). */
interface WasmMemory { readonly buffer: ArrayBuffer }
const Wasm = (globalThis as unknown as { WebAssembly: {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> }; module: unknown }>;
  Memory: abstract new (...args: never[]) => WasmMemory;
} }).WebAssembly;
/** The runtime's linear memory (captured when it is instantiated): its size is sealHeapBytes(). */
let sealMemory: WasmMemory | undefined;

/**
 * The SEAL WebAssembly runtime, loaded once per process (a failed load is retried next call).
 * It is instantiated here (Emscripten's instantiateWasm hook) so that its linear memory is
 * known: WASM memory only grows, so a SEAL object left undeleted per ciphertext would show as
 * growth of sealHeapBytes() (and, past 4 GiB, as a failed allocation).
 */
export function loadSeal(): Promise<SealRuntime> {
  if (sealPromise === undefined) {
    sealPromise = new Promise<SealRuntime>((resolve, reject) => {
      const instantiateWasm = (imports: object, done: (instance: unknown, module: unknown) => void): object => {
        const wasm = new URL('seal_throws.wasm', import.meta.resolve('node-seal'));
        readFile(wasm)
          .then((bytes) => Wasm.instantiate(bytes, imports))
          .then(({ instance, module }) => {
            sealMemory = Object.values(instance.exports).find((e): e is WasmMemory => e instanceof Wasm.Memory);
            done(instance, module);
          })
          .catch(reject);
        return {};
      };
      (SEAL as unknown as (o: object) => Promise<SealRuntime>)({ instantiateWasm }).then(resolve, reject);
    }).catch((e: unknown) => {
      sealPromise = undefined;
      throw e;
    });
  }
  return sealPromise;
}

/** Bytes of this realm's SEAL WebAssembly memory (0 before the runtime is loaded). It never shrinks. */
export function sealHeapBytes(): number {
  return sealMemory?.buffer.byteLength ?? 0;
}

/**
 * Where SEAL keeps a Ciphertext's coefficients, to copy its serialized form out of the
 * WebAssembly memory without Ciphertext.saveToArray: node-seal's save goes through a string
 * stream, a string and a vector before it copies into a fresh JS array (≈ 0.5–1.3 ms of CPU for
 * a 393 KB stored ciphertext, about as much as the NTT itself). SEAL's uncompressed form of a
 * ciphertext is a header that depends only on its metadata (parameters id, NTT flag, size,
 * degree, moduli count, scale, correction factor) followed by its coefficients exactly as they
 * lie in memory (one contiguous DynArray). `locate` finds, once, the byte offset inside the
 * Ciphertext object at which the pointer to those coefficients is kept — by comparing with
 * SEAL's own save of the same ciphertext, so an offset is only ever used after it was checked
 * against SEAL's output; undefined (fall back to saveToArray) when no offset matches.
 */
class CoefficientLocator {
  private offset: number | null | undefined;

  /** The handle's object address in WebAssembly memory (Embind's pointer). */
  static address(ct: Ciphertext): number | undefined {
    const ptr = (ct as unknown as { $$?: { ptr?: unknown } }).$$?.ptr;
    return typeof ptr === 'number' && Number.isInteger(ptr) && ptr > 0 ? ptr : undefined;
  }

  /** A view of ct's coefficient bytes (`bytes` long) in WebAssembly memory, valid until the next SEAL call; undefined if not located. */
  view(ct: Ciphertext, bytes: number, saved: () => Uint8Array): Uint8Array | undefined {
    const mem = sealMemory?.buffer;
    const at = CoefficientLocator.address(ct);
    if (mem === undefined || at === undefined || this.offset === null) return undefined;
    if (this.offset === undefined) {
      this.offset = CoefficientLocator.find(mem, at, bytes, saved());
      if (this.offset === null) return undefined;
    }
    const words = new Uint32Array(mem, at + this.offset, 1);
    const data = words[0]!;
    if (data === 0 || data + bytes > mem.byteLength) return undefined;
    return new Uint8Array(mem, data, bytes);
  }

  /** The one offset within the first 256 bytes of the object whose pointer leads to `saved`'s last `bytes`, or null. */
  private static find(mem: ArrayBuffer, at: number, bytes: number, saved: Uint8Array): number | null {
    if (saved.length < bytes) return null;
    const want = Buffer.from(saved.buffer, saved.byteOffset + saved.length - bytes, bytes);
    const heap = new Uint8Array(mem);
    const found: number[] = [];
    for (let off = 0; off < 256 && at + off + 4 <= heap.length; off += 4) {
      const p = new DataView(mem).getUint32(at + off, true);
      if (p === 0 || p + bytes > heap.length) continue;
      if (Buffer.from(mem, p, bytes).equals(want)) found.push(off);
    }
    return found.length === 1 ? found[0]! : null;
  }
}

/** `alloc(bytes)` (checked to be exactly `bytes` long), or a fresh array. */
function sized(alloc: ((bytes: number) => Uint8Array) | undefined, bytes: number): Uint8Array {
  if (alloc === undefined) return new Uint8Array(bytes);
  const out = alloc(bytes);
  if (!(out instanceof Uint8Array) || out.length !== bytes) throw new RangeError(`expected alloc(${bytes}) to return ${bytes} bytes, got ${out instanceof Uint8Array ? out.length : typeof out}`);
  return out;
}

/** `wire` itself, or copied into `alloc(wire.length)` when given. */
function placed(wire: Uint8Array, alloc: ((bytes: number) => Uint8Array) | undefined): Uint8Array {
  if (alloc === undefined) return wire;
  const out = sized(alloc, wire.length);
  out.set(wire);
  return out;
}

/** Every Node target is little-endian; checked, so that fillIndicatorSlots never writes a wrong slot. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Slot i ← bits[first + i] (0 or 1, already checked) for i < min(N, bits.length − first), into
 * `slots` (zeroed): the low 32-bit word of each 64-bit slot written as a number — no BigInt per
 * slot (a BigInt64Array store of 1n costs a BigInt conversion; ≈ 8,192 per ciphertext).
 */
function fillIndicatorSlots(bits: Uint8Array, first: number, slots: BigInt64Array): void {
  const end = Math.min(first + N, bits.length);
  if (!LITTLE_ENDIAN) {
    for (let i = first; i < end; i++) if (bits[i] === 1) slots[i - first] = 1n;
    return;
  }
  const words = new Uint32Array(slots.buffer, slots.byteOffset, slots.length * 2);
  for (let i = first, w = 0; i < end; i++, w += 2) words[w] = bits[i]!;
}

/**
 * Media's wire form of a fresh seed-compressed ciphertext (Encryptor.encryptSymmetricSerializable,
 * saved uncompressed: WIRE_COMPRESSION) copied out of the WebAssembly memory, without
 * SerializableCiphertext.saveToArray — which goes through a string stream, a string and a vector
 * before copying into a fresh JS array (≈ 0.5 ms of CPU and ≈ 0.6 MB of garbage per 197 KB
 * ciphertext: about an eighth of media's encryption). SEAL saves such a ciphertext as a header
 * that depends only on its metadata (SEAL header, parameters id, NTT flag, size, degree, moduli
 * count, scale, correction factor, the coefficient array's header), then the coefficients of its
 * first polynomial exactly as they lie in memory, then the seed of the second (SEAL keeps it in
 * the second polynomial's place, after an all-ones marker word). `copy` finds, from SEAL's own
 * save of the first ciphertext it is given, where the Serializable object keeps the pointer to
 * those coefficients, the header bytes and the seed's length — and checks, on that ciphertext,
 * that the bytes it assembles equal SEAL's, byte for byte; it returns undefined (the caller saves
 * with SEAL) whenever they do not, no single layout matches, or a ciphertext lacks the seed marker.
 */
export class SeededWireForm {
  /** Where the coefficients' pointer sits in the object, SEAL's header bytes and the seed's length; null: never (SEAL's save every time). */
  private layout: { offset: number; head: Uint8Array; tail: number } | null | undefined;
  /** Bytes of the first polynomial's coefficients (moduli × N words of 8 bytes). */
  private readonly polyBytes: number;

  constructor(moduli: number) {
    this.polyBytes = moduli * N * 8;
  }

  /** True once a layout was found and checked (tests). */
  get located(): boolean {
    return this.layout !== undefined && this.layout !== null;
  }

  /**
   * The wire bytes of `sct` (a fresh array, the caller's), or undefined: save it with SEAL.
   * `saved` is SEAL's save of `sct`, called on the first ciphertext only (to find and check the layout).
   */
  copy(sct: ClassHandle, saved: () => Uint8Array, alloc?: (bytes: number) => Uint8Array): Uint8Array | undefined {
    if (this.layout === null) return undefined;
    const mem = sealMemory?.buffer;
    const at = CoefficientLocator.address(sct as unknown as Ciphertext);
    if (mem === undefined || at === undefined) return undefined;
    if (this.layout === undefined) {
      const want = saved();
      this.layout = SeededWireForm.find(mem, at, this.polyBytes, want);
      if (this.layout === null) return undefined;
      const got = this.assemble(mem, at, this.layout);
      if (got === undefined || !Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length))) {
        this.layout = null;
        return undefined;
      }
      return placed(got, alloc);
    }
    return this.assemble(mem, at, this.layout, alloc);
  }

  private assemble(mem: ArrayBuffer, at: number, l: { offset: number; head: Uint8Array; tail: number }, alloc?: (bytes: number) => Uint8Array): Uint8Array | undefined {
    const p = new DataView(mem).getUint32(at + l.offset, true);
    const c = this.polyBytes;
    if (p === 0 || p + c + 8 + l.tail > mem.byteLength) return undefined;
    const heap = new Uint8Array(mem);
    for (let i = p + c; i < p + c + 8; i++) if (heap[i] !== 0xff) return undefined; // not seed-compressed
    const out = sized(alloc, l.head.length + c + l.tail);
    out.set(l.head, 0);
    out.set(heap.subarray(p, p + c), l.head.length);
    out.set(heap.subarray(p + c + 8, p + c + 8 + l.tail), l.head.length + c);
    return out;
  }

  /** The one pointer within the first 256 bytes of the object whose coefficients, marker and seed give `saved`, or null. */
  private static find(mem: ArrayBuffer, at: number, c: number, saved: Uint8Array): { offset: number; head: Uint8Array; tail: number } | null {
    const heap = new Uint8Array(mem);
    const view = new DataView(mem);
    const savedBuf = Buffer.from(saved.buffer, saved.byteOffset, saved.length);
    const found: { offset: number; head: Uint8Array; tail: number }[] = [];
    for (let off = 0; off < 256 && at + off + 4 <= heap.length; off += 4) {
      const p = view.getUint32(at + off, true);
      if (p === 0 || p + c + 8 > heap.length) continue;
      const coeffs = Buffer.from(mem, p, c);
      // the header is short (≈ 113 bytes): look for the coefficients within the first KiB
      for (let h = 0; h <= Math.min(1024, saved.length - c); h++) {
        if (!coeffs.equals(savedBuf.subarray(h, h + c))) continue;
        const tail = saved.length - h - c;
        if (tail > 256 || p + c + 8 + tail > heap.length) continue;
        if (Buffer.from(mem, p + c + 8, tail).equals(savedBuf.subarray(h + c)) && heap.subarray(p + c, p + c + 8).every((b) => b === 0xff)) {
          found.push({ offset: off, head: saved.slice(0, h), tail });
        }
      }
    }
    return found.length === 1 ? found[0]! : null;
  }
}

/** Untrusted bytes that are not a valid SEAL object for this module's parameters. */
export class BfvFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BfvFormatError';
  }
}

export interface BfvLayout {
  /** Slots per ciphertext (N). */
  slots: number;
  attributeCount: number;
  /** Slots per user: next power of two ≥ attributeCount. */
  block: number;
  /** slots / block. */
  usersPerCiphertext: number;
}

export function layoutFor(attributeCount: number): BfvLayout {
  if (!Number.isInteger(attributeCount) || attributeCount < 1 || attributeCount > ROW) {
    throw new RangeError(`expected attributeCount an integer in [1, ${ROW}], got ${String(attributeCount)}`);
  }
  let block = 1;
  while (block < attributeCount) block *= 2;
  return Object.freeze({ slots: N, attributeCount, block, usersPerCiphertext: N / block });
}

/** What B sends to C: the parameters, the public key and the few Galois keys aggregation needs. */
export interface BfvPublicMaterial {
  params: BfvBytes;
  publicKey: BfvBytes;
  galoisKeys: BfvBytes;
}

/** Row rotation steps for rotate-and-sum: block, 2·block, …, ROW/2. */
function rowSteps(layout: BfvLayout): number[] {
  const steps: number[] = [];
  for (let s = layout.block; s < ROW; s *= 2) steps.push(s);
  return steps;
}

/** SEAL's Galois element for a left row rotation by `step` (3^step mod 2N), column = 2N−1. */
function galoisElement(step: number): number {
  if (step === 0) return 2 * N - 1;
  let e = 1;
  for (let i = 0; i < step; i++) e = (e * 3) % (2 * N);
  return e;
}

function sealMessage(seal: SealRuntime, e: unknown): string {
  // C++ exceptions arrive as WebAssembly.Exception objects (not Error instances).
  if (!(e instanceof Error) && typeof e === 'object' && e !== null && seal.getExceptionMessage !== undefined) {
    try {
      const [type, message] = seal.getExceptionMessage(e);
      seal.decrementExceptionRefcount?.(e);
      return `${type}: ${message}`;
    } catch {
      return 'SEAL exception';
    }
  }
  return e instanceof Error ? e.message : String(e);
}

function sameParmsId(a: ParmsIdType, b: ParmsIdType): boolean {
  return sameParmsValues(a.values() as BigUint64Array, b.values() as BigUint64Array);
}

function sameParmsValues(x: BigUint64Array, y: BigUint64Array): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Upper bounds on untrusted serialized sizes (uncompressed worst case plus headroom): a
 * first-level ciphertext is 2 × 3 × 8192 × 8 B = 384 KiB, a public key 2 × 4 × 8192 × 8 B =
 * 512 KiB, the Galois keys for block 1 (12 row steps + column) ≈ 20 MiB.
 */
const MAX_BYTES = Object.freeze({ params: 4096, ciphertext: 1 << 20, publicKey: 2 << 20, secretKey: 1 << 20, galoisKeys: 64 << 20 });

function expectBytes(what: string, value: unknown, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new BfvFormatError(`expected ${what} as Uint8Array, got ${value === null ? 'null' : typeof value}`);
  }
  if (value.length === 0) throw new BfvFormatError(`expected ${what} as non-empty bytes, got 0 bytes`);
  if (value.length > max) throw new BfvFormatError(`expected ${what} of at most ${max} bytes, got ${value.length}`);
  // node-seal wants a plain Uint8Array: a Buffer (or other subclass) is viewed as one over the
  // same bytes, not copied (the broker's sync gets every ciphertext as a Buffer view into its
  // message: a copy was a fresh ≈ 197 KB array per ciphertext).
  return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** Frees SEAL handles in reverse order of registration. */
class Handles {
  private readonly list: ClassHandle[] = [];
  add<T extends ClassHandle>(h: T): T {
    this.list.push(h);
    return h;
  }
  free(): void {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const h = this.list[i]!;
      if (!h.isDeleted()) h.delete();
    }
    this.list.length = 0;
  }
}

/** SEAL context, encoder and evaluator for the fixed parameters; shared by both roles. */
class BfvContext {
  readonly seal: SealRuntime;
  readonly layout: BfvLayout;
  readonly context: SEALContext;
  readonly encoder: BatchEncoder;
  readonly evaluator: Evaluator;
  /** Plain modulus t. */
  readonly t: bigint;
  readonly handles = new Handles();
  private readonly parms: EncryptionParameters;
  private disposed = false;

  private constructor(seal: SealRuntime, layout: BfvLayout, parms: EncryptionParameters) {
    this.seal = seal;
    this.layout = layout;
    this.parms = this.handles.add(parms);
    this.context = this.handles.add(new seal.SEALContext(parms, true, seal.SecLevelType.tc128));
    if (!this.context.parametersSet()) {
      this.handles.free();
      throw new Error('expected SEAL to accept the BFV parameters at 128-bit security, got parametersSet() = false');
    }
    this.encoder = this.handles.add(new seal.BatchEncoder(this.context));
    this.evaluator = this.handles.add(new seal.Evaluator(this.context));
    const pm = this.handles.add(parms.plainModulus());
    this.t = pm.value();
  }

  static async create(attributeCount: number): Promise<BfvContext> {
    const layout = layoutFor(attributeCount);
    const seal = await loadSeal();
    return new BfvContext(seal, layout, BfvContext.expectedParms(seal));
  }

  static expectedParms(seal: SealRuntime): EncryptionParameters {
    const h = new Handles();
    try {
      const parms = new seal.EncryptionParameters(seal.SchemeType.bfv);
      parms.setPolyModulusDegree(N);
      parms.setCoeffModulus(h.add(seal.CoeffModulus.Create(N, Int32Array.from(BFV_PARAMETERS.coeffModulusBits))));
      parms.setPlainModulus(h.add(seal.PlainModulus.Batching(N, BFV_PARAMETERS.plainModulusBits)));
      return parms;
    } finally {
      h.free();
    }
  }

  /** Serialized parameters as sent to C. */
  saveParams(): Uint8Array {
    return this.parms.saveToArray(this.seal.ComprModeType.zstd) as Uint8Array;
  }

  /** Checks that `bytes` are exactly this module's parameters. */
  static checkParams(seal: SealRuntime, bytes: Uint8Array): void {
    const h = new Handles();
    try {
      const got = h.add(new seal.EncryptionParameters(seal.SchemeType.bfv));
      try {
        got.loadFromArray(bytes);
      } catch (e) {
        throw new BfvFormatError(`expected serialized BFV parameters, got unreadable bytes (${sealMessage(seal, e)})`);
      }
      const want = h.add(BfvContext.expectedParms(seal));
      if (!sameParmsId(h.add(got.parmsId()), h.add(want.parmsId()))) {
        throw new BfvFormatError(
          `expected BFV parameters N=${N}, coeff modulus ${BFV_PARAMETERS.coeffModulusBits.join('+')} bits, ` +
            `${BFV_PARAMETERS.plainModulusBits}-bit batching t, got different parameters`,
        );
      }
    } finally {
      h.free();
    }
  }

  /**
   * Loads an untrusted ciphertext; it must be size 2, at `level` ('first' | 'last'), and in
   * coefficient form — or in NTT form when `ntt` (the broker's stored form, below).
   */
  loadCiphertext(what: string, raw: unknown, level: 'first' | 'last', ntt = false): Ciphertext {
    const ct = new this.seal.Ciphertext();
    try {
      return this.loadCiphertextInto(ct, what, raw, level, ntt);
    } catch (e) {
      ct.delete();
      throw e;
    }
  }

  /**
   * loadCiphertext into an existing Ciphertext (reused across calls: no SEAL allocation per
   * ciphertext); after a throw its contents are unspecified until the next load.
   */
  loadCiphertextInto(ct: Ciphertext, what: string, raw: unknown, level: 'first' | 'last', ntt = false): Ciphertext {
    const bytes = expectBytes(what, raw, MAX_BYTES.ciphertext);
    try {
      ct.loadFromArray(this.context, bytes);
    } catch (e) {
      throw new BfvFormatError(`expected ${what} as a SEAL ciphertext for these parameters, got invalid bytes (${sealMessage(this.seal, e)})`);
    }
    if (ct.size() !== 2) throw new BfvFormatError(`expected ${what} of size 2, got size ${ct.size()}`);
    if (ct.isNttForm() !== ntt) throw new BfvFormatError(`expected ${what} in ${ntt ? 'NTT' : 'coefficient'} form, got ${ntt ? 'coefficient' : 'NTT'} form`);
    if (ct.polyModulusDegree() !== N) throw new BfvFormatError(`expected ${what} with N=${N}, got ${ct.polyModulusDegree()}`);
    const got = ct.parmsId();
    try {
      if (!sameParmsValues(got.values() as BigUint64Array, this.levelParms(level))) {
        throw new BfvFormatError(`expected ${what} at the ${level} level of the modulus chain, got another level`);
      }
    } finally {
      got.delete();
    }
    return ct;
  }

  /** The parms id values of the first and last levels, read once. */
  private readonly levels: Partial<Record<'first' | 'last', BigUint64Array>> = {};
  private levelParms(level: 'first' | 'last'): BigUint64Array {
    let v = this.levels[level];
    if (!v) {
      const id = level === 'first' ? this.context.firstParmsId() : this.context.lastParmsId();
      try {
        v = (id.values() as BigUint64Array).slice();
      } finally {
        id.delete();
      }
      this.levels[level] = v;
    }
    return v;
  }

  /** Primes of the coefficient modulus at `level` (a first-level ciphertext holds 2 × this × N words). */
  levelModuli(level: 'first' | 'last'): number {
    return level === 'first' ? BFV_PARAMETERS.coeffModulusBits.length - 1 : 1; // the last prime is the special (key-switching) one
  }

  /** Encodes slot values (BigInt64, centred) into a new plaintext. */
  encode(values: BigInt64Array): Plaintext {
    const pt = new this.seal.Plaintext();
    try {
      this.encoder.encode(values, pt);
      return pt;
    } catch (e) {
      pt.delete();
      throw e;
    }
  }

  save(ct: Ciphertext): Uint8Array {
    return ct.saveToArray(this.seal.ComprModeType.zstd) as Uint8Array;
  }

  assertLive(owner: string): void {
    if (this.disposed) throw new Error(`expected a live ${owner}, got one used after dispose()`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.handles.free();
  }
}

function validateVector(v: unknown, i: number, attributeCount: number): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new TypeError(`expected vectors[${i}] as Uint8Array, got ${v === null ? 'null' : typeof v}`);
  }
  if (v.length !== attributeCount) {
    throw new RangeError(`expected vectors[${i}] of length ${attributeCount}, got ${v.length}`);
  }
  for (let j = 0; j < v.length; j++) {
    if (v[j]! > 1) throw new RangeError(`expected vectors[${i}][${j}] in {0, 1}, got ${v[j]}`);
  }
  return v;
}

/**
 * Media (B): holds the secret key. Encrypts user attribute vectors and decrypts the profile.
 */
export class MediaBfv {
  readonly layout: BfvLayout;
  private readonly ctx: BfvContext;
  private readonly secretKey: SecretKey;
  private readonly encryptor: Encryptor;
  private readonly decryptor: Decryptor;
  private readonly material: BfvPublicMaterial;
  /** Copies each fresh ciphertext's wire form out of SEAL's memory (checked against SEAL's save on the first). */
  private readonly wireForm = new SeededWireForm(BFV_PARAMETERS.coeffModulusBits.length - 1);

  private constructor(ctx: BfvContext, stored?: { secretKey: Uint8Array; material: BfvPublicMaterial }) {
    this.ctx = ctx;
    this.layout = ctx.layout;
    const { seal, handles } = ctx;
    if (stored) {
      this.secretKey = handles.add(new seal.SecretKey());
      this.secretKey.loadFromArray(ctx.context, expectBytes('secretKey', stored.secretKey, MAX_BYTES.secretKey));
      const publicKey: PublicKey = handles.add(new seal.PublicKey());
      publicKey.loadFromArray(ctx.context, expectBytes('publicKey', stored.material.publicKey, MAX_BYTES.publicKey));
      this.encryptor = handles.add(new seal.Encryptor(ctx.context, publicKey, this.secretKey));
      this.decryptor = handles.add(new seal.Decryptor(ctx.context, this.secretKey));
      this.material = Object.freeze({ ...stored.material });
      return;
    }
    const keygen: KeyGenerator = handles.add(new seal.KeyGenerator(ctx.context));
    this.secretKey = handles.add(keygen.secretKey());
    const publicKey: PublicKey = handles.add(keygen.createPublicKey());
    this.encryptor = handles.add(new seal.Encryptor(ctx.context, publicKey, this.secretKey));
    this.decryptor = handles.add(new seal.Decryptor(ctx.context, this.secretKey));
    // Seed-compressed (serializable) keys: half the size on the wire, expanded on load.
    const steps = Int32Array.from([...rowSteps(this.layout), 0]);
    const spk = keygen.createPublicKeySerializable();
    const sgk = keygen.createGaloisKeysSerializableWithSteps(steps);
    try {
      this.material = Object.freeze({
        params: ctx.saveParams(),
        publicKey: spk.saveToArray(seal.ComprModeType.zstd) as Uint8Array,
        galoisKeys: sgk.saveToArray(seal.ComprModeType.zstd) as Uint8Array,
      });
    } finally {
      spk.delete();
      sgk.delete();
      keygen.delete();
    }
  }

  /**
   * A fresh key pair: one per publication of the universe (never reused across
   * publications, so two publications' ciphertexts and profiles cannot be linked by key).
   */
  static async create(attributeCount: number): Promise<MediaBfv> {
    const ctx = await BfvContext.create(attributeCount);
    try {
      return new MediaBfv(ctx);
    } catch (e) {
      ctx.dispose();
      throw e;
    }
  }

  /** Reloads a key pair persisted with `secretKeyBytes()` and its public material. */
  static async restore(attributeCount: number, secretKey: Uint8Array, material: BfvPublicMaterial): Promise<MediaBfv> {
    const ctx = await BfvContext.create(attributeCount);
    try {
      BfvContext.checkParams(ctx.seal, expectBytes('params', material.params, MAX_BYTES.params));
      return new MediaBfv(ctx, { secretKey, material });
    } catch (e) {
      ctx.dispose();
      if (e instanceof BfvFormatError) throw e;
      throw new BfvFormatError(`expected a stored BFV key pair for these parameters, got unreadable bytes (${sealMessage(ctx.seal, e)})`);
    }
  }

  /** The secret key, serialized: media persists it (mode 0600) beside the publication. */
  secretKeyBytes(): Uint8Array {
    this.ctx.assertLive('MediaBfv');
    return this.secretKey.saveToArray(this.ctx.seal.ComprModeType.zstd) as Uint8Array;
  }

  /** Parameters, public key and the Galois keys for rotate-and-sum (fresh copies). */
  publicMaterial(): BfvPublicMaterial {
    this.ctx.assertLive('MediaBfv');
    return {
      params: this.material.params.slice(),
      publicKey: this.material.publicKey.slice(),
      galoisKeys: this.material.galoisKeys.slice(),
    };
  }

  /**
   * Encrypts the vectors in list order, usersPerCiphertext per ciphertext (the last one padded
   * with zero users): returns ceil(n / usersPerCiphertext) ciphertexts. Symmetric (secret-key)
   * encryption, seed-compressed: same RLWE security, half the bytes of public-key encryption.
   */
  encryptUsers(vectors: readonly Uint8Array[]): Uint8Array[] {
    this.ctx.assertLive('MediaBfv');
    if (!Array.isArray(vectors)) throw new TypeError(`expected vectors as an array, got ${typeof vectors}`);
    const { attributeCount } = this.layout;
    vectors.forEach((v, i) => validateVector(v, i, attributeCount));
    const out: Uint8Array[] = [];
    this.encryptEach(vectors.length, (i, into) => into.set(vectors[i]!), (ct) => out.push(ct));
    return out;
  }

  /**
   * encryptUsers without an array per user: `write(i, into)` writes user i's attributeCount
   * values into `into` (one reused buffer, zeroed before each call; every value must be 0 or 1,
   * else RangeError), users 0..users-1 in order; each ciphertext goes to `sink` as soon as it
   * exists (the caller's to keep). Same ciphertexts as encryptUsers on the same vectors.
   */
  encryptEach(users: number, write: (i: number, into: Uint8Array) => void, sink: (ct: Uint8Array) => void): void {
    this.ctx.assertLive('MediaBfv');
    if (!Number.isSafeInteger(users) || users < 0) throw new RangeError(`expected a user count ≥ 0, got ${String(users)}`);
    const { attributeCount, block, usersPerCiphertext } = this.layout;
    const into = new Uint8Array(attributeCount);
    this.encryptToWire(Math.ceil(users / usersPerCiphertext), (c, slots) => {
      const first = c * usersPerCiphertext;
      const end = Math.min(first + usersPerCiphertext, users);
      for (let i = first; i < end; i++) {
        into.fill(0);
        write(i, into);
        const base = (i - first) * block;
        for (let j = 0; j < attributeCount; j++) {
          const x = into[j]!;
          if (x === 1) slots[base + j] = 1n;
          else if (x !== 0) throw new RangeError(`expected user ${i}'s attribute ${j} in {0, 1}, got ${x}`);
        }
      }
    }, sink);
  }

  /**
   * Decrypts a profile produced by BrokerBfv.aggregate. totals[j] = sum over real users of
   * attribute j + noise[j] (centred, may be negative); consistent = every block identical
   * (what an honest broker produces). Throws BfvFormatError for bytes that are not a
   * last-level ciphertext of these parameters, and Error when the noise budget is exhausted.
   */
  decryptProfile(profile: Uint8Array): { totals: number[]; consistent: boolean } {
    return this.openProfile(profile);
  }

  /**
   * Decrypts a profile of its own `rounds` times, results discarded: a profile-like plaintext
   * (every block the same totals, of either sign and up to a few thousand, as a broker's noised
   * profile holds) encrypted under the secret key and switched to the last level (where a
   * broker's profile arrives), saved and decrypted by decryptProfile and decryptSlotSum
   * themselves, their tallies suspended (op-counts uncounted, which runs the same counting code
   * into a discarded record: a path whose counting never ran in the warm-up is compiled again
   * when a session first counts, as node --trace-deopt showed). Not all zero: the slot loops
   * then saw only small integers, and a session's first real sum (beyond 2^31 in decryptSlotSum)
   * threw their optimised code away ("not a Smi") and compiled it again within the session. SEAL is WebAssembly,
   * whose functions V8 compiles when first called (and again, optimised, on background threads):
   * without this the first session's profile decryption pays for compiling the decryption path,
   * several times the decryption itself. Several rounds, not one: the slot loops after the
   * decryption (8,192 slots) get optimised code of their own only after a few calls (one gave
   * them on-stack-replacement code only, which a garbage collection drops: compiled again in a
   * session); sixteen, so that the optimised code is compiled before the first session, not
   * asked for in the warm-up's last call and built in that session. Media calls it once when it
   * starts; counts no primitive.
   */
  warmDecrypt(rounds = 16): void {
    this.ctx.assertLive('MediaBfv');
    const { seal, context, encoder, evaluator } = this.ctx;
    const pt = new seal.Plaintext();
    const ct = new seal.Ciphertext();
    const last = context.lastParmsId();
    try {
      const { attributeCount, block } = this.layout;
      const want = Array.from({ length: attributeCount }, (_, j) => ((j * 7919) % 6000) - 1000);
      const slots = new BigInt64Array(N);
      for (let i = 0; i < N; i++) slots[i] = i % block < attributeCount ? BigInt(want[i % block]!) : 0n;
      // Σ of the N slots mod t, centred: what decryptSlotSum gives for this plaintext
      const t = this.ctx.t;
      const sum = (((want.reduce((a, v) => a + BigInt(v), 0n) * BigInt(N / block)) % t) + t) % t;
      const wantSum = Number(sum > t / 2n ? sum - t : sum);
      encoder.encode(slots, pt);
      this.encryptor.encryptSymmetric(pt, ct);
      evaluator.cipherModSwitchToInplace(ct, last);
      const bytes = ct.saveToArray(seal.ComprModeType[WIRE_COMPRESSION]) as Uint8Array;
      // The session paths themselves, their counting included (V8 compiles what ran), tallied in nothing.
      uncounted(() => {
        for (let r = 0; r < rounds; r++) {
          const { totals, consistent } = this.decryptProfile(bytes);
          if (!consistent || totals.some((v, j) => v !== want[j])) throw new Error('MediaBfv.warmDecrypt: expected its own profile back');
          if (this.decryptSlotSum(bytes) !== wantSum) throw new Error('MediaBfv.warmDecrypt: expected its own slot sum back');
        }
      });
    } finally {
      last.delete();
      ct.delete();
      pt.delete();
    }
  }

  /**
   * Encrypts `rounds` indicator ciphertexts of random bits (the dense plaintexts media encrypts)
   * to media's wire form, discarded: SEAL's encryption path is WebAssembly, compiled when first
   * called and tiered up on background threads while it runs, and the wire form's layout
   * (SeededWireForm) is found and checked on the first ciphertext. Without this, a node that
   * restarts on a stored publication pays both in its first joint-count session (about twice
   * that phase's CPU). Media calls it once when it starts; counts no primitive.
   */
  warmEncrypt(rounds = 4): void {
    this.ctx.assertLive('MediaBfv');
    const bits = randomBytes(rounds * N).map((b) => b & 1);
    this.indicatorsToWire(bits, () => {}, false, (bytes) => new Uint8Array(bytes));
  }

  private openProfile(profile: Uint8Array): { totals: number[]; consistent: boolean } {
    this.ctx.assertLive('MediaBfv');
    const ct = this.ctx.loadCiphertext('profile', profile, 'last');
    const pt = new this.ctx.seal.Plaintext();
    try {
      countPrimitive('bfvNoiseBudget');
      const budget = this.decryptor.invariantNoiseBudget(ct);
      if (budget <= 0) throw new Error(`expected a profile with a positive noise budget, got ${budget} bits`);
      this.decryptor.decrypt(ct, pt);
      countBfv('decrypt', 1);
      countPrimitive('bfvDecrypt');
      countPrimitive('bfvDecode');
      const slots = this.ctx.encoder.decodeBigInt64(pt) as BigInt64Array;
      const { attributeCount, block } = this.layout;
      const totals: number[] = [];
      for (let j = 0; j < attributeCount; j++) totals.push(Number(slots[j]!));
      let consistent = true;
      for (let i = block; i < N && consistent; i++) if (slots[i] !== slots[i % block]) consistent = false;
      for (let j = attributeCount; j < block && consistent; j++) if (slots[j] !== 0n) consistent = false;
      return { totals, consistent };
    } finally {
      pt.delete();
      ct.delete();
    }
  }

  /**
   * Encrypts one bit per position, N positions per ciphertext (slot i of ciphertext c holds
   * bits[c·N + i]; the last one padded with zeros): the per-user indicator of a joint kind,
   * under this publication's key. Symmetric, seed-compressed, like encryptUsers. `alloc(bytes)`,
   * if given, returns where each ciphertext's wire bytes go (exactly `bytes` long: e.g. its place
   * in the message that carries it, rpc/codec.ts CiphertextBatchWriter), so that they are
   * written once; by default a fresh array each.
   */
  encryptIndicators(bits: Uint8Array, alloc?: (bytes: number) => Uint8Array): Uint8Array[] {
    this.ctx.assertLive('MediaBfv');
    if (!(bits instanceof Uint8Array)) throw new TypeError(`expected bits as Uint8Array, got ${typeof bits}`);
    for (let i = 0; i < bits.length; i++) if (bits[i]! > 1) throw new RangeError(`expected bits[${i}] in {0, 1}, got ${bits[i]}`);
    const out: Uint8Array[] = [];
    this.indicatorsToWire(bits, (ct) => out.push(ct), true, alloc);
    return out;
  }

  /** How many ciphertexts encryptIndicators gives for `positions` indicator bits (N slots each). */
  static indicatorCiphertexts(positions: number): number {
    if (!Number.isSafeInteger(positions) || positions < 0) throw new RangeError(`expected a count of positions ≥ 0, got ${positions}`);
    return Math.ceil(positions / N);
  }

  /** encryptIndicators' loop (also warmEncrypt's, so that the same code is compiled): `bits` already checked. */
  private indicatorsToWire(bits: Uint8Array, sink: (ct: Uint8Array) => void, counted: boolean, alloc?: (bytes: number) => Uint8Array): void {
    this.encryptToWire(MediaBfv.indicatorCiphertexts(bits.length), (c, slots) => fillIndicatorSlots(bits, c * N, slots), sink, counted, alloc);
  }

  /**
   * Media's wire form of `count` ciphertexts, each to `sink` in order: `fill(c, slots)` writes
   * the slot values of ciphertext c into `slots` (zeroed before each call); each is encoded
   * (into one reused plaintext), encrypted under the secret key (symmetric) and saved
   * seed-compressed without zstd (WIRE_COMPRESSION) into `alloc(bytes)` when given (else a
   * fresh array). The one encryption loop of encryptUsers, encryptEach and encryptIndicators.
   */
  private encryptToWire(count: number, fill: (c: number, slots: BigInt64Array) => void, sink: (ct: Uint8Array) => void, counted = true, alloc?: (bytes: number) => Uint8Array): void {
    const slots = new BigInt64Array(N);
    const pt = new this.ctx.seal.Plaintext();
    const mode = this.ctx.seal.ComprModeType[WIRE_COMPRESSION];
    try {
      for (let c = 0; c < count; c++) {
        slots.fill(0n);
        fill(c, slots);
        if (counted) countPrimitive('bfvEncode');
        this.ctx.encoder.encode(slots, pt);
        if (counted) countPrimitive('bfvEncrypt');
        const sct = this.encryptor.encryptSymmetricSerializable(pt);
        let wire: Uint8Array;
        try {
          const save = (): Uint8Array => sct.saveToArray(mode) as Uint8Array;
          wire = this.wireForm.copy(sct, save, alloc) ?? placed(save(), alloc);
        } finally {
          sct.delete();
        }
        if (counted) countBfv('encrypt', 1);
        sink(wire);
      }
    } finally {
      pt.delete();
    }
  }

  /**
   * Decrypts a masked sum (BrokerBfv.sumIndicators) and returns the sum of all its slots mod
   * t, centred: the only thing the zero-sum mask leaves readable. Throws BfvFormatError for
   * bytes that are not a last-level ciphertext of these parameters.
   */
  decryptSlotSum(sum: Uint8Array): number {
    this.ctx.assertLive('MediaBfv');
    const ct = this.ctx.loadCiphertext('indicator sum', sum, 'last');
    const pt = new this.ctx.seal.Plaintext();
    try {
      countPrimitive('bfvNoiseBudget');
      const budget = this.decryptor.invariantNoiseBudget(ct);
      if (budget <= 0) throw new Error(`expected an indicator sum with a positive noise budget, got ${budget} bits`);
      this.decryptor.decrypt(ct, pt);
      countBfv('decrypt', 1);
      countPrimitive('bfvDecrypt'); // one SEAL decryption, as decryptProfile counts
      countPrimitive('bfvDecode');
      const slots = this.ctx.encoder.decodeBigUint64(pt) as BigUint64Array;
      // Σ slots mod t in doubles: every slot < t < 2^plainModulusBits, so the N-slot sum stays
      // below 2^(plainModulusBits + log2 N) ≤ 2^53 (checked at the module's top): exact, with no BigInt per slot.
      const t = Number(this.ctx.t);
      let acc = 0;
      for (let i = 0; i < slots.length; i++) acc += Number(slots[i]!);
      acc %= t;
      return acc > t / 2 ? acc - t : acc;
    } finally {
      pt.delete();
      ct.delete();
    }
  }

  /** Remaining invariant noise budget (bits) of a ciphertext under this key (diagnostics, tests). */
  noiseBudgetBits(ciphertext: Uint8Array, level: 'first' | 'last' = 'last'): number {
    this.ctx.assertLive('MediaBfv');
    const ct = this.ctx.loadCiphertext('ciphertext', ciphertext, level);
    try {
      return this.decryptor.invariantNoiseBudget(ct);
    } finally {
      ct.delete();
    }
  }

  /** Frees the secret key and every SEAL object; idempotent. */
  dispose(): void {
    this.ctx.dispose();
  }
}

/** The broker's stored ciphertexts as aggregateStored reads them (services' CiphertextFile; protocol/publication.ts CiphertextSource). */
export interface StoredCiphertexts {
  /** Ciphertext c's bytes, read before the next call. */
  view(c: number): unknown;
  /** Ciphertext c's first head.length bytes into `head`, the rest into `rest`, when that is its length (else false). */
  readSplit?(c: number, head: Uint8Array, rest: Uint8Array): boolean;
}

/**
 * Broker (C): holds only B's public material. Aggregates the real users' ciphertexts into one
 * profile ciphertext. Never decrypts.
 */
export class BrokerBfv {
  readonly layout: BfvLayout;
  private readonly ctx: BfvContext;
  private readonly galoisKeys: GaloisKeys;
  private readonly encryptor: Encryptor;
  private readonly rowSteps: readonly number[];

  private constructor(ctx: BfvContext, publicKey: PublicKey, galoisKeys: GaloisKeys) {
    this.ctx = ctx;
    this.layout = ctx.layout;
    ctx.handles.add(publicKey);
    this.galoisKeys = ctx.handles.add(galoisKeys);
    this.encryptor = ctx.handles.add(new ctx.seal.Encryptor(ctx.context, publicKey));
    this.rowSteps = rowSteps(this.layout);
  }

  /** Validates and loads B's material; any malformed or other-parameter input → BfvFormatError. */
  static async fromPublicMaterial(m: BfvPublicMaterial, attributeCount: number): Promise<BrokerBfv> {
    if (typeof m !== 'object' || m === null) throw new TypeError(`expected BfvPublicMaterial, got ${m === null ? 'null' : typeof m}`);
    const params = expectBytes('params', m.params, MAX_BYTES.params);
    const pkBytes = expectBytes('publicKey', m.publicKey, MAX_BYTES.publicKey);
    const gkBytes = expectBytes('galoisKeys', m.galoisKeys, MAX_BYTES.galoisKeys);
    const layout = layoutFor(attributeCount);
    const seal = await loadSeal();
    BfvContext.checkParams(seal, params);
    const ctx = await BfvContext.create(layout.attributeCount);
    const pk = new seal.PublicKey();
    const gk = new seal.GaloisKeys();
    try {
      try {
        pk.loadFromArray(ctx.context, pkBytes);
      } catch (e) {
        throw new BfvFormatError(`expected a SEAL public key for these parameters, got invalid bytes (${sealMessage(seal, e)})`);
      }
      try {
        gk.loadFromArray(ctx.context, gkBytes);
      } catch (e) {
        throw new BfvFormatError(`expected SEAL Galois keys for these parameters, got invalid bytes (${sealMessage(seal, e)})`);
      }
      for (const step of [...rowSteps(layout), 0]) {
        const elt = galoisElement(step);
        if (!gk.hasKey(elt)) {
          throw new BfvFormatError(
            `expected Galois keys for ${step === 0 ? 'the column rotation' : `row step ${step}`} (element ${elt}), got none`,
          );
        }
      }
      return new BrokerBfv(ctx, pk, gk);
    } catch (e) {
      pk.delete();
      gk.delete();
      ctx.dispose();
      throw e;
    }
  }

  /**
   * One profile ciphertext = Σ over real positions (keep[p] = 1) of the users' vectors, summed
   * into every block, + noise, re-randomized and switched to the last level.
   *   ciphertexts: B's encryptUsers output, in order; keep: one byte per global position (0/1),
   *   ceil(keep.length / usersPerCiphertext) must equal ciphertexts.length; noise: one safe
   *   integer per attribute with keptCount + |noise[j]| ≤ (t−1)/2.
   * Ciphertexts without a real position are not parsed. Throws BfvFormatError for an invalid
   * ciphertext.
   */
  aggregate(ciphertexts: readonly Uint8Array[], keep: Uint8Array, noise: readonly number[]): Uint8Array {
    this.ctx.assertLive('BrokerBfv');
    const { usersPerCiphertext: upc } = this.layout;
    if (!Array.isArray(ciphertexts)) throw new TypeError(`expected ciphertexts as an array, got ${typeof ciphertexts}`);
    if (!(keep instanceof Uint8Array)) throw new TypeError(`expected keep as Uint8Array, got ${keep === null ? 'null' : typeof keep}`);
    if (keep.length === 0) throw new RangeError('expected keep with at least one position, got 0');
    const expectedCts = Math.ceil(keep.length / upc);
    if (ciphertexts.length !== expectedCts) {
      throw new RangeError(`expected ${expectedCts} ciphertexts for ${keep.length} positions, got ${ciphertexts.length}`);
    }
    const positions: number[] = [];
    for (let p = 0; p < keep.length; p++) {
      const k = keep[p]!;
      if (k > 1) throw new RangeError(`expected keep[${p}] in {0, 1}, got ${k}`);
      if (k === 1) positions.push(p);
    }
    return this.aggregateCore((c, into) => {
      this.ctx.loadCiphertextInto(into, `ciphertexts[${c}]`, ciphertexts[c], 'first');
      countPrimitive('bfvNtt');
      this.ctx.evaluator.cipherTransformToNttInplace(into);
    }, expectedCts, positions, noise);
  }

  /**
   * The broker's stored form of one of media's ciphertexts: validated as media's wire form
   * (first level, coefficient form), transformed to NTT form and saved uncompressed
   * (≈ 393 KB instead of ≈ 197 KB seed-compressed), so that a session's aggregation loads
   * it with a copy and masks it with one pointwise product instead of two NTT round trips.
   */
  toStoredForm(wire: Uint8Array): Uint8Array {
    return this.storedFormView(wire).slice();
  }

  /**
   * toStoredForm into a buffer this instance reuses: the view is valid until the next call
   * (for a consumer that copies it at once, as the broker's ciphertext file writer does). The
   * bytes are SEAL's uncompressed save of the transformed ciphertext, taken from the
   * WebAssembly memory (CoefficientLocator) behind a header saved once; saveToArray when the
   * coefficients cannot be located or the metadata differs from the header's.
   */
  storedFormView(wire: Uint8Array): Uint8Array {
    const parts = this.storedFormParts(wire);
    if (parts.length === 1) return parts[0]!;
    const [h, data] = parts as [Uint8Array, Uint8Array];
    this.storeBuf.set(h, 0);
    this.storeBuf.set(data, h.length);
    return this.storeBuf;
  }

  /**
   * The stored form of `wire` (toStoredForm's bytes) as parts to write back to back, without
   * copying the coefficients out of SEAL: [SEAL's header, saved once; a view of the coefficients
   * in WebAssembly memory], both valid until the next call (for a writer that writes them at
   * once: CiphertextFileWriter.appendParts) — or [saveToArray's bytes] when the coefficients
   * cannot be located or the metadata differs from the header's. Validates `wire` as
   * storedFormView does (first level, coefficient form, size 2) and counts the same primitives.
   */
  storedFormParts(wire: Uint8Array): readonly Uint8Array[] {
    this.ctx.assertLive('BrokerBfv');
    countPrimitive('bfvLoad');
    // One Ciphertext for every call (a handle of this instance, freed by dispose()).
    this.storeCt ??= this.ctx.handles.add(new this.ctx.seal.Ciphertext());
    const ct = this.ctx.loadCiphertextInto(this.storeCt, 'ciphertext', wire, 'first');
    countPrimitive('bfvNtt');
    this.ctx.evaluator.cipherTransformToNttInplace(ct);
    const save = (): Uint8Array => ct.saveToArray(this.ctx.seal.ComprModeType.none) as Uint8Array;
    // Coefficients: size × moduli × N words of 8 bytes.
    const bytes = ct.size() * ct.coeffModulusSize() * N * 8;
    const h = this.storeHeader;
    if (h === null || ct.scale() !== 1 || ct.correctionFactor() !== 1) return [save()];
    if (h === undefined) {
      const full = save();
      const view = this.locator.view(ct, bytes, () => full);
      this.storeHeader = view ? full.slice(0, full.length - bytes) : null;
      if (view) this.storeBuf = new Uint8Array(full.length);
      return [full];
    }
    const data = this.locator.view(ct, bytes, save);
    if (!data || h.length + bytes !== this.storeBuf.length) return [save()];
    return [h, data];
  }

  /**
   * Bytes of every stored form under these parameters — SEAL's uncompressed save of a size-2,
   * first-level ciphertext in NTT form, what toStoredForm gives for any wire ciphertext it
   * accepts (it refuses other levels and sizes) — from an encryption of zero, once.
   */
  storedFormLength(): number {
    this.ctx.assertLive('BrokerBfv');
    if (this.storedLength === undefined) {
      const ct = new this.ctx.seal.Ciphertext();
      try {
        this.encryptor.encryptZero(ct);
        this.ctx.evaluator.cipherTransformToNttInplace(ct);
        this.storedLength = (ct.saveToArray(this.ctx.seal.ComprModeType.none) as Uint8Array).length;
      } finally {
        ct.delete();
      }
    }
    return this.storedLength;
  }

  private storedLength: number | undefined;
  private storeCt: Ciphertext | undefined;
  private readonly locator = new CoefficientLocator();
  /** SEAL's header of a stored-form ciphertext (everything before the coefficients): undefined until the first call; null: saveToArray every time. */
  private storeHeader: Uint8Array | null | undefined;
  private storeBuf = new Uint8Array(0);

  /**
   * The same as `aggregate`, over a stored encrypted universe in stored form (toStoredForm):
   * `load(c)` returns ciphertext c's bytes, read before the next call (called only for
   * ciphertexts that hold at least one real position: once per slot holding one of its real
   * users, or once when it holds more than GROUPED_MAX), `count` is the number of ciphertexts, `positions` the
   * distinct global positions of the real users. Work grows with the ciphertexts touched
   * (≤ positions.length), never with count.
   */
  aggregateStored(load: ((c: number) => unknown) | StoredCiphertexts, count: number, positions: readonly number[], noise: readonly number[]): Uint8Array {
    const src: StoredCiphertexts = typeof load === 'function' ? { view: load } : load;
    const readSplit = src.readSplit?.bind(src);
    const touched = new Set<number>();
    const bytes = 2 * this.ctx.levelModuli('first') * N * 8; // a first-level ciphertext's coefficients
    // With readSplit: straight from the source into the loaded ciphertext's coefficients. After
    // one load by SEAL (checked, and the model every later header must equal byte for byte),
    // each next ciphertext's header is read into `head` and its coefficients into SEAL's memory
    // in one read. These are the broker's own files, written from ciphertexts SEAL validated at
    // the sync (toStoredForm); a header that differs, a length that differs or coefficients
    // that cannot be located fall back to SEAL's load.
    let model: Uint8Array | undefined;
    let head = new Uint8Array(0);
    // Ciphertexts sized and with the model's metadata (SEAL loaded them, or they were assigned
    // one it loaded): only those are read into directly.
    const loaded = new WeakSet<Ciphertext>();
    let sealLoaded: Ciphertext | undefined;
    return this.aggregateCore((c, into) => {
      // the floor's read: once per ciphertext (a second slot's read of it is above the floor)
      if (!touched.has(c)) {
        touched.add(c);
        countPrimitive('bfvReadStored');
      }
      if (readSplit && model !== undefined && !loaded.has(into) && sealLoaded !== undefined) {
        into.assign(sealLoaded);
        loaded.add(into);
      }
      if (readSplit && model !== undefined && loaded.has(into)) {
        const data = this.locator.view(into, bytes, () => into.saveToArray(this.ctx.seal.ComprModeType.none) as Uint8Array);
        if (data && readSplit(c, head, data) && Buffer.from(head.buffer, head.byteOffset, head.length).equals(model)) return;
      }
      const raw = src.view(c);
      this.ctx.loadCiphertextInto(into, `ciphertexts[${c}]`, raw, 'first', true);
      loaded.add(into);
      sealLoaded = into;
      if (readSplit && model === undefined && raw instanceof Uint8Array && raw.length > bytes) {
        model = Buffer.from(raw.subarray(0, raw.length - bytes));
        head = new Uint8Array(model.length);
      }
    }, count, positions, noise);
  }

  /**
   * Runs the session aggregations once on this publication, results discarded, counting
   * nothing (no primitive, no aggregation): aggregateStored twice over WARM_POSITIONS positions
   * spread over `src` (its `count` ciphertexts), and sumIndicators over WARM_INDICATORS
   * ciphertexts of zeros encrypted under the public key. SEAL is WebAssembly, whose functions
   * V8 compiles when first called and again, optimised, on background threads: without this the
   * first session after a start or a sync pays for compiling its aggregation path — its
   * aggregation costs about 1.2–1.5× the next ones' CPU (`node bench/aggregate-steps.ts <state>
   * 2834 7` prints the first run apart; `… warm` calls this first). The broker calls it when it takes a publication,
   * outside any session, as media does MediaBfv.warmDecrypt.
   */
  warmAggregate(src: StoredCiphertexts, count: number): void {
    this.ctx.assertLive('BrokerBfv');
    const users = count * this.layout.usersPerCiphertext;
    if (!Number.isSafeInteger(users) || users < 1) throw new RangeError(`expected a publication of at least one ciphertext, got ${String(count)}`);
    const counted = primitiveSnapshot();
    const aggregations = opCounts.bfv.aggregate;
    const h = new Handles();
    try {
      const k = Math.min(WARM_POSITIONS, users);
      const positions = Array.from({ length: k }, (_, i) => Math.floor((i * users) / k));
      const noise = Array.from({ length: this.layout.attributeCount }, (_, j) => (j === 0 ? 1 : 0));
      for (let r = 0; r < 2; r++) this.aggregateStored(src, count, positions, noise);
      const wire: Uint8Array[] = [];
      const pt = h.add(this.ctx.encode(new BigInt64Array(N)));
      const ct = h.add(new this.ctx.seal.Ciphertext());
      for (let c = 0; c < WARM_INDICATORS; c++) {
        this.encryptor.encrypt(pt, ct);
        wire.push(ct.saveToArray(this.ctx.seal.ComprModeType[WIRE_COMPRESSION]) as Uint8Array);
      }
      this.sumIndicators(wire, Array.from({ length: WARM_INDICATORS }, (_, c) => c * N + c), 0, () => 0n);
    } finally {
      h.free();
      restorePrimitiveCounts(counted);
      opCounts.bfv.aggregate = aggregations;
    }
  }

  /** Single-user masks in NTT form at the first level, by user slot; built on first use (or by prepareMasks). */
  private nttMasks: Plaintext[] | undefined;

  /**
   * Builds every single-user mask now (usersPerCiphertext of them, a batch encoding and a
   * plaintext NTT each, ≈ 25 MB of WebAssembly memory for 128): a constant of these keys, so
   * the broker builds them once when it takes a publication instead of in its first session's
   * aggregation.
   */
  prepareMasks(): void {
    this.ctx.assertLive('BrokerBfv');
    for (let u = 0; u < this.layout.usersPerCiphertext; u++) this.maskFor([u]);
  }

  private maskFor(users: readonly number[]): { pt: Plaintext; shared: boolean } {
    const { attributeCount, block, usersPerCiphertext: upc } = this.layout;
    const first = this.ctx.context.firstParmsId();
    try {
      const build = (list: readonly number[]): Plaintext => {
        const mask = new BigInt64Array(N);
        for (const u of list) mask.fill(1n, u * block, u * block + attributeCount);
        countPrimitive('bfvEncode');
        const pt = this.ctx.encode(mask);
        countPrimitive('bfvPlainNtt');
        this.ctx.evaluator.plainTransformToNttInplace(pt, first);
        return pt;
      };
      if (users.length === 1) {
        this.nttMasks ??= new Array<Plaintext>(upc);
        const u = users[0]!;
        this.nttMasks[u] ??= this.ctx.handles.add(build([u]));
        return { pt: this.nttMasks[u]!, shared: true };
      }
      return { pt: build(users), shared: false };
    } finally {
      first.delete();
    }
  }

  private aggregateCore(loadNtt: (c: number, into: Ciphertext) => void, count: number, positions: readonly number[], noise: readonly number[]): Uint8Array {
    this.ctx.assertLive('BrokerBfv');
    const { attributeCount, block, usersPerCiphertext: upc } = this.layout;
    const byCt = new Map<number, number[]>();
    for (const p of positions) {
      if (!Number.isSafeInteger(p) || p < 0 || p >= count * upc) throw new RangeError(`expected positions in [0, ${count * upc}), got ${String(p)}`);
      const c = Math.floor(p / upc);
      const list = byCt.get(c);
      if (list) {
        if (list.includes(p % upc)) throw new RangeError(`expected distinct positions, got ${p} twice`);
        list.push(p % upc);
      } else {
        byCt.set(c, [p % upc]);
      }
    }
    const kept = positions.length;
    if (!Array.isArray(noise) || noise.length !== attributeCount) {
      throw new RangeError(`expected noise of length ${attributeCount}, got ${Array.isArray(noise) ? noise.length : typeof noise}`);
    }
    const half = Number((this.ctx.t - 1n) / 2n);
    if (kept > half) throw new RangeError(`expected at most ${half} kept positions, got ${kept}`);
    const maxNoise = half - kept;
    noise.forEach((x, j) => {
      if (!Number.isSafeInteger(x)) throw new RangeError(`expected noise[${j}] a safe integer, got ${String(x)}`);
      if (Math.abs(x) > maxNoise) {
        throw new RangeError(`expected |noise[${j}]| ≤ ${maxNoise} (t/2 minus ${kept} kept), got ${x}`);
      }
    });

    const { seal, evaluator } = this.ctx;
    const h = new Handles();
    try {
      const total = { ct: h.add(new seal.Ciphertext()), empty: true };
      /** Adds `ct` into the total (the first one is copied: `ct` stays the caller's). */
      const addToTotal = (ct: Ciphertext): void => {
        if (total.empty) {
          total.ct.assign(ct);
          total.empty = false;
        } else {
          countPrimitive('bfvAdd');
          evaluator.addInplace(total.ct, ct);
        }
      };
      const ct = h.add(new seal.Ciphertext()); // every loaded ciphertext, in turn
      const ordered = [...byCt.keys()].sort((x, y) => x - y);
      const grouped: number[] = [];
      // Whole ciphertexts (every slot real, no padding slots) and crowded ones: loaded once, into the total.
      for (const c of ordered) {
        const users = byCt.get(c)!;
        const whole = users.length === upc && attributeCount === block;
        if (!whole && users.length <= GROUPED_MAX) {
          grouped.push(c);
          continue;
        }
        loadNtt(c, ct);
        if (!whole) {
          const { pt, shared } = this.maskFor(users);
          try {
            countPrimitive('bfvMultiplyPlain');
            evaluator.multiplyPlainInplace(ct, pt);
          } finally {
            if (!shared) pt.delete();
          }
        }
        addToTotal(ct);
      }
      // The others: slot by slot, the ciphertexts with a real user in the slot summed into one
      // running sum (its first loaded straight into it), masked once, added into the total.
      const bySlot: number[][] = Array.from({ length: upc }, () => []);
      for (const c of grouped) for (const u of byCt.get(c)!) bySlot[u]!.push(c); // in ciphertext order
      const sum = h.add(new seal.Ciphertext());
      for (let u = 0; u < upc; u++) {
        const cts = bySlot[u]!;
        if (cts.length === 0) continue;
        loadNtt(cts[0]!, sum);
        for (let k = 1; k < cts.length; k++) {
          loadNtt(cts[k]!, ct);
          countPrimitive('bfvAdd');
          evaluator.addInplace(sum, ct);
        }
        countPrimitive('bfvMultiplyPlain');
        evaluator.multiplyPlainInplace(sum, this.maskFor([u]).pt);
        addToTotal(sum);
      }
      const acc = total.ct;
      if (total.empty) {
        // No real user at all: an encryption of zero (the cohort threshold is enforced elsewhere).
        countPrimitive('bfvEncryptZero');
        this.encryptor.encryptZero(acc);
      } else {
        countPrimitive('bfvNtt');
        evaluator.cipherTransformFromNttInplace(acc);
      }

      const tmp = h.add(new seal.Ciphertext());
      countPrimitive('bfvRotate', this.rowSteps.length + 1);
      countPrimitive('bfvAdd', this.rowSteps.length + 1);
      for (const step of this.rowSteps) {
        evaluator.rotateRows(acc, step, this.galoisKeys, tmp);
        evaluator.addInplace(acc, tmp);
      }
      evaluator.rotateColumns(acc, this.galoisKeys, tmp);
      evaluator.addInplace(acc, tmp);

      if (noise.some((x) => x !== 0)) {
        const slots = new BigInt64Array(N);
        for (let u = 0; u < upc; u++) for (let j = 0; j < attributeCount; j++) slots[u * block + j] = BigInt(noise[j]!);
        const pt = h.add(this.ctx.encode(slots));
        evaluator.addPlainInplace(acc, pt);
      }

      const zero = h.add(new seal.Ciphertext());
      countPrimitive('bfvEncryptZero');
      countPrimitive('bfvAdd');
      this.encryptor.encryptZero(zero);
      evaluator.addInplace(acc, zero);
      evaluator.cipherModSwitchToInplace(acc, h.add(this.ctx.context.lastParmsId()));
      countBfv('aggregate', byCt.size);
      return this.ctx.save(acc);
    } finally {
      h.free();
    }
  }

  /**
   * The masked sum of media's indicator ciphertexts (MediaBfv.encryptIndicators) over
   * `positions`: Σ_c (ind_c ⊙ sel_c) + R + noise·e_0, re-randomised, at the last level.
   * sel_c is 1 exactly at the matched slots of ciphertext c (ciphertexts without one are not
   * parsed); R is uniform over Z_t^N conditioned on Σ R = 0 (mod t), so the decryptor reads
   * nothing but Σ of all slots = |matched ∧ indicator| + noise. `uniform(t)` draws from [0, t).
   *
   * Computed in NTT form: each touched ciphertext is loaded (bfvLoad), transformed once
   * (bfvNtt), multiplied by its selection in NTT form (the selection batch-encoded, bfvEncode,
   * and transformed, bfvPlainNtt; then bfvMultiplyPlain: a pointwise product)
   * and added into the running sum (bfvAdd); the sum returns to coefficient form once (bfvNtt)
   * and is re-randomised with one fresh encryption of zero. The product is exact either way
   * (NTT form is a ring isomorphism mod each prime); a coefficient-form multiply_plain would
   * transform each ciphertext there and back. One Ciphertext and two Plaintexts serve every
   * ciphertext (no SEAL allocation per ciphertext).
   */
  sumIndicators(ciphertexts: readonly Uint8Array[], positions: readonly number[], noise: number, uniformBelow: (t: bigint) => bigint): Uint8Array {
    this.ctx.assertLive('BrokerBfv');
    if (!Number.isSafeInteger(noise)) throw new RangeError(`expected an integer noise, got ${String(noise)}`);
    const byCt = new Map<number, number[]>();
    for (const p of positions) {
      if (!Number.isSafeInteger(p) || p < 0 || p >= ciphertexts.length * N) throw new RangeError(`expected positions in [0, ${ciphertexts.length * N}), got ${String(p)}`);
      const c = Math.floor(p / N);
      const list = byCt.get(c) ?? [];
      list.push(p % N);
      byCt.set(c, list);
    }
    const { seal, evaluator } = this.ctx;
    const t = this.ctx.t;
    const h = new Handles();
    try {
      const acc = h.add(new seal.Ciphertext());
      let empty = true;
      const ct = h.add(new seal.Ciphertext());
      const sel = new BigInt64Array(N);
      const selPt = h.add(new seal.Plaintext()); // coefficient form (the encoder writes here)
      const selNtt = h.add(new seal.Plaintext()); // its NTT form at the first level
      const first = h.add(this.ctx.context.firstParmsId());
      for (const [c, slots] of [...byCt].sort((x, y) => x[0] - y[0])) {
        countPrimitive('bfvLoad');
        this.ctx.loadCiphertextInto(ct, `indicators[${c}]`, ciphertexts[c], 'first');
        countPrimitive('bfvNtt');
        evaluator.cipherTransformToNttInplace(ct);
        sel.fill(0n);
        for (const i of slots) sel[i] = 1n;
        countPrimitive('bfvEncode');
        this.ctx.encoder.encode(sel, selPt);
        countPrimitive('bfvPlainNtt');
        evaluator.plainTransformToNtt(selPt, first, selNtt);
        countPrimitive('bfvMultiplyPlain');
        evaluator.multiplyPlainInplace(ct, selNtt);
        if (empty) {
          acc.assign(ct);
          empty = false;
        } else {
          countPrimitive('bfvAdd');
          evaluator.addInplace(acc, ct);
        }
      }
      if (empty) {
        // No matched position: an encryption of zero, which the mask and the noise are added to.
        countPrimitive('bfvEncryptZero');
        this.encryptor.encryptZero(acc);
      } else {
        countPrimitive('bfvNtt');
        evaluator.cipherTransformFromNttInplace(acc);
      }
      // Zero-sum mask (+ the noise in slot 0), centred representatives of Z_t.
      const mask = new BigInt64Array(N);
      let total = 0n;
      const centred = (v: bigint) => (v > t / 2n ? v - t : v);
      for (let i = 1; i < N; i++) {
        const r = uniformBelow(t);
        total = (total + r) % t;
        mask[i] = centred(r);
      }
      mask[0] = centred((((t - total) % t) + ((BigInt(noise) % t) + t)) % t);
      countPrimitive('bfvEncode');
      evaluator.addPlainInplace(acc, h.add(this.ctx.encode(mask)));
      const zero = h.add(new seal.Ciphertext());
      countPrimitive('bfvEncryptZero');
      countPrimitive('bfvAdd');
      this.encryptor.encryptZero(zero);
      evaluator.addInplace(acc, zero);
      evaluator.cipherModSwitchToInplace(acc, h.add(this.ctx.context.lastParmsId()));
      countBfv('aggregate', byCt.size);
      return this.ctx.save(acc);
    } finally {
      h.free();
    }
  }

  /** Frees every SEAL object; idempotent. */
  dispose(): void {
    this.ctx.dispose();
  }
}
