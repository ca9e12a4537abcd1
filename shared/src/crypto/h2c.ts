/**
 * Hash-to-group for the cleanroom OPRF: maps an identifier to an element of the prime-order
 * subgroup of Curve25519, returned as its X25519 u-coordinate (see group.ts).
 *
 * Suite: this project's own, named `cleanroom-v1-H2G-X25519_XMD:SHA-512_2xLIBSODIUM-ELL2`
 * (H2G_SUITE). It is NOT an RFC 9380 suite and in particular not
 * `curve25519_XMD:SHA-512_ELL2_RO_`: it reuses RFC 9380's expand_message_xmd and the
 * random-oracle shape (two independent maps, added), but the map is libsodium's:
 *   h  = expand_message_xmd(SHA-512, input, DST, 64)                  RFC 9380 §5.3.1
 *   P  = from_uniform(h[0..32]) + from_uniform(h[32..64])             libsodium, Edwards form
 *   u  = (1 + y) / (1 − y) mod p,  32 bytes little-endian             birational map to Montgomery
 * libsodium's `crypto_core_ed25519_from_uniform` is Elligator 2 followed by cofactor clearing
 * (multiplication by 8), so each summand — and P — lies in the order-ℓ subgroup. Where the
 * RFC suite differs: it draws 2 × 48 bytes and reduces them mod p (hash_to_field, L = 48),
 * maps with Elligator 2 to the Montgomery curve and clears the cofactor once on the sum;
 * libsodium reads 32 bytes per map (the top bit as the sign of x). So the outputs differ from
 * the RFC's end-to-end vectors (shared/src/crypto/h2c.test.ts shows it); this suite's own
 * vectors are committed in shared/src/crypto/testdata/h2c-cleanroom-v1.json and any change to
 * the output (which would change every token of every universe) fails that test.
 * Adding two maps keeps the random-oracle property argued in RFC 9380 §3 (one map alone
 * would be an encoding whose outputs are distinguishable from random). P is never the
 * identity except with probability ≈ 2^-252; we throw rather than return it.
 *
 * The DST binds every element to the ID type and universe epoch (`oprfDst`), so elements of two
 * universes or two ID types never collide.
 *
 * Batches (`hashToGroupBatch`, the universe-preparation path for 10^6..10^7 IDs, and
 * `hashToGroupInto`, the same written packed into the caller's buffer) share one field
 * inversion per chunk of CHUNK elements via Montgomery's trick (3 multiplications per element
 * instead of one inversion each, ≈70 µs in BigInt). Chunking, rather than one inversion for the
 * whole batch, bounds memory to a few hundred KiB of BigInts while the amortised inversion cost
 * stays below 0.02 µs per element. Outputs are byte-identical to `hashToGroup`.
 *
 * Side channels: the field conversion uses variable-time BigInt arithmetic on the hashed point,
 * i.e. on a public function of the input identifier — which this machine holds in the clear
 * anyway; no secret key is involved here. SHA-512 comes from libsodium (digest-into.ts) on the
 * per-element path, node:crypto in expandMessageXmd.
 *
 * Thread-safety: uses module-level scratch buffers, which is safe because JavaScript runs one
 * call at a time per thread and nothing here awaits; each worker thread has its own module copy.
 */
import { createHash } from 'node:crypto';
import { sha512Into } from './digest-into.ts';
import { ELEMENT_BYTES, P, sodium, validateElement, validatePacked } from './group.ts';
import type { ElementBytes } from './group.ts';
import { countPrimitive } from '../common/op-counts.ts';

/** The name of this hash-to-group suite (this project's own; not an RFC 9380 suite). */
export const H2G_SUITE = 'cleanroom-v1-H2G-X25519_XMD:SHA-512_2xLIBSODIUM-ELL2';

const SHA512_OUT = 64;
const SHA512_BLOCK = 128;
const Z_PAD = new Uint8Array(SHA512_BLOCK);
const OVERSIZE_PREFIX = new TextEncoder().encode('H2C-OVERSIZE-DST-');
/** Elements sharing one field inversion in hashToGroupBatch. */
const CHUNK = 4096;

/** Type (and size) of a value, never its content: inputs may be personal identifiers. */
function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v === null) return 'null';
  return typeof v === 'number' ? String(v) : typeof v;
}

/** Shows a tag's value (tags are public configuration, not identifiers). */
function describeTag(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  return describe(v);
}

function sha512(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * expand_message_xmd with SHA-512 (RFC 9380 §5.3.1), including the §5.3.3 rule for DSTs longer
 * than 255 bytes. Returns `lenInBytes` uniformly random-looking bytes bound to (msg, dst).
 */
export function expandMessageXmd(msg: Uint8Array, dst: Uint8Array, lenInBytes: number): Uint8Array {
  if (!(msg instanceof Uint8Array)) throw new TypeError(`expected msg to be a Uint8Array, got ${describe(msg)}`);
  if (!(dst instanceof Uint8Array) || dst.length === 0) {
    throw new TypeError(`expected dst to be a non-empty Uint8Array, got ${describe(dst)}`);
  }
  if (!Number.isInteger(lenInBytes) || lenInBytes < 1 || lenInBytes > 65535) {
    throw new RangeError(`expected lenInBytes to be an integer in 1..65535, got ${describe(lenInBytes)}`);
  }
  const ell = Math.ceil(lenInBytes / SHA512_OUT);
  if (ell > 255) throw new RangeError(`expected lenInBytes ≤ ${255 * SHA512_OUT} for SHA-512, got ${lenInBytes}`);
  const d = dst.length > 255 ? sha512(OVERSIZE_PREFIX, dst) : dst;
  const dstPrime = new Uint8Array(d.length + 1);
  dstPrime.set(d);
  dstPrime[d.length] = d.length;
  const b0 = sha512(Z_PAD, msg, Uint8Array.of(lenInBytes >>> 8, lenInBytes & 0xff, 0), dstPrime);
  const out = new Uint8Array(lenInBytes);
  let prev = sha512(b0, Uint8Array.of(1), dstPrime);
  out.set(prev.subarray(0, Math.min(SHA512_OUT, lenInBytes)));
  for (let i = 2; i <= ell; i++) {
    const x = new Uint8Array(SHA512_OUT);
    for (let j = 0; j < SHA512_OUT; j++) x[j] = b0[j]! ^ prev[j]!;
    prev = sha512(x, Uint8Array.of(i), dstPrime);
    const start = (i - 1) * SHA512_OUT;
    out.set(prev.subarray(0, Math.min(SHA512_OUT, lenInBytes - start)), start);
  }
  return out;
}

const DST_PART = /^[a-z0-9-]{1,64}$/;

/** The hash-to-group DST for one ID type and universe epoch (both [a-z0-9-]{1,64}). */
export function oprfDst(idType: string, universeEpoch: string): string {
  if (typeof idType !== 'string' || !DST_PART.test(idType)) {
    throw new TypeError(`expected idType matching [a-z0-9-]{1,64}, got ${describeTag(idType)}`);
  }
  if (typeof universeEpoch !== 'string' || !DST_PART.test(universeEpoch)) {
    throw new TypeError(`expected universeEpoch matching [a-z0-9-]{1,64}, got ${describeTag(universeEpoch)}`);
  }
  return `cleanroom-v1-OPRF-X25519-ELL2-${idType}-${universeEpoch}`;
}

/** Precomputed hash suffixes for one DST: I2OSP(64,2) ‖ 0 ‖ DST′ and 1 ‖ DST′. */
interface DstSuffixes {
  readonly first: Uint8Array;
  readonly second: Uint8Array;
}
const dstCache = new Map<string, DstSuffixes>();
const PRINTABLE_ASCII = /^[\x20-\x7e]{1,255}$/;

function dstSuffixes(dst: string): DstSuffixes {
  const cached = dstCache.get(dst);
  if (cached !== undefined) return cached;
  if (typeof dst !== 'string' || !PRINTABLE_ASCII.test(dst)) {
    throw new TypeError(`expected dst to be 1..255 printable ASCII characters, got ${describeTag(dst)}`);
  }
  const d = Buffer.from(dst, 'latin1');
  const first = new Uint8Array(3 + d.length + 1);
  first.set([0, SHA512_OUT, 0]);
  first.set(d, 3);
  first[3 + d.length] = d.length;
  const second = new Uint8Array(1 + d.length + 1);
  second[0] = 1;
  second.set(d, 1);
  second[1 + d.length] = d.length;
  if (dstCache.size >= 64) dstCache.clear();
  const s = { first, second };
  dstCache.set(dst, s);
  return s;
}

const ptA = new Uint8Array(32);
const ptB = new Uint8Array(32);
/** Sum scratch of hashToEdwardsInto (sodium writes it; the caller's slot gets a copy). */
const ptSum = new Uint8Array(32);
/** Message scratch of hashToEdwardsInto; its first SHA512_BLOCK bytes are zero between calls. */
let scratch = new Uint8Array(512);
/** scratch.subarray(0, n) by n, made once per length (reset when scratch grows). */
let scratchViews: Uint8Array[] = [];
function scratchView(n: number): Uint8Array {
  return (scratchViews[n] ??= scratch.subarray(0, n));
}
/** Digest scratch of hashToEdwardsInto (libsodium SHA-512 into them: no Buffer per hash). */
const digestB0 = new Uint8Array(SHA512_OUT);
const digestH = new Uint8Array(SHA512_OUT);
/** The two halves of digestH, each one map's input (views made once). */
const digestHLow = digestH.subarray(0, 32);
const digestHHigh = digestH.subarray(32, 64);

/**
 * Writes the Edwards encoding of from_uniform(h[0..32]) + from_uniform(h[32..64]) to
 * out[at, at + 32). Allocates nothing (module scratch and views made once).
 */
function hashToEdwardsInto(out: Uint8Array, at: number, input: Uint8Array, s: DstSuffixes, index: number | undefined): void {
  if (!(input instanceof Uint8Array)) {
    throw new TypeError(`${index === undefined ? 'input' : `input ${index}`}: expected a Uint8Array, got ${describe(input)}`);
  }
  // expand_message_xmd(SHA-512, input, dst, 64): ell = 1, so the output is b_1. Each hash is
  // one call over one scratch buffer (Z_PAD ‖ input ‖ first, then b0 ‖ second): the same bytes
  // as hashing the parts in turn, without a hash object per part.
  const n1 = SHA512_BLOCK + input.length + s.first.length;
  const n2 = SHA512_OUT + s.second.length;
  if (scratch.length < n1 || scratch.length < n2) {
    scratch = new Uint8Array(Math.max(2 * n1, n2));
    scratchViews = [];
  }
  scratch.set(input, SHA512_BLOCK); // scratch[0..128) stays zero: Z_PAD
  scratch.set(s.first, SHA512_BLOCK + input.length);
  const b0 = sha512Into(digestB0, scratchView(n1));
  scratch.set(b0, 0);
  scratch.set(s.second, SHA512_OUT);
  sha512Into(digestH, scratchView(n2));
  scratch.fill(0, 0, SHA512_BLOCK);
  sodium.crypto_core_ed25519_from_uniform(ptA, digestHLow);
  sodium.crypto_core_ed25519_from_uniform(ptB, digestHHigh);
  sodium.crypto_core_ed25519_add(ptSum, ptA, ptB);
  out.set(ptSum, at);
}

/** The y-coordinate (bit 255, x's sign, cleared) of the Edwards encoding at byte `off` of `v`'s bytes. */
function readYLE(v: DataView, off: number): bigint {
  return (
    v.getBigUint64(off, true) |
    (v.getBigUint64(off + 8, true) << 64n) |
    (v.getBigUint64(off + 16, true) << 128n) |
    ((v.getBigUint64(off + 24, true) & 0x7fffffffffffffffn) << 192n)
  );
}

/** Writes u < 2^256 as 32 bytes little-endian at byte `off` of `v`'s bytes. */
function writeLE(v: DataView, off: number, u: bigint): void {
  v.setBigUint64(off, BigInt.asUintN(64, u), true);
  v.setBigUint64(off + 8, BigInt.asUintN(64, u >> 64n), true);
  v.setBigUint64(off + 16, BigInt.asUintN(64, u >> 128n), true);
  v.setBigUint64(off + 24, u >> 192n, true);
}

/** a^-1 mod p for 0 < a < p (extended Euclid; faster than Fermat in BigInt). Variable time. */
function invModP(a: bigint): bigint {
  let r0 = a;
  let r1 = P;
  let s0 = 1n;
  let s1 = 0n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    const r2 = r0 - q * r1;
    r0 = r1;
    r1 = r2;
    const s2 = s0 - q * s1;
    s0 = s1;
    s1 = s2;
  }
  return s0 < 0n ? s0 + P : s0;
}

/**
 * Converts n Edwards encodings packed in `ed` (32 bytes each) to Montgomery u-coordinates
 * written packed to `out` (32 bytes each), with a single field inversion (Montgomery's trick).
 * Throws if a point is the identity (y = 1).
 */
function edwardsPackedToMontgomeryInto(out: Uint8Array, ed: Uint8Array, n: number, firstIndex: number): void {
  const src = new DataView(ed.buffer, ed.byteOffset, 32 * n);
  const dst = new DataView(out.buffer, out.byteOffset, 32 * n);
  const ys: bigint[] = new Array<bigint>(n);
  const prefix: bigint[] = new Array<bigint>(n);
  let acc = 1n;
  for (let i = 0; i < n; i++) {
    const y = readYLE(src, i * 32) % P;
    const den = (1n - y + P) % P;
    if (den === 0n) throw new Error(`input ${firstIndex + i}: expected a non-identity point, got the identity (probability 2^-252)`);
    ys[i] = y;
    acc = (acc * den) % P;
    prefix[i] = acc;
  }
  let inv = invModP(acc); // = Π den_i^-1
  for (let i = n - 1; i >= 0; i--) {
    const y = ys[i]!;
    const denInv = i === 0 ? inv : (inv * prefix[i - 1]!) % P;
    inv = (inv * ((1n - y + P) % P)) % P;
    writeLE(dst, i * 32, ((1n + y) * denInv) % P);
  }
}

/** Converts an Edwards25519 point encoding to its Montgomery u-coordinate, u = (1+y)/(1−y). */
export function edwardsToMontgomery(ed: Uint8Array): ElementBytes {
  if (!(ed instanceof Uint8Array) || ed.length !== 32) {
    throw new TypeError(`expected a 32-byte Edwards25519 encoding, got ${describe(ed)}`);
  }
  const u = new Uint8Array(ELEMENT_BYTES);
  edwardsPackedToMontgomeryInto(u, ed, 1, 0);
  return u;
}

/** Hashes `input` to an element of the prime-order group under the domain separation tag `dst`. */
export function hashToGroup(input: Uint8Array, dst: string): ElementBytes {
  const s = dstSuffixes(dst);
  const ed = new Uint8Array(32);
  countPrimitive('hashToGroup');
  hashToEdwardsInto(ed, 0, input, s, undefined);
  const u = new Uint8Array(ELEMENT_BYTES);
  edwardsPackedToMontgomeryInto(u, ed, 1, 0);
  validateElement(u); // cannot fail for a point of order ℓ; a cheap guard against regressions
  return u;
}

/**
 * hashToGroup over many inputs; equal outputs, one field inversion per CHUNK (4096) inputs.
 * The outputs are views of one packed buffer per chunk (32 bytes each, in order): no array
 * or ArrayBuffer per element, nor any per-element allocation in the hashing.
 */
export function hashToGroupBatch(inputs: readonly Uint8Array[], dst: string): ElementBytes[] {
  if (!Array.isArray(inputs)) throw new TypeError(`expected an array of inputs, got ${describe(inputs)}`);
  dstSuffixes(dst); // the tag is checked whatever the inputs
  const out: Uint8Array[] = new Array<Uint8Array>(inputs.length);
  for (let start = 0; start < inputs.length; start += CHUNK) {
    const n = Math.min(CHUNK, inputs.length - start);
    const us = new Uint8Array(n * ELEMENT_BYTES);
    hashToGroupInto(us, 0, n, (i) => inputs[start + i]!, dst, start);
    for (let i = 0; i < n; i++) out[start + i] = us.subarray(i * ELEMENT_BYTES, (i + 1) * ELEMENT_BYTES);
  }
  return out;
}

/** Edwards scratch of hashToGroupInto (CHUNK points; each thread has its own module copy). */
const edScratch = new Uint8Array(CHUNK * 32);

/**
 * hashToGroupBatch's outputs written packed into `out`, elements [at, at + count): input i
 * is `input(i)`, read before the next call (so it may be a view of one reused buffer) — no
 * object per element on either side. `firstIndex` numbers the inputs in errors.
 */
export function hashToGroupInto(out: Uint8Array, at: number, count: number, input: (i: number) => Uint8Array, dst: string, firstIndex = 0): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`expected a count of inputs ≥ 0, got ${describe(count)}`);
  if (!Number.isSafeInteger(at) || at < 0 || (at + count) * ELEMENT_BYTES > out.length) {
    throw new RangeError(`expected elements [${at}, ${at + count}) to fit a buffer of ${out.length / ELEMENT_BYTES} elements`);
  }
  const s = dstSuffixes(dst);
  for (let start = 0; start < count; start += CHUNK) {
    const n = Math.min(CHUNK, count - start);
    countPrimitive('hashToGroup', n);
    for (let i = 0; i < n; i++) hashToEdwardsInto(edScratch, i * 32, input(start + i), s, firstIndex + start + i);
    const us = out.subarray((at + start) * ELEMENT_BYTES, (at + start + n) * ELEMENT_BYTES);
    edwardsPackedToMontgomeryInto(us, edScratch, n, firstIndex + start);
    validatePacked(us, firstIndex + start); // cannot fail for points of order ℓ; a cheap guard against regressions
  }
}
