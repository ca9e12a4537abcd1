/**
 * The cleanroom OPRF on X25519: F(k, x) = finalize(x, X25519(k, H(x))), with H = hashToGroup
 * (h2c.ts) and every group operation a plain libsodium X25519 call (≈23,000/s on one core).
 * This is the 2HashDH OPRF of Jarecki et al. (JKK14 / RFC 9497's base mode) on the order-ℓ
 * subgroup of Curve25519; security rests on the one-more-gap-DH assumption in that group.
 *
 * Roles in the blinded intersection:
 *   holder of x:   { blinded, inverse } = blind(H(x))                 blinded = X25519(r, H(x))
 *   key holder:    evaluated = key.evaluate(blinded)                  = X25519(k, blinded)
 *   holder of x:   unblinded = unblind(inverse, evaluated)            = X25519(s, evaluated) = X25519(k, H(x))
 *                  token     = finalize(x, unblinded)                 12 bytes, compared for matching
 *
 * Blinding with clamped scalars only. X25519 clamps every scalar to 2^254 + 8m (0 ≤ m < 2^251),
 * and on the order-ℓ subgroup multiplies by that integer mod ℓ. For a random clamped r we want a
 * clamped s ≡ r^-1 (mod ℓ):  s = 2^254 + 8m  ⇔  m ≡ (r^-1 − 2^254)·8^-1 = (8r)^-1 − 2^251 (mod ℓ).
 * We compute m natively (scalar_reduce of 8r, scalar_invert, scalar_sub of 2^251 — libsodium,
 * constant time) and accept r when m < 2^251 (about one r in two; ℓ ≈ 2^252); otherwise we draw a
 * new r. The rejection depends only on the discarded r, so it leaks nothing about the kept one.
 * After 128 rejections (probability 2^-128 with a working RNG) blind throws instead of looping.
 * The inversion costs as much as an X25519 call, so `blindBatch` inverts a whole round of
 * candidates at once (Montgomery's trick mod ℓ: constant-time 16-bit-limb multiplication in JS
 * plus libsodium's reduce), ≈ 1.6× faster per element than `blind`.
 *
 * Keys: an OprfKey is a clamped X25519 scalar (32 random bytes clamped per RFC 7748). A clamped
 * scalar is 8n with 2^251 ≤ n < 2^252 < ℓ, so it is never ≡ 0 mod ℓ and is always invertible mod ℓ
 * (this is also why every blinding r has an inverse and why [k]G is never the identity). The key lives in a JavaScript private field: JSON.stringify and util.inspect (hence
 * loggers) never show it; `toBytes()` is the one explicit export. `fingerprint()` is public.
 *
 * Validation: every element entering evaluate/blind/unblind passes group.ts validateElement
 * (length, canonical u < p, not low-order) before any secret scalar touches it; batch calls
 * validate the whole batch first and throw InvalidElementError carrying the offending index.
 * An all-zero X25519 result is refused as 'low-order'. Twist points are accepted and evaluate to
 * values that match nothing (see group.ts). Because every scalar is clamped (a multiple of 8),
 * small-order components of a malicious element vanish and reveal no key bits.
 *
 * finalize(x, z) = SHA-512("cleanroom/v1/oprf-finalize" ‖ u16be(|x|) ‖ x ‖ z)[0..TOKEN_BYTES]
 * (12 bytes; collision bounds in group.ts); binding x in makes the token a function of the
 * identifier as well as the group element.
 *
 * Thread-safety: OprfKey is immutable; all functions are synchronous and reentrant. Evaluating
 * a large batch on worker threads is oprf-pool.ts.
 */
import { createHash, hash } from 'node:crypto';
import {
  ELEMENT_BYTES,
  InvalidElementError,
  SCALAR_BYTES,
  TOKEN_BYTES,
  clampInPlace,
  defaultRng,
  drawBytes,
  isClamped,
  sodium,
  validateElement,
  validateElements,
  x25519,
} from './group.ts';
import { SHA512_BYTES, sha512Into } from './digest-into.ts';
import type { ElementBytes, Rng, ScalarBytes, TokenBytes } from './group.ts';

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v === null) return 'null';
  if (typeof v === 'number') return String(v);
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}

const BASEPOINT_HASH_PREFIX = 16;

/** An OPRF key: a clamped X25519 scalar. Immutable. */
export class OprfKey {
  readonly #k: Uint8Array;

  private constructor(k: Uint8Array) {
    this.#k = k;
  }

  /** A fresh key: 32 bytes from `rng`, clamped. */
  static generate(rng: Rng = defaultRng): OprfKey {
    return new OprfKey(clampInPlace(drawBytes(rng, SCALAR_BYTES)));
  }

  /** Restores a key from `toBytes()` output; refuses anything that is not a clamped scalar. */
  static fromBytes(b: Uint8Array): OprfKey {
    if (!(b instanceof Uint8Array) || b.length !== SCALAR_BYTES) {
      throw new TypeError(`expected a 32-byte OPRF key, got ${describe(b)}`);
    }
    if (!isClamped(b)) {
      throw new RangeError('expected a clamped X25519 scalar (bits 0-2 and 255 clear, bit 254 set), got an unclamped one');
    }
    return new OprfKey(Uint8Array.from(b));
  }

  /** A copy of the 32 key bytes (secret). */
  toBytes(): ScalarBytes {
    return Uint8Array.from(this.#k);
  }

  /** First 16 hex characters of SHA-256(X25519(key, basepoint)): identifies a key, reveals nothing. */
  fingerprint(): string {
    const pub = new Uint8Array(ELEMENT_BYTES);
    sodium.crypto_scalarmult_base(pub, this.#k);
    return createHash('sha256').update(pub).digest('hex').slice(0, BASEPOINT_HASH_PREFIX);
  }

  /** X25519(key, e) after validating e. */
  evaluate(e: ElementBytes): ElementBytes {
    validateElement(e);
    return x25519(new Uint8Array(ELEMENT_BYTES), this.#k, e);
  }

  /** evaluate over a batch; validates ALL elements first (InvalidElementError carries the index). */
  evaluateBatch(es: readonly ElementBytes[]): ElementBytes[] {
    validateElements(es);
    const out: Uint8Array[] = new Array<Uint8Array>(es.length);
    for (let i = 0; i < es.length; i++) out[i] = x25519(new Uint8Array(ELEMENT_BYTES), this.#k, es[i]!, i);
    return out;
  }
}

/** A blinded element and the clamped scalar that removes the blinding. Keep `inverse` secret. */
export interface Blinded {
  blinded: ElementBytes;
  inverse: ScalarBytes;
}

/** Rejections allowed before blind gives up (each accepts with probability ≈ 1/2). */
const MAX_BLIND_ATTEMPTS = 128;
/** 2^251 as a little-endian scalar (< ℓ). */
const TWO_251 = (() => {
  const b = new Uint8Array(32);
  b[31] = 0x08;
  return b;
})();

/**
 * Draws a random clamped r with a clamped s ≡ r^-1 (mod ℓ); see the module header.
 * Exported for tests (attempt counting); not part of the protocol surface.
 */
export function drawBlindingPair(rng: Rng = defaultRng): { r: ScalarBytes; s: ScalarBytes; attempts: number } {
  const wide = new Uint8Array(64);
  const r8 = new Uint8Array(32);
  const inv = new Uint8Array(32);
  const m = new Uint8Array(32);
  try {
    for (let attempt = 1; attempt <= MAX_BLIND_ATTEMPTS; attempt++) {
      const r = clampInPlace(drawBytes(rng, SCALAR_BYTES));
      // wide = 8r (258 bits), reduced mod ℓ; inv = (8r)^-1; m = inv − 2^251 (all mod ℓ).
      timesEightInto(wide, r);
      sodium.crypto_core_ed25519_scalar_reduce(r8, wide);
      sodium.crypto_core_ed25519_scalar_invert(inv, r8); // r8 ≠ 0: 8r = 64n, 0 < n < ℓ
      sodium.crypto_core_ed25519_scalar_sub(m, inv, TWO_251);
      if ((m[31]! & 0xf8) !== 0) {
        sodium.sodium_memzero(r);
        continue; // m ≥ 2^251: s would not be a clamped scalar
      }
      // s = 2^254 + 8m, 8m < 2^254.
      const s = new Uint8Array(32);
      timesEightInto(s, m); // 8m < 2^254: fits in 32 bytes
      s[31]! |= 0x40;
      return { r, s, attempts: attempt };
    }
  } finally {
    sodium.sodium_memzero(wide);
    sodium.sodium_memzero(r8);
    sodium.sodium_memzero(inv);
    sodium.sodium_memzero(m);
  }
  throw new Error(`expected an rng producing random bytes, got ${MAX_BLIND_ATTEMPTS} draws without an invertible clamped blinding scalar`);
}

function blindValidated(e: ElementBytes, rng: Rng, index: number | undefined): Blinded {
  const { r, s } = drawBlindingPair(rng);
  try {
    return { blinded: x25519(new Uint8Array(ELEMENT_BYTES), r, e, index), inverse: s };
  } finally {
    sodium.sodium_memzero(r);
  }
}

/** Blinds a (validated) element with a fresh random clamped scalar. */
export function blind(e: ElementBytes, rng: Rng = defaultRng): Blinded {
  validateElement(e);
  return blindValidated(e, rng, undefined);
}

/**
 * a·b mod ℓ for 32-byte little-endian scalars: schoolbook product over 16-bit limbs (every
 * column sum stays below 2^37, exact in a double; no data-dependent branches), then libsodium's
 * constant-time 64-byte reduce.
 */
function scalarMulInto(out: Uint8Array, a: Uint8Array, b: Uint8Array, wide: Uint8Array, acc: Float64Array): void {
  acc.fill(0);
  for (let i = 0; i < 16; i++) {
    const ai = a[2 * i]! | (a[2 * i + 1]! << 8);
    for (let j = 0; j < 16; j++) acc[i + j]! += ai * (b[2 * j]! | (b[2 * j + 1]! << 8));
  }
  let carry = 0;
  for (let k = 0; k < 32; k++) {
    const v = acc[k]! + carry;
    const lo = v % 65536;
    wide[2 * k] = lo & 0xff;
    wide[2 * k + 1] = lo >>> 8;
    carry = (v - lo) / 65536;
  }
  sodium.crypto_core_ed25519_scalar_reduce(out, wide);
}

/**
 * blind over a batch; validates ALL elements first. Blinding pairs are found with Montgomery's
 * trick mod ℓ: each round draws an r for every element still without one, inverts all the 8r at
 * once (one libsodium inversion plus three constant-time multiplications each) and keeps the r
 * whose inverse is a clamped scalar — about half, so ≈ log2(n) rounds. Blinding factors are
 * distributed exactly as in `blind` (the same acceptance rule); only the RNG draw order differs.
 */
export function blindBatch(es: readonly ElementBytes[], rng: Rng = defaultRng): Blinded[] {
  validateElements(es);
  const n = es.length;
  const rs: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(n);
  const ss: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(n);
  const wide = new Uint8Array(64);
  const acc = new Float64Array(32);
  const inv = new Uint8Array(32);
  const tmp = new Uint8Array(32);
  const m = new Uint8Array(32);
  let pending: number[] = Array.from({ length: n }, (_, i) => i);
  try {
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_BLIND_ATTEMPTS) {
        throw new Error(`expected an rng producing random bytes, got ${MAX_BLIND_ATTEMPTS} rounds without invertible clamped blinding scalars`);
      }
      const k = pending.length;
      const r8 = new Uint8Array(32 * k); // 8r mod ℓ, packed
      const prefix = new Uint8Array(32 * k); // running products of r8
      for (let j = 0; j < k; j++) {
        const r = clampInPlace(drawBytes(rng, SCALAR_BYTES));
        rs[pending[j]!] = r;
        timesEightInto(wide, r);
        const x = r8.subarray(32 * j, 32 * j + 32);
        sodium.crypto_core_ed25519_scalar_reduce(x, wide);
        if (j === 0) prefix.set(x, 0);
        else scalarMulInto(prefix.subarray(32 * j, 32 * j + 32), prefix.subarray(32 * (j - 1), 32 * j), x, wide, acc);
      }
      sodium.crypto_core_ed25519_scalar_invert(inv, prefix.subarray(32 * (k - 1), 32 * k)); // product of nonzero residues mod prime ℓ: ≠ 0
      const next: number[] = [];
      for (let j = k - 1; j >= 0; j--) {
        const x = r8.subarray(32 * j, 32 * j + 32);
        // tmp = (8r_j)^-1 = inv · prefix_{j-1}; then inv ← inv · 8r_j = (prefix_{j-1})^-1
        if (j === 0) tmp.set(inv);
        else scalarMulInto(tmp, inv, prefix.subarray(32 * (j - 1), 32 * j), wide, acc);
        if (j > 0) scalarMulInto(inv, inv, x, wide, acc);
        sodium.crypto_core_ed25519_scalar_sub(m, tmp, TWO_251);
        const idx = pending[j]!;
        if ((m[31]! & 0xf8) !== 0) {
          sodium.sodium_memzero(rs[idx]!);
          next.push(idx);
          continue;
        }
        const sOut = new Uint8Array(32);
        timesEightInto(sOut, m); // 8m < 2^254: fits in 32 bytes
        sOut[31]! |= 0x40;
        ss[idx] = sOut;
      }
      sodium.sodium_memzero(r8);
      sodium.sodium_memzero(prefix);
      pending = next.reverse();
    }
    const out: Blinded[] = new Array<Blinded>(n);
    for (let i = 0; i < n; i++) {
      const r = rs[i]!;
      out[i] = { blinded: x25519(new Uint8Array(ELEMENT_BYTES), r, es[i]!, i), inverse: ss[i]! };
      sodium.sodium_memzero(r);
    }
    return out;
  } finally {
    for (const r of rs) if (r !== undefined) sodium.sodium_memzero(r);
    sodium.sodium_memzero(wide);
    acc.fill(0);
    sodium.sodium_memzero(inv);
    sodium.sodium_memzero(tmp);
    sodium.sodium_memzero(m);
  }
}

/**
 * out ← 8·x, little-endian, for a 32-byte x: into a 64-byte `out` (for scalar_reduce, the
 * rest zeroed) or a 32-byte one when 8·x < 2^256 is known to fit.
 */
function timesEightInto(out: Uint8Array, x: Uint8Array): void {
  out.fill(0);
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const v = (x[i]! << 3) | carry;
    out[i] = v & 0xff;
    carry = v >>> 8;
  }
  if (out.length > 32) out[32] = carry;
}

function checkInverse(inverse: Uint8Array, index: number | undefined): void {
  if (!isClamped(inverse)) {
    const where = index === undefined ? 'inverse' : `inverse ${index}`;
    throw new TypeError(`${where}: expected a 32-byte clamped scalar from blind(), got ${describe(inverse)}${inverse instanceof Uint8Array && inverse.length === 32 ? ' (unclamped)' : ''}`);
  }
}

/** Removes the blinding: X25519(inverse, evaluated), after validating `evaluated`. */
export function unblind(inverse: ScalarBytes, evaluated: ElementBytes): ElementBytes {
  checkInverse(inverse, undefined);
  validateElement(evaluated);
  return x25519(new Uint8Array(ELEMENT_BYTES), inverse, evaluated);
}

/** unblind over a batch; validates ALL inputs first. */
export function unblindBatch(inverses: readonly ScalarBytes[], evaluated: readonly ElementBytes[]): ElementBytes[] {
  if (!Array.isArray(inverses) || !Array.isArray(evaluated) || inverses.length !== evaluated.length) {
    throw new RangeError(`expected equal-length arrays of inverses and evaluated elements, got ${Array.isArray(inverses) ? inverses.length : describe(inverses)} and ${Array.isArray(evaluated) ? evaluated.length : describe(evaluated)}`);
  }
  for (let i = 0; i < inverses.length; i++) checkInverse(inverses[i]!, i);
  validateElements(evaluated);
  const out: Uint8Array[] = new Array<Uint8Array>(evaluated.length);
  for (let i = 0; i < evaluated.length; i++) out[i] = x25519(new Uint8Array(ELEMENT_BYTES), inverses[i]!, evaluated[i]!, i);
  return out;
}

const FINALIZE_LABEL = new TextEncoder().encode('cleanroom/v1/oprf-finalize');

/** The TOKEN_BYTES-byte matching token: SHA-512(label ‖ u16be(|input|) ‖ input ‖ unblinded)[0..TOKEN_BYTES]. */
export function finalize(input: Uint8Array, unblinded: ElementBytes): TokenBytes {
  if (!(input instanceof Uint8Array) || input.length > 0xffff) {
    throw new TypeError(`expected input to be a Uint8Array of at most 65535 bytes, got ${describe(input)}`);
  }
  validateElement(unblinded);
  // SHA-512(label ‖ len16 ‖ input ‖ element) over one buffer: one hash call (the hot path of
  // universe preparation), the same bytes as hashing the parts in turn.
  const L = FINALIZE_LABEL.length;
  const msg = new Uint8Array(L + 2 + input.length + unblinded.length);
  msg.set(FINALIZE_LABEL, 0);
  msg[L] = input.length >>> 8;
  msg[L + 1] = input.length & 0xff;
  msg.set(input, L + 2);
  msg.set(unblinded, L + 2 + input.length);
  const digest = hash('sha512', msg, 'buffer');
  return new Uint8Array(digest.buffer, digest.byteOffset, TOKEN_BYTES).slice();
}

/** finalize's message scratch (label and length prefix rewritten per call); one per thread. */
let finalizeScratch = new Uint8Array(256);

/**
 * finalize(input, unblinded) written to out[at, at + TOKEN_BYTES): the same bytes, without a
 * message buffer, digest Buffer or token array per call (universe preparation finalizes every
 * user; SHA-512 through digest-into.ts).
 */
export function finalizeInto(out: Uint8Array, at: number, input: Uint8Array, unblinded: ElementBytes): void {
  if (!(input instanceof Uint8Array) || input.length > 0xffff) {
    throw new TypeError(`expected input to be a Uint8Array of at most 65535 bytes, got ${describe(input)}`);
  }
  if (!(out instanceof Uint8Array) || !Number.isInteger(at) || at < 0 || at + TOKEN_BYTES > out.length) {
    throw new RangeError(`expected room for a token at ${at} of ${out instanceof Uint8Array ? out.length : describe(out)} bytes`);
  }
  validateElement(unblinded);
  const L = FINALIZE_LABEL.length;
  const n = L + 2 + input.length + unblinded.length;
  if (finalizeScratch.length < n) finalizeScratch = new Uint8Array(2 * n);
  const msg = finalizeScratch;
  msg.set(FINALIZE_LABEL, 0);
  msg[L] = input.length >>> 8;
  msg[L + 1] = input.length & 0xff;
  msg.set(input, L + 2);
  msg.set(unblinded, L + 2 + input.length);
  const digest = sha512Into(finalizeDigest, msg.subarray(0, n));
  for (let i = 0; i < TOKEN_BYTES; i++) out[at + i] = digest[i]!;
}
const finalizeDigest = new Uint8Array(SHA512_BYTES);
