/**
 * Secure aggregation primitives after Bonawitz et al., "Practical Secure Aggregation for
 * Privacy-Preserving Machine Learning", CCS 2017 (§4, the double-masking protocol).
 *
 * Inputs are vectors of 64-bit words, added mod 2^64 (BigUint64Array arithmetic wraps exactly
 * there). Member u (1-based index) submits
 *     y_u = x_u + PRG(b_u) + Σ_{v>u} PRG(s_uv) − Σ_{v<u} PRG(s_uv)      (mod 2^64)
 * where b_u is a fresh 32-byte self-mask seed and s_uv the pairwise seed both u and v derive
 * from an X25519 agreement between their per-round mask keys (s keys). In the sum over any set
 * of members the pairwise masks of pairs inside the set cancel; the aggregator removes the
 * self-masks of the members whose inputs it summed (b_u reconstructed from t Shamir shares)
 * and the pairwise masks between them and members that dropped out (s_u^SK of the dropped
 * reconstructed from t shares). An honest member reveals, for each other member, a share of
 * b or of s_SK, never both, so no single input is ever unmasked.
 *
 * PRG: libsodium's ChaCha20 stream (crypto_stream_chacha20, 256-bit key, fixed zero nonce —
 * each key is used once: it is BLAKE2b-derived from a seed that is fresh per round and bound
 * to the session, the round and the pair). The words of a mask are uniform and independent
 * of the input, so one masked input is uniform on (ℤ/2^64)^n to anyone missing b_u or one
 * s_uv (ChaCha20's PRF security, 256-bit keys).
 * Key agreement: X25519 (libsodium), peer keys validated (canonical, not low order); the
 * shares travel member → member through the aggregator encrypted with XChaCha20-Poly1305
 * under a key derived from a second agreement (c keys), bound to session, round, sender and
 * receiver by the associated data.
 *
 * Thread-safety: stateless; sodium calls are reentrant.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { validateElement } from './group.ts';

/** The sodium-native calls this module uses (sodium-native ships no types). */
interface SodiumSecAgg {
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_stream_chacha20(c: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
}
const sodium = createRequire(import.meta.url)('sodium-native') as SodiumSecAgg;

export type Rng = (n: number) => Uint8Array;
const defaultRng: Rng = (n) => new Uint8Array(randomBytes(n));

export type PublicKeyBytes = Uint8Array;
export type SecretKeyBytes = Uint8Array;
export type SeedBytes = Uint8Array;

export interface X25519KeyPair {
  publicKey: PublicKeyBytes;
  secretKey: SecretKeyBytes;
}

/** What every derived key is bound to: the session and the training round. */
export interface MaskContext {
  sessionId: string;
  round: number;
}

export const SEED_BYTES = 32;
const NONCE_BYTES = 24;
const AEAD_TAG_BYTES = 16;

export function x25519KeyPair(rng: Rng = defaultRng): X25519KeyPair {
  const secretKey = rng(32);
  if (secretKey.length !== 32) throw new RangeError(`expected 32 random bytes, got ${secretKey.length}`);
  const publicKey = new Uint8Array(32);
  sodium.crypto_scalarmult_base(publicKey, secretKey);
  return { publicKey, secretKey };
}

/** The X25519 shared secret; the peer's key must be a valid, non-low-order element. */
export function agree(secretKey: SecretKeyBytes, peerPublic: PublicKeyBytes): Uint8Array {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw new RangeError(`expected a 32-byte X25519 secret key, got ${secretKey?.length}`);
  validateElement(peerPublic);
  const out = new Uint8Array(32);
  try {
    sodium.crypto_scalarmult(out, secretKey, peerPublic);
  } catch {
    throw new RangeError('expected a non-zero X25519 agreement, got the all-zero output (low-order key)');
  }
  return out;
}

function contextBytes(label: string, ctx: MaskContext, extra: readonly number[]): Uint8Array {
  if (!Number.isSafeInteger(ctx.round) || ctx.round < 0) throw new RangeError(`expected round ≥ 0, got ${ctx.round}`);
  return new TextEncoder().encode(`cleanroom/secagg/v1/${label}\0${ctx.sessionId}\0${ctx.round}\0${extra.join(',')}`);
}

function kdf(key: Uint8Array, info: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  sodium.crypto_generichash(out, info, key);
  return out;
}

/** The pairwise seed s_uv = BLAKE2b(X25519(s_u, s_v); session, round, {u, v}); symmetric in u, v. */
export function pairwiseSeed(sSecret: SecretKeyBytes, peerSPublic: PublicKeyBytes, ctx: MaskContext, u: number, v: number): SeedBytes {
  if (u === v) throw new RangeError(`expected two different members, got ${u} twice`);
  return kdf(agree(sSecret, peerSPublic), contextBytes('pair', ctx, [Math.min(u, v), Math.max(u, v)]));
}

/** n uniform 64-bit words from a seed: ChaCha20 keystream under BLAKE2b(seed; label, context). */
export function expandMask(seed: SeedBytes, length: number, ctx: MaskContext, label: 'self' | 'pair'): BigUint64Array {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) throw new RangeError(`expected a ${SEED_BYTES}-byte seed, got ${seed?.length}`);
  if (!Number.isSafeInteger(length) || length < 1 || length > 1 << 24) throw new RangeError(`expected 1 ≤ length ≤ 2^24, got ${length}`);
  const key = kdf(seed, contextBytes(`stream-${label}`, ctx, []));
  const buf = new Uint8Array(length * 8);
  sodium.crypto_stream_chacha20(buf, new Uint8Array(8), key);
  return new BigUint64Array(buf.buffer, 0, length);
}

/** acc += sign·v (mod 2^64), in place. */
export function addWords(acc: BigUint64Array, v: BigUint64Array, sign: 1 | -1 = 1): BigUint64Array {
  if (acc.length !== v.length) throw new RangeError(`expected vectors of equal length, got ${acc.length} and ${v.length}`);
  for (let i = 0; i < acc.length; i++) acc[i] = sign === 1 ? acc[i]! + v[i]! : acc[i]! - v[i]!;
  return acc;
}

export interface PairSeed {
  /** The other member's index. */
  peer: number;
  seed: SeedBytes;
}

/** y_u = x_u + PRG(b_u) + Σ_{v>u} PRG(s_uv) − Σ_{v<u} PRG(s_uv)  (mod 2^64). */
export function maskInput(x: BigUint64Array, me: number, selfSeed: SeedBytes, pairs: readonly PairSeed[], ctx: MaskContext): BigUint64Array {
  const y = BigUint64Array.from(x);
  addWords(y, expandMask(selfSeed, x.length, ctx, 'self'));
  for (const p of pairs) {
    if (p.peer === me) throw new RangeError(`expected pairwise seeds with other members, got one with ${me} itself`);
    addWords(y, expandMask(p.seed, x.length, ctx, 'pair'), p.peer > me ? 1 : -1);
  }
  return y;
}

/**
 * The aggregator's unmasking: Σ_{u∈S} y_u minus the self-masks of S and minus, for every
 * dropped member d and survivor u, the mask u added for the pair (u, d).
 */
export function unmaskSum(
  maskedSum: BigUint64Array,
  selfSeeds: readonly SeedBytes[],
  dropped: readonly { survivor: number; dropped: number; seed: SeedBytes }[],
  ctx: MaskContext,
): BigUint64Array {
  const out = BigUint64Array.from(maskedSum);
  for (const b of selfSeeds) addWords(out, expandMask(b, out.length, ctx, 'self'), -1);
  for (const d of dropped) addWords(out, expandMask(d.seed, out.length, ctx, 'pair'), d.dropped > d.survivor ? -1 : 1);
  return out;
}

export function randomSeed(rng: Rng = defaultRng): SeedBytes {
  const s = rng(SEED_BYTES);
  if (s.length !== SEED_BYTES) throw new RangeError(`expected ${SEED_BYTES} random bytes, got ${s.length}`);
  return s;
}

function shareKey(cSecret: SecretKeyBytes, peerCPublic: PublicKeyBytes, ctx: MaskContext, from: number, to: number): Uint8Array {
  return kdf(agree(cSecret, peerCPublic), contextBytes('share-key', ctx, [Math.min(from, to), Math.max(from, to)]));
}

/** Encrypts `plaintext` from member `from` to member `to` (XChaCha20-Poly1305, random nonce first). */
export function sealForPeer(plaintext: Uint8Array, cSecret: SecretKeyBytes, peerCPublic: PublicKeyBytes, ctx: MaskContext, from: number, to: number, rng: Rng = defaultRng): Uint8Array {
  const key = shareKey(cSecret, peerCPublic, ctx, from, to);
  const nonce = rng(NONCE_BYTES);
  const out = new Uint8Array(NONCE_BYTES + plaintext.length + AEAD_TAG_BYTES);
  out.set(nonce, 0);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(NONCE_BYTES), plaintext, contextBytes('share-ad', ctx, [from, to]), null, nonce, key);
  return out;
}

/** The plaintext, or null if the ciphertext was not sealed by `from` for `to` in this context or was altered. */
export function openFromPeer(sealed: Uint8Array, cSecret: SecretKeyBytes, peerCPublic: PublicKeyBytes, ctx: MaskContext, from: number, to: number): Uint8Array | null {
  if (!(sealed instanceof Uint8Array) || sealed.length < NONCE_BYTES + AEAD_TAG_BYTES) return null;
  const key = shareKey(cSecret, peerCPublic, ctx, from, to);
  const out = new Uint8Array(sealed.length - NONCE_BYTES - AEAD_TAG_BYTES);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed.subarray(NONCE_BYTES), contextBytes('share-ad', ctx, [from, to]), sealed.subarray(0, NONCE_BYTES), key);
    return out;
  } catch {
    return null;
  }
}
