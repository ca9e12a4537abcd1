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
 * and on the order-ℓ subgroup multiplies by that integer mod ℓ. X25519 speaks u-coordinates, and
 * u([−a]P) = u(−[a]P) = u([a]P), so unblinding needs a clamped s ≡ ±r^-1 (mod ℓ), either sign:
 *   s = 2^254 + 8m  with  m ≡ ±(8r)^-1 − 2^251 (mod ℓ)   (as 2^254 ≡ 8·2^251).
 * We compute t = (8r)^-1 natively (scalar_reduce of 8r, scalar_invert — libsodium, constant
 * time), then both m₊ = t − 2^251 and m₋ = −t − 2^251 (scalar_sub), and keep the one below 2^251,
 * selected with a byte mask, no branch on t. One of them is, unless t lies within δ = ℓ − 2^252
 * (≈ 2^124.4) of 0 or of ℓ: about one r in 2^126 is refused, and we then draw a new r (the
 * rejection depends only on the discarded r, so it leaks nothing about the kept one; the sign
 * kept is never revealed either — it changes no output). With the + sign alone, half of all r
 * would be refused; this release takes either sign, so one draw per element suffices.
 * After 128 rejections (impossible with a working RNG) blind throws instead of looping.
 * The inversion costs as much as an X25519 call, so `blindBatch` inverts a whole round of
 * candidates at once (Montgomery's trick mod ℓ: constant-time 16-bit-limb multiplication in JS
 * plus libsodium's reduce), over packed buffers: no array per candidate.
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
  drawBytesInto,
  isClamped,
  sodium,
  validateElement,
  validateElements,
  x25519,
} from './group.ts';
import { SHA512_BYTES, sha512FramedInto } from './digest-into.ts';
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

/** Rejections allowed before blind gives up (each refuses with probability ≈ 2^-126). */
const MAX_BLIND_ATTEMPTS = 128;
/** 2^251 as a little-endian scalar (< ℓ). */
const TWO_251 = (() => {
  const b = new Uint8Array(32);
  b[31] = 0x08;
  return b;
})();
/** −2^251 mod ℓ = ℓ − 2^251, little-endian. */
const MINUS_TWO_251 = (() => {
  const b = new Uint8Array(32);
  sodium.crypto_core_ed25519_scalar_negate(b, TWO_251);
  return b;
})();

/**
 * From t = (8r)^-1 mod ℓ, writes to `s` the clamped scalar 2^254 + 8m, m = t − 2^251 (s·r ≡ 1)
 * when that is below 2^251, else m = −t − 2^251 (s·r ≡ −1); the choice is a byte mask, not a
 * branch. Returns false when neither m is below 2^251 (t within ≈ 2^124.4 of 0 or ℓ): the caller
 * draws another r. `mPlus` and `mMinus` are 32-byte scratch.
 */
function clampedInverseInto(s: Uint8Array, t: Uint8Array, mPlus: Uint8Array, mMinus: Uint8Array): boolean {
  sodium.crypto_core_ed25519_scalar_sub(mPlus, t, TWO_251);
  sodium.crypto_core_ed25519_scalar_sub(mMinus, MINUS_TWO_251, t);
  const plus = ((mPlus[31]! & 0xf8) - 1) >>> 31; // 1 when m₊ < 2^251 (m < ℓ < 2^253: bits 251..255 clear)
  const minus = ((mMinus[31]! & 0xf8) - 1) >>> 31;
  const mask = -plus & 0xff;
  // s = 8·(plus ? m₊ : m₋) + 2^254; 8m < 2^254 fits in 32 bytes.
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const m = mMinus[i]! ^ ((mPlus[i]! ^ mMinus[i]!) & mask);
    const v = (m << 3) | carry;
    s[i] = v & 0xff;
    carry = v >>> 8;
  }
  s[31]! |= 0x40;
  return (plus | minus) === 1;
}

/**
 * Draws a random clamped r with a clamped s ≡ ±r^-1 (mod ℓ); see the module header.
 * Exported for tests (attempt counting); not part of the protocol surface.
 */
export function drawBlindingPair(rng: Rng = defaultRng): { r: ScalarBytes; s: ScalarBytes; attempts: number } {
  const wide = new Uint8Array(64);
  const r8 = new Uint8Array(32);
  const inv = new Uint8Array(32);
  const m = new Uint8Array(32);
  const m2 = new Uint8Array(32);
  try {
    for (let attempt = 1; attempt <= MAX_BLIND_ATTEMPTS; attempt++) {
      const r = clampInPlace(drawBytes(rng, SCALAR_BYTES));
      // wide = 8r (258 bits), reduced mod ℓ; inv = (8r)^-1 (mod ℓ).
      timesEightInto(wide, r, 0);
      sodium.crypto_core_ed25519_scalar_reduce(r8, wide);
      sodium.crypto_core_ed25519_scalar_invert(inv, r8); // r8 ≠ 0: 8r = 64n, 0 < n < ℓ
      const s = new Uint8Array(32);
      if (clampedInverseInto(s, inv, m, m2)) return { r, s, attempts: attempt };
      sodium.sodium_memzero(r);
      sodium.sodium_memzero(s);
    }
  } finally {
    for (const b of [wide, r8, inv, m, m2]) sodium.sodium_memzero(b);
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

/** 2^-16: scalarMulInto's carries by multiplication (exact), not by `%` and division. */
const INV_2_16 = 1 / 65536;

/**
 * out ← a·b mod ℓ for the 32-byte little-endian scalars at a[aAt..] and b[bAt..]: schoolbook
 * product over 16-bit limbs (every column sum stays below 2^37, exact in a double; no
 * data-dependent branches), then libsodium's constant-time 64-byte reduce. `out` may be `a`
 * or `b` (both are read before it is written).
 */
function scalarMulInto(out: Uint8Array, a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, wide: Uint8Array, acc: Float64Array, limbs: Float64Array): void {
  for (let j = 0; j < 16; j++) limbs[j] = b[bAt + 2 * j]! | (b[bAt + 2 * j + 1]! << 8);
  acc.fill(0);
  for (let i = 0; i < 16; i++) {
    const ai = a[aAt + 2 * i]! | (a[aAt + 2 * i + 1]! << 8);
    for (let j = 0; j < 16; j++) acc[i + j]! += ai * limbs[j]!;
  }
  // v < 2^38 is exact in a double, and so are v · 2^-16 and its floor: carry and limb without
  // a floating-point `%` or division (fmod's time depends on its operands; roundsd's does not)
  let carry = 0;
  for (let k = 0; k < 32; k++) {
    const v = acc[k]! + carry;
    carry = Math.floor(v * INV_2_16);
    const lo = v - carry * 65536;
    wide[2 * k] = lo & 0xff;
    wide[2 * k + 1] = lo >>> 8;
  }
  sodium.crypto_core_ed25519_scalar_reduce(out, wide);
}

/**
 * blind over a batch; validates ALL elements first. Blinding pairs are found with Montgomery's
 * trick mod ℓ: each round draws an r for every element still without one, inverts all the 8r at
 * once (one libsodium inversion plus three constant-time multiplications each) and keeps the r
 * with a clamped ±inverse — all but about one in 2^126, so one round in practice. Blinding
 * factors are distributed exactly as in `blind` (the same acceptance rule); only the RNG draw
 * order differs. The scalars r live in packed buffers (one 32-byte slot per element), zeroed
 * before returning. The blinded elements and the inverses are views of two packed buffers
 * (32 bytes per element each, in order): no array or ArrayBuffer per element.
 */
export function blindBatch(es: readonly ElementBytes[], rng: Rng = defaultRng): Blinded[] {
  validateElements(es);
  const n = es.length;
  const rs = new Uint8Array(32 * n); // r of element i at 32i (secret)
  const ss = new Uint8Array(32 * n); // its clamped ±inverse at 32i (secret; handed out as views)
  const blindedOut = new Uint8Array(ELEMENT_BYTES * n);
  const r8 = new Uint8Array(32 * n); // 8r mod ℓ of the round's j-th candidate, packed
  const prefix = new Uint8Array(32 * n); // running products of r8
  const wide = new Uint8Array(64);
  const acc = new Float64Array(32);
  const limbs = new Float64Array(16);
  const x = new Uint8Array(32);
  const inv = new Uint8Array(32);
  const tmp = new Uint8Array(32);
  const m = new Uint8Array(32);
  const m2 = new Uint8Array(32);
  const r = new Uint8Array(32);
  const s = new Uint8Array(32);
  let pending: number[] = Array.from({ length: n }, (_, i) => i);
  let done = false;
  try {
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_BLIND_ATTEMPTS) {
        throw new Error(`expected an rng producing random bytes, got ${MAX_BLIND_ATTEMPTS} rounds without invertible clamped blinding scalars`);
      }
      const k = pending.length;
      for (let j = 0; j < k; j++) {
        const at = 32 * pending[j]!;
        drawBytesInto(rng, SCALAR_BYTES, rs, at);
        rs[at]! &= 0xf8; // clamp (RFC 7748 §5)
        rs[at + 31]! &= 0x7f;
        rs[at + 31]! |= 0x40;
        timesEightInto(wide, rs, at);
        sodium.crypto_core_ed25519_scalar_reduce(x, wide);
        r8.set(x, 32 * j);
        if (j === 0) prefix.set(x, 0);
        else {
          scalarMulInto(x, prefix, 32 * (j - 1), x, 0, wide, acc, limbs);
          prefix.set(x, 32 * j);
        }
      }
      for (let i = 0; i < 32; i++) x[i] = prefix[32 * (k - 1) + i]!;
      sodium.crypto_core_ed25519_scalar_invert(inv, x); // product of nonzero residues mod prime ℓ: ≠ 0
      const next: number[] = [];
      for (let j = k - 1; j >= 0; j--) {
        // tmp = (8r_j)^-1 = inv · prefix_{j-1}; then inv ← inv · 8r_j = (prefix_{j-1})^-1
        if (j === 0) tmp.set(inv);
        else {
          scalarMulInto(tmp, inv, 0, prefix, 32 * (j - 1), wide, acc, limbs);
          scalarMulInto(inv, inv, 0, r8, 32 * j, wide, acc, limbs);
        }
        const idx = pending[j]!;
        if (clampedInverseInto(s, tmp, m, m2)) {
          ss.set(s, 32 * idx);
        } else {
          rs.fill(0, 32 * idx, 32 * idx + 32);
          next.push(idx);
        }
      }
      r8.fill(0, 0, 32 * k);
      prefix.fill(0, 0, 32 * k);
      pending = next.reverse();
    }
    const out: Blinded[] = new Array<Blinded>(n);
    for (let i = 0; i < n; i++) {
      for (let b = 0; b < 32; b++) r[b] = rs[32 * i + b]!;
      const at = 32 * i;
      out[i] = { blinded: x25519(blindedOut.subarray(at, at + ELEMENT_BYTES), r, es[i]!, i), inverse: ss.subarray(at, at + 32) };
    }
    done = true;
    return out;
  } finally {
    if (!done) sodium.sodium_memzero(ss); // no inverse is handed out
    for (const b of [rs, r8, prefix, wide, x, inv, tmp, m, m2, r, s]) sodium.sodium_memzero(b);
    acc.fill(0);
    limbs.fill(0);
  }
}

/**
 * out ← 8·x for the 32-byte little-endian x at x[at..]: into a 64-byte `out` (for
 * scalar_reduce, the rest zeroed) or a 32-byte one when 8·x < 2^256 is known to fit.
 */
function timesEightInto(out: Uint8Array, x: Uint8Array, at: number): void {
  out.fill(0);
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const v = (x[at + i]! << 3) | carry;
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

/** unblind over a batch; validates ALL inputs first. The results are views of one packed buffer. */
export function unblindBatch(inverses: readonly ScalarBytes[], evaluated: readonly ElementBytes[]): ElementBytes[] {
  if (!Array.isArray(inverses) || !Array.isArray(evaluated) || inverses.length !== evaluated.length) {
    throw new RangeError(`expected equal-length arrays of inverses and evaluated elements, got ${Array.isArray(inverses) ? inverses.length : describe(inverses)} and ${Array.isArray(evaluated) ? evaluated.length : describe(evaluated)}`);
  }
  for (let i = 0; i < inverses.length; i++) checkInverse(inverses[i]!, i);
  validateElements(evaluated);
  // views of one packed buffer: no ArrayBuffer per element
  const packed = new Uint8Array(ELEMENT_BYTES * evaluated.length);
  const out: Uint8Array[] = new Array<Uint8Array>(evaluated.length);
  for (let i = 0; i < evaluated.length; i++) out[i] = x25519(packed.subarray(ELEMENT_BYTES * i, ELEMENT_BYTES * (i + 1)), inverses[i]!, evaluated[i]!, i);
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
  const digest = sha512FramedInto(finalizeDigest, FINALIZE_LABEL, input, unblinded);
  for (let i = 0; i < TOKEN_BYTES; i++) out[at + i] = digest[i]!;
}
const finalizeDigest = new Uint8Array(SHA512_BYTES);
