/**
 * The group of the cleanroom OPRF: the prime-order subgroup (order ℓ) of Curve25519, with every
 * element carried as its X25519 Montgomery u-coordinate — 32 bytes, little-endian, u < p.
 *
 * Why u-coordinates: the only fast variable-base scalar multiplication available here is
 * libsodium's X25519 (`crypto_scalarmult`, ≈23,000/s on one core; the Edwards "noclamp" multiply
 * is ≈6,100/s), and X25519 speaks u-coordinates. Dropping the sign of the Edwards x-coordinate is
 * harmless: [k](−Q) = −[k]Q, so u([k]Q) depends on u(Q) only.
 *
 * Element validation (`validateElement`, run at every entry point before a secret scalar touches
 * an element):
 *   - 'length': not a 32-byte Uint8Array.
 *   - 'non-canonical': u ≥ p, which includes every encoding with the top bit set. RFC 7748 tells
 *     X25519 to mask the top bit and reduce mod p; we refuse instead, so each element has exactly
 *     one encoding and a relay cannot re-encode an element to make it look new.
 *   - 'low-order': u ∈ {0, 1, p−1, and the two u of the order-8 points}. These are all points of
 *     order 1, 2, 4 or 8 on the curve and its twist (u = 0 also encodes the identity).
 * Points on the quadratic twist are NOT rejected: deciding twist membership costs a Legendre
 * symbol (a ≈255-bit exponentiation, slower than the evaluation itself). That is safe because
 *   (1) Curve25519 is twist-secure: the twist has order 4·ℓ' with ℓ' a 253-bit prime, so a twist
 *       point leaks nothing usable about a scalar (no small subgroup to run Pohlig–Hellman in);
 *   (2) every scalar we use is clamped (2^254 + 8m), so the 4-torsion of the twist (and the
 *       8-torsion of the curve) is annihilated — an attacker learns no scalar bits mod 8;
 *   (3) a twist point's evaluation lives in the twist's order-ℓ' subgroup, disjoint from the
 *       curve's order-ℓ subgroup where every honest element lives, so it simply matches nothing.
 * An X25519 result of all zeros is also rejected (libsodium returns −1; see `x25519`).
 *
 * `randomElement` returns X25519(r, basepoint) for a fresh random clamped r: a uniformly random
 * element of the same form as a real blinded element X25519(r, H(id)) — both are [r]G for a
 * clamped r and a generator G of the order-ℓ group. Telling a dummy from a real blinded element
 * means deciding something about discrete logs, i.e. the DDH assumption X25519 itself rests on.
 * One fixed-base multiplication (≈40,000/s) instead of hash-to-group plus a variable-base one.
 *
 * Tokens are TOKEN_BYTES = 12 bytes (96 bits), as secretflow's unbalanced PSI truncates its
 * OPRF outputs: finalize (oprf.ts) is a random oracle, so two different IDs share a token with
 * probability 2^-96 per pair. Bounds, for a universe of U tokens of one ID type and a session
 * of n client tokens:
 *   - false matches per session (a client token outside the universe equal to one in it):
 *     ≈ n·U / 2^96 — at U = 10^9, n = 10^6: 1.3·10^-14;
 *   - collisions inside a universe (two users sharing a token; the token table keeps the first,
 *     so the second is unmatchable — never a wrong user): ≈ U² / 2^97 — at U = 10^9: 6.3·10^-12.
 * Media's ID hashes (SHA-256("type:id") truncated to the same width, protocol/universe.ts) have
 * the same U² / 2^97 bound. A token reveals nothing without the OPRF key, so the shorter width
 * costs no security beyond these collision bounds. Every on-disk table of tokens names its
 * layout (media's PREPARED_FORMAT, its publication's PUBLICATION_FORMAT, the broker's
 * STORED_FORMAT), so a state directory of 16-byte tokens is prepared or synced again.
 * A 12-byte token is the first 12 bytes of the former 16-byte one (finalize is unchanged), so
 * the broker's stored cohort sketches (8-byte token prefixes, protocol/privacy.ts) of earlier
 * releases stay comparable across the change and the differencing rule keeps holding.
 *
 * Thread-safety: stateless apart from module-level constants; the sodium bindings are reentrant.
 * Safe to import from any worker thread. No secret is ever handled with BigInt here.
 */
import { createRequire } from 'node:module';
import { randomBytes, randomFillSync } from 'node:crypto';
import { countPrimitive } from '../common/op-counts.ts';

/** The field prime p = 2^255 − 19. */
export const P: bigint = 2n ** 255n - 19n;
/** The prime order ℓ = 2^252 + 27742317777372353535851937790883648493 of the subgroup we use. */
export const L: bigint = 2n ** 252n + 27742317777372353535851937790883648493n;
/** Bytes in an encoded group element (an X25519 u-coordinate). */
export const ELEMENT_BYTES = 32;
/** Bytes in an X25519 scalar. */
export const SCALAR_BYTES = 32;
/** Bytes in a finalized OPRF output (the matching token): 96 bits; collision bounds above. */
export const TOKEN_BYTES = 12;

/** A canonical X25519 u-coordinate of a non-low-order point (32 bytes, little-endian). */
export type ElementBytes = Uint8Array;
/** A clamped X25519 scalar (32 bytes, little-endian: 2^254 + 8m, 0 ≤ m < 2^251). */
export type ScalarBytes = Uint8Array;
/** A TOKEN_BYTES-byte (12-byte) OPRF output token. */
export type TokenBytes = Uint8Array;
/** Source of randomness: returns exactly n fresh random bytes. Injectable for deterministic tests. */
export type Rng = (n: number) => Uint8Array;

/** The subset of sodium-native used by the crypto modules (sodium-native ships no types). */
export interface Sodium {
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_core_ed25519_from_uniform(p: Uint8Array, r: Uint8Array): void;
  crypto_core_ed25519_add(r: Uint8Array, p: Uint8Array, q: Uint8Array): void;
  crypto_core_ed25519_scalar_reduce(r: Uint8Array, s: Uint8Array): void;
  crypto_core_ed25519_scalar_invert(recip: Uint8Array, s: Uint8Array): void;
  crypto_core_ed25519_scalar_sub(z: Uint8Array, x: Uint8Array, y: Uint8Array): void;
  crypto_core_ed25519_scalar_negate(neg: Uint8Array, s: Uint8Array): void;
  sodium_memzero(b: Uint8Array): void;
  crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
  crypto_hash_sha512(out: Uint8Array, input: Uint8Array): void;
}

/** libsodium through sodium-native (CommonJS, loaded with createRequire). Internal to crypto/. */
export const sodium: Sodium = createRequire(import.meta.url)('sodium-native') as Sodium;

/** Why an element was refused. */
export type InvalidElementReason = 'length' | 'non-canonical' | 'low-order';

/** An element failed validation; `index` is its position when it came in a batch. */
export class InvalidElementError extends Error {
  readonly reason: InvalidElementReason;
  readonly index: number | undefined;
  /** The message without the "element <index>: " prefix. */
  readonly detail: string;
  constructor(reason: InvalidElementReason, detail: string, index?: number) {
    super(`${index === undefined ? 'element' : `element ${index}`}: ${detail}`);
    this.name = 'InvalidElementError';
    this.reason = reason;
    this.index = index;
    this.detail = detail;
  }
}

/** A field element as its 32-byte little-endian encoding. */
export function uToBytes(u: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = u;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The order-8 u-coordinates (points (u, ±v) of order 8 on Curve25519). */
const U_ORDER8_A = 325606250916557431795983626356110631294008115727848805560023387167927233504n;
const U_ORDER8_B = 39382357235489614581723060781553021112529911719440698176882885853963445705823n;
const LOW_ORDER_U: readonly bigint[] = [0n, 1n, P - 1n, U_ORDER8_A, U_ORDER8_B];
/** Private copies used for validation (exported copies may be mutated by callers harmlessly). */
const LOW_ORDER_BYTES: readonly Uint8Array[] = LOW_ORDER_U.map(uToBytes);

/** Canonical encodings of the low-order u-coordinates: 0, 1, p−1 and the two order-8 points. */
export const LOW_ORDER_POINTS: readonly Uint8Array[] = Object.freeze(LOW_ORDER_U.map(uToBytes));

function describe(e: unknown): string {
  if (e instanceof Uint8Array) return `${e.length} bytes`;
  if (e === null) return 'null';
  return typeof e === 'object' ? (e.constructor?.name ?? 'object') : typeof e;
}

function hex(e: Uint8Array): string {
  return Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('hex');
}

/**
 * Throws InvalidElementError unless `e` is a 32-byte canonical u-coordinate (u < p) that is not
 * one of the low-order points. Constant work per element; never touches a secret.
 */
export function validateElement(e: Uint8Array, index?: number): void {
  if (!(e instanceof Uint8Array) || e.length !== ELEMENT_BYTES) {
    throw new InvalidElementError('length', `expected a 32-byte Uint8Array, got ${describe(e)}`, index);
  }
  // u < p with p = 0x7fff…ffed: top byte < 0x7f, or top byte 0x7f, bytes 30..1 all 0xff, byte 0 < 0xed.
  const top = e[31]!;
  let nonCanonical = top > 0x7f;
  if (top === 0x7f) {
    let allFF = true;
    for (let i = 1; i < 31; i++) {
      if (e[i] !== 0xff) {
        allFF = false;
        break;
      }
    }
    nonCanonical = allFF && e[0]! >= 0xed;
  }
  if (nonCanonical) {
    throw new InvalidElementError('non-canonical', `expected a u-coordinate below 2^255-19, got 0x${hex(e)} (little-endian)`, index);
  }
  for (const lo of LOW_ORDER_BYTES) {
    let same = true;
    for (let i = 0; i < 32; i++) {
      if (e[i] !== lo[i]) {
        same = false;
        break;
      }
    }
    if (same) {
      throw new InvalidElementError('low-order', `expected an element of the prime-order group, got the low-order point 0x${hex(e)}`, index);
    }
  }
}

/** Validates every element before returning, so a batch is accepted or refused as a whole. */
/** 1 at each byte value that begins a low-order point's encoding (validatePacked's fast path). */
const LOW_ORDER_FIRST = (() => {
  const t = new Uint8Array(256);
  for (const lo of LOW_ORDER_BYTES) t[lo[0]!] = 1;
  return t;
})();

/**
 * validateElement on every element of a packed list (`bytes`: whole ELEMENT_BYTES elements back
 * to back), without a view per element: an element whose top byte is below 0x7f and whose
 * first byte begins no low-order point is valid as it stands (canonical, not low-order); any
 * other goes through validateElement, so the checks and errors are exactly its — the index in
 * an error is `firstIndex` + the element's place in `bytes`.
 */
export function validatePacked(bytes: Uint8Array, firstIndex = 0): void {
  if (!(bytes instanceof Uint8Array) || bytes.length % ELEMENT_BYTES !== 0) {
    throw new InvalidElementError('length', `expected whole ${ELEMENT_BYTES}-byte elements, got ${describe(bytes)}`, firstIndex);
  }
  validateStrided(bytes, 0, ELEMENT_BYTES, bytes.length / ELEMENT_BYTES, firstIndex);
}

/**
 * validatePacked on `count` elements read in place, element k the ELEMENT_BYTES bytes at
 * `start + k·stride` of `bytes` (common/packed-list.ts StridedItems: a BlindedBatch's elements
 * in its message bytes): the same checks and errors, the index in an error `firstIndex` + k.
 */
export function validateStrided(bytes: Uint8Array, start: number, stride: number, count: number, firstIndex = 0): void {
  if (!(bytes instanceof Uint8Array)) throw new InvalidElementError('length', `expected whole ${ELEMENT_BYTES}-byte elements, got ${describe(bytes)}`, firstIndex);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(stride) || !Number.isSafeInteger(count) || start < 0 || stride < ELEMENT_BYTES || count < 0 || (count > 0 && start + (count - 1) * stride + ELEMENT_BYTES > bytes.length)) {
    throw new RangeError(`expected ${count} elements at ${start} + k·${stride} within ${bytes.length} bytes`);
  }
  for (let k = 0, at = start; k < count; k++, at += stride) {
    if (bytes[at + ELEMENT_BYTES - 1]! < 0x7f && LOW_ORDER_FIRST[bytes[at]!] === 0) continue;
    validateElement(bytes.subarray(at, at + ELEMENT_BYTES), firstIndex + k);
  }
}

export function validateElements(es: readonly Uint8Array[]): void {
  if (!Array.isArray(es)) throw new TypeError(`expected an array of elements, got ${describe(es)}`);
  for (let i = 0; i < es.length; i++) validateElement(es[i]!, i);
}

/** Bytes of CSPRNG output the default RNG reads at a time. */
const RNG_POOL_BYTES = 16384;
let rngPool = new Uint8Array(0);
let rngPoolAt = 0;

/**
 * Default RNG: the operating system CSPRNG (node:crypto), read RNG_POOL_BYTES at a time — one
 * call per 512 scalars instead of one per scalar (a `randomBytes(32)` call cost ≈ 30 µs here,
 * twice the X25519 it feeds: the broker's 45,000 dummies spent 1.5 s in it). Each draw is a
 * copy of fresh pool bytes, which are zeroed as they are handed out (no output is ever given
 * twice, nor kept once given); each thread has its own pool (module state). Draws larger than
 * a quarter of the pool go to the CSPRNG directly. Same policy as policy.ts's cryptoUniform.
 */
export const defaultRng: Rng = (n) => {
  if (n > RNG_POOL_BYTES / 4) return randomBytes(n);
  const at = takePool(n);
  const out = rngPool.slice(at, at + n);
  rngPool.fill(0, at, at + n);
  return out;
};

/** Claims the pool's next n (≤ RNG_POOL_BYTES / 4) fresh bytes, refilling it first if short; returns their offset. */
function takePool(n: number): number {
  if (rngPool.length - rngPoolAt < n) {
    if (rngPool.length === 0) rngPool = new Uint8Array(RNG_POOL_BYTES);
    randomFillSync(rngPool);
    rngPoolAt = 0;
  }
  const at = rngPoolAt;
  rngPoolAt += n;
  return at;
}

/** Calls `rng(n)` and checks it kept its contract; returns a private copy. */
export function drawBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  drawBytesInto(rng, n, out, 0);
  return out;
}

/**
 * drawBytes into out[at, at + n): the same checks, the copy written where the caller keeps it
 * (no array per draw). From the default RNG, the pool's bytes are copied straight to `out`
 * (the bytes defaultRng(n) would return, zeroed in the pool as it does: no array at all).
 */
export function drawBytesInto(rng: Rng, n: number, out: Uint8Array, at: number): void {
  if (rng === defaultRng && n <= RNG_POOL_BYTES / 4 && out instanceof Uint8Array && Number.isInteger(at) && at >= 0 && at + n <= out.length) {
    const from = takePool(n);
    for (let i = 0; i < n; i++) out[at + i] = rngPool[from + i]!;
    rngPool.fill(0, from, from + n);
    return;
  }
  if (typeof rng !== 'function') throw new TypeError(`expected an rng function, got ${describe(rng)}`);
  const b = rng(n);
  if (!(b instanceof Uint8Array) || b.length !== n) {
    throw new TypeError(`expected rng(${n}) to return ${n} bytes, got ${describe(b)}`);
  }
  out.set(b, at);
}

/** Clamps 32 bytes in place per RFC 7748 §5: clear bits 0,1,2 and 255, set bit 254. */
export function clampInPlace(k: Uint8Array): Uint8Array {
  k[0]! &= 0xf8;
  k[31]! &= 0x7f;
  k[31]! |= 0x40;
  return k;
}

/** True when `k` is 32 bytes already in clamped form. */
export function isClamped(k: Uint8Array): boolean {
  return k instanceof Uint8Array && k.length === SCALAR_BYTES && (k[0]! & 0x07) === 0 && (k[31]! & 0xc0) === 0x40;
}

/**
 * X25519 into `out` with the all-zero result refused (sodium returns −1 for it). The element must
 * already have passed validateElement; a zero result then means the scalar is ≡ 0 mod the point's
 * order — negligible for honest inputs — and is reported as 'low-order' for that element.
 */
export function x25519(out: Uint8Array, scalar: Uint8Array, element: Uint8Array, index?: number): Uint8Array {
  try {
    countPrimitive('x25519');
    sodium.crypto_scalarmult(out, scalar, element);
  } catch {
    throw new InvalidElementError('low-order', 'expected a non-zero X25519 result, got the all-zero output', index);
  }
  return out;
}

/**
 * A uniformly random element of the prime-order group: X25519(r, basepoint) for a fresh random
 * clamped r. Used by the broker for dummy blinded elements; see the module header for why these
 * are indistinguishable from blinded real elements.
 */
export function randomElement(rng: Rng = defaultRng): ElementBytes {
  const r = clampInPlace(drawBytes(rng, SCALAR_BYTES));
  const out = new Uint8Array(ELEMENT_BYTES);
  try {
    // A clamped r is 8n with 0 < n < ℓ, so [r]B is never the identity; validation is a guard.
    countPrimitive('x25519Base');
    sodium.crypto_scalarmult_base(out, r);
  } finally {
    sodium.sodium_memzero(r);
  }
  validateElement(out);
  return out;
}

/** Scalars drawn per rng call by randomElements: 4096 bytes, inside defaultRng's pooled draws. */
const RANDOM_ELEMENTS_BLOCK = 128;

/**
 * `count` random elements, each exactly randomElement's X25519(clamp(r), basepoint) for a fresh
 * r, as views of one packed buffer (randomElementsInto).
 */
export function randomElements(count: number, rng: Rng = defaultRng): ElementBytes[] {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`expected a count of elements ≥ 0, got ${count}`);
  const packed = new Uint8Array(ELEMENT_BYTES * count);
  randomElementsInto(packed, 0, count, rng);
  return Array.from({ length: count }, (_, i) => packed.subarray(ELEMENT_BYTES * i, ELEMENT_BYTES * (i + 1)));
}

/**
 * Writes `count` random elements, each exactly randomElement's X25519(clamp(r), basepoint) for
 * a fresh r, into `out` from element `at` on, in one pass: the scalars come
 * RANDOM_ELEMENTS_BLOCK at a time (one rng call per block instead of per element; an rng that
 * is a byte stream, as defaultRng, gives the same r values either way), in one scratch buffer
 * zeroed before returning. The broker's padding draws ≈45,000 of these per session straight
 * into its packed dummies; one array and one rng call per element cost about a third of the
 * fixed-base multiplications.
 */
export function randomElementsInto(out: Uint8Array, at: number, count: number, rng: Rng = defaultRng): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`expected a count of elements ≥ 0, got ${count}`);
  if (!Number.isSafeInteger(at) || at < 0 || ELEMENT_BYTES * (at + count) > out.length) {
    throw new RangeError(`expected elements [${at}, ${at + count}) to fit a buffer of ${out.length / ELEMENT_BYTES} elements`);
  }
  const scalars = new Uint8Array(SCALAR_BYTES * Math.min(count, RANDOM_ELEMENTS_BLOCK));
  const r = new Uint8Array(SCALAR_BYTES);
  try {
    for (let start = 0; start < count; start += RANDOM_ELEMENTS_BLOCK) {
      const k = Math.min(RANDOM_ELEMENTS_BLOCK, count - start);
      drawBytesInto(rng, SCALAR_BYTES * k, scalars, 0);
      countPrimitive('x25519Base', k);
      for (let j = 0; j < k; j++) {
        for (let b = 0; b < SCALAR_BYTES; b++) r[b] = scalars[SCALAR_BYTES * j + b]!;
        clampInPlace(r);
        const e = out.subarray(ELEMENT_BYTES * (at + start + j), ELEMENT_BYTES * (at + start + j + 1));
        // A clamped r is 8n with 0 < n < ℓ, so [r]B is never the identity; validation is a guard.
        sodium.crypto_scalarmult_base(e, r);
        validateElement(e, start + j);
      }
    }
  } finally {
    sodium.sodium_memzero(scalars);
    sodium.sodium_memzero(r);
  }
}
