/**
 * SHA-256 and SHA-512 written into the caller's buffer (libsodium's crypto_hash_sha256 /
 * crypto_hash_sha512), for per-user hot paths: universe preparation hashes every ID once for
 * its id hash and again in finalize. node:crypto's one-shot `hash()` returns a new Buffer per
 * call (an ArrayBuffer the GC must track and sweep) and costs ≈ 1.8 µs of process CPU for a
 * 100-byte message here, these ≈ 0.5 µs. Same digests, byte for byte (standard SHA-2).
 *
 * Guarantees: `out` is overwritten with the digest of `msg`; throws a RangeError on a wrong
 * output size. Reentrant (no module state).
 */
import { sodium } from './group.ts';

export const SHA256_BYTES = 32;
export const SHA512_BYTES = 64;

/** out (32 bytes) ← SHA-256(msg). */
export function sha256Into(out: Uint8Array, msg: Uint8Array): Uint8Array {
  if (!(out instanceof Uint8Array) || out.length !== SHA256_BYTES) throw new RangeError(`expected a ${SHA256_BYTES}-byte output, got ${out instanceof Uint8Array ? `${out.length} bytes` : typeof out}`);
  sodium.crypto_hash_sha256(out, msg);
  return out;
}

/** out (64 bytes) ← SHA-512(msg). */
export function sha512Into(out: Uint8Array, msg: Uint8Array): Uint8Array {
  if (!(out instanceof Uint8Array) || out.length !== SHA512_BYTES) throw new RangeError(`expected a ${SHA512_BYTES}-byte output, got ${out instanceof Uint8Array ? `${out.length} bytes` : typeof out}`);
  sodium.crypto_hash_sha512(out, msg);
  return out;
}
