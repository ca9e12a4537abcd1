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

let framedScratch = new Uint8Array(256);

/**
 * SHA-512(label ‖ len16(input) ‖ input ‖ element) into `out` (64 bytes), assembled in one
 * reused scratch buffer that is zeroed afterwards (the element may be secret key material):
 * the framing of the OPRF's finalize and of the label key. `input` must be ≤ 65535 bytes
 * (its length is two big-endian bytes); callers validate it.
 */
export function sha512FramedInto(out: Uint8Array, label: Uint8Array, input: Uint8Array, element: Uint8Array): Uint8Array {
  const L = label.length;
  const n = L + 2 + input.length + element.length;
  if (framedScratch.length < n) framedScratch = new Uint8Array(2 * n);
  const msg = framedScratch;
  msg.set(label, 0);
  msg[L] = input.length >>> 8;
  msg[L + 1] = input.length & 0xff;
  msg.set(input, L + 2);
  msg.set(element, L + 2 + input.length);
  sha512Into(out, msg.subarray(0, n));
  msg.fill(0, 0, n);
  return out;
}
