/**
 * Sealed boxes (libsodium crypto_box_seal: X25519 + XSalsa20-Poly1305, anonymous sender).
 *
 * Used for the one thing the broker relays but must not read: the cohort insight media
 * sends the advertiser. The advertiser makes a fresh key pair per session; only the
 * public key travels. Opening fails (null) on any tampering or wrong key.
 */
import { sodium } from './group.ts';

interface SodiumBox {
  crypto_box_keypair(pk: Uint8Array, sk: Uint8Array): void;
  crypto_box_seal(c: Uint8Array, m: Uint8Array, pk: Uint8Array): void;
  crypto_box_seal_open(m: Uint8Array, c: Uint8Array, pk: Uint8Array, sk: Uint8Array): boolean;
  crypto_box_SEALBYTES: number;
  crypto_box_PUBLICKEYBYTES: number;
  crypto_box_SECRETKEYBYTES: number;
}
const box = sodium as unknown as SodiumBox;

export interface BoxKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export const BOX_PUBLIC_KEY_BYTES = 32;

export function boxKeyPair(): BoxKeyPair {
  const publicKey = Buffer.alloc(box.crypto_box_PUBLICKEYBYTES);
  const secretKey = Buffer.alloc(box.crypto_box_SECRETKEYBYTES);
  box.crypto_box_keypair(publicKey, secretKey);
  return { publicKey, secretKey };
}

export function seal(message: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== BOX_PUBLIC_KEY_BYTES) throw new RangeError(`expected a ${BOX_PUBLIC_KEY_BYTES}-byte public key, got ${publicKey.length}`);
  const out = Buffer.alloc(message.length + box.crypto_box_SEALBYTES);
  box.crypto_box_seal(out, Buffer.from(message), Buffer.from(publicKey));
  return out;
}

/** The plaintext, or null when the box was not sealed to this key or was altered. */
export function openSealed(sealed: Uint8Array, kp: BoxKeyPair): Uint8Array | null {
  if (sealed.length < box.crypto_box_SEALBYTES) return null;
  const out = Buffer.alloc(sealed.length - box.crypto_box_SEALBYTES);
  try {
    return box.crypto_box_seal_open(out, Buffer.from(sealed), Buffer.from(kp.publicKey), Buffer.from(kp.secretKey)) ? out : null;
  } catch {
    return null;
  }
}
