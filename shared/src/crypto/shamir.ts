/**
 * Shamir secret sharing (Shamir, "How to share a secret", CACM 1979) of 32-byte secrets over
 * the prime field GF(p), p = 2^521 − 1 (a Mersenne prime, so every 256-bit secret is a field
 * element and no encoding is lossy).
 *
 * `share(secret, t, xs)` draws a random polynomial f of degree t − 1 with f(0) = secret and
 * returns (x, f(x)) for each evaluation point x (the members' 1-based indexes). Any t shares
 * determine the secret (`combine`); any t − 1 of them are uniformly distributed and
 * independent of it — information-theoretic, whatever the adversary's computing power.
 * Coefficients come from 80 random bytes reduced mod p (statistical distance ≤ 2^-119).
 *
 * `combine` refuses fewer than t shares, repeated or out-of-range points, and a result that is
 * not a 32-byte value (what t − 1 shares or a forged share give with overwhelming
 * probability): it never returns a wrong secret silently unless shares were forged to a
 * value below 2^256.
 *
 * A share is encoded as 66 big-endian bytes (the value f(x) < p < 2^521).
 */
import { randomBytes } from 'node:crypto';

export const SHAMIR_PRIME = (1n << 521n) - 1n;
export const SHARE_BYTES = 66;
export const SECRET_BYTES = 32;

export type ShareValueBytes = Uint8Array;

export interface Share {
  /** Evaluation point, 1 ≤ x ≤ 255 (the holder's member index). */
  x: number;
  y: ShareValueBytes;
}

export type Rng = (n: number) => Uint8Array;
const defaultRng: Rng = (n) => new Uint8Array(randomBytes(n));

function toBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return v;
}

function toBytes(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError(`value does not fit in ${len} bytes`);
  return out;
}

const P = SHAMIR_PRIME;
const mod = (a: bigint): bigint => ((a % P) + P) % P;

function powMod(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}

function checkPoint(x: number): void {
  if (!Number.isSafeInteger(x) || x < 1 || x > 255) throw new RangeError(`expected a share point 1 ≤ x ≤ 255, got ${x}`);
}

/** Splits a 32-byte secret into shares at `xs`, any `t` of which recover it. */
export function share(secret: Uint8Array, t: number, xs: readonly number[], rng: Rng = defaultRng): Share[] {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_BYTES) throw new RangeError(`expected a ${SECRET_BYTES}-byte secret, got ${secret?.length}`);
  if (!Number.isSafeInteger(t) || t < 1 || t > xs.length) throw new RangeError(`expected 1 ≤ t ≤ ${xs.length} (the number of holders), got ${t}`);
  xs.forEach(checkPoint);
  if (new Set(xs).size !== xs.length) throw new RangeError('expected distinct share points');
  const coeffs = [toBig(secret)];
  for (let i = 1; i < t; i++) coeffs.push(toBig(rng(80)) % P);
  return xs.map((x) => {
    let y = 0n;
    const bx = BigInt(x);
    for (let i = coeffs.length - 1; i >= 0; i--) y = (y * bx + coeffs[i]!) % P;
    return { x, y: toBytes(y, SHARE_BYTES) };
  });
}

export class ShamirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShamirError';
  }
}

/**
 * The secret from at least `t` shares (Lagrange interpolation at 0 over the first t given).
 * Throws ShamirError on fewer than t shares, repeated points, a malformed share value, or an
 * interpolated value that is not a 32-byte secret.
 */
export function combine(shares: readonly Share[], t: number): Uint8Array {
  const v = interpolateAtZero(shares, t);
  if (v >= 1n << BigInt(8 * SECRET_BYTES)) throw new ShamirError(`the ${t} shares do not interpolate to a ${SECRET_BYTES}-byte secret (a share is wrong or forged)`);
  return toBytes(v, SECRET_BYTES);
}

/**
 * Lagrange interpolation at 0 without the size check: the field element any `t` shares
 * determine (exported for the attack tests, which need what t − 1 shares "recover").
 */
export function interpolateAtZero(shares: readonly Share[], t: number): bigint {
  if (!Number.isSafeInteger(t) || t < 1) throw new RangeError(`expected t ≥ 1, got ${t}`);
  if (shares.length < t) throw new ShamirError(`expected at least ${t} shares, got ${shares.length}`);
  const use = shares.slice(0, t);
  const xs = use.map((s) => {
    checkPoint(s.x);
    return BigInt(s.x);
  });
  if (new Set(xs).size !== xs.length) throw new ShamirError('expected shares at distinct points, got a repeated point');
  let acc = 0n;
  for (let i = 0; i < use.length; i++) {
    const y = use[i]!.y;
    if (!(y instanceof Uint8Array) || y.length !== SHARE_BYTES) throw new ShamirError(`expected a ${SHARE_BYTES}-byte share value, got ${y?.length}`);
    const yi = toBig(y);
    if (yi >= P) throw new ShamirError('expected a share value below 2^521 − 1');
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < use.length; j++) {
      if (i === j) continue;
      num = (num * mod(-xs[j]!)) % P;
      den = (den * mod(xs[i]! - xs[j]!)) % P;
    }
    acc = (acc + yi * num % P * powMod(den, P - 2n)) % P;
  }
  return acc;
}
