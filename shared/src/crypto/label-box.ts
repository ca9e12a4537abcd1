/**
 * Label boxes: a fixed-size label sealed under a key only an OPRF evaluator of the ID can derive.
 *
 * key(x)  = first 32 bytes of SHA-512("cleanroom/v1/label-key" ‖ len(x) ‖ x ‖ X25519(k, H(x)))
 * box     = nonce (24 random bytes) ‖ XChaCha20-Poly1305-IETF(key, nonce, label, ad)
 * ad      = "cleanroom/v1/label" ‖ epoch ‖ idType ‖ token
 *
 * The token is finalize(x, X25519(k, H(x))) under the label "cleanroom/v1/oprf-finalize"
 * (crypto/oprf.ts): the same OPRF output, hashed under another domain, so holding every
 * token (the broker) gives no key; the advertiser, which evaluated x through the OPRF, and
 * media, which holds k, can both derive it. The associated data binds a box to its token:
 * a box moved to another token does not open (nor would it under that token's key).
 * A box is LABEL_BOX_BYTES long whatever it holds; boxes of users who gave no consent are
 * random bytes of that length (`randomLabelBox`), indistinguishable from real ones without
 * the key (XChaCha20-Poly1305 ciphertexts are pseudorandom).
 *
 * libsodium (sodium-native): crypto_aead_xchacha20poly1305_ietf_*, 256-bit keys, 192-bit
 * random nonces (no nonce bookkeeping: a key is reused if media republishes in the same
 * epoch, and random 24-byte nonces make that safe). Stateless; thread-safe.
 */
import { sodium } from './group.ts';
import { SHA512_BYTES, sha512FramedInto } from './digest-into.ts';
import { validateElement, type ElementBytes, type TokenBytes } from './group.ts';

interface SodiumAead {
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_ABYTES: number;
  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
  crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number;
  randombytes_buf(b: Uint8Array): void;
}
const aead = sodium as unknown as SodiumAead;
const fillRandom = (out: Uint8Array): void => aead.randombytes_buf(out);

/** A label's plaintext length (fixed: every label is padded to it). */
export const LABEL_BYTES = 16;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
/** A sealed label: nonce ‖ ciphertext ‖ tag. */
export const LABEL_BOX_BYTES = NONCE_BYTES + LABEL_BYTES + TAG_BYTES;
export const LABEL_KEY_BYTES = 32;

export type LabelKey = Uint8Array;
export type LabelBytes = Uint8Array;
export type LabelBoxBytes = Uint8Array;

const KEY_LABEL = new TextEncoder().encode('cleanroom/v1/label-key');
const AD_LABEL = 'cleanroom/v1/label';

/** The label key of ID `input` from its unblinded OPRF evaluation X25519(k, H(input)). */
export function labelKey(input: Uint8Array, unblinded: ElementBytes): LabelKey {
  if (!(input instanceof Uint8Array) || input.length > 0xffff) throw new TypeError(`expected an input of at most 65535 bytes, got ${input?.length}`);
  validateElement(unblinded);
  // One SHA-512 over one scratch message (digest-into.ts): no hash object or digest Buffer per ID.
  const d = sha512FramedInto(keyDigest, KEY_LABEL, input, unblinded);
  const key = d.slice(0, LABEL_KEY_BYTES);
  d.fill(0);
  return key;
}
/** labelKey's message and digest scratch (one per thread; zeroed after each use: they hold key material). */
const keyDigest = new Uint8Array(SHA512_BYTES);

/** Associated data of a box: it opens only for this epoch, ID type and token. */
export function labelAd(epoch: string, idType: string, token: TokenBytes): Uint8Array {
  const head = Buffer.from(`${AD_LABEL}\0${epoch}\0${idType}\0`, 'utf8');
  return Buffer.concat([head, token]);
}

/** `random` fills the nonce (default libsodium's CSPRNG; tests pass a seeded one). */
export function sealLabel(key: LabelKey, label: LabelBytes, ad: Uint8Array, random: (out: Uint8Array) => void = fillRandom): LabelBoxBytes {
  if (key.length !== LABEL_KEY_BYTES) throw new RangeError(`expected a ${LABEL_KEY_BYTES}-byte label key, got ${key.length}`);
  if (label.length !== LABEL_BYTES) throw new RangeError(`expected a ${LABEL_BYTES}-byte label (padded), got ${label.length}`);
  const out = Buffer.alloc(LABEL_BOX_BYTES);
  const nonce = out.subarray(0, NONCE_BYTES);
  random(nonce);
  aead.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(NONCE_BYTES), Buffer.from(label), Buffer.from(ad), null, nonce, Buffer.from(key));
  return new Uint8Array(out);
}

/** The label, or null when the box is not for this key and associated data (or was altered). */
export function openLabel(key: LabelKey, box: LabelBoxBytes, ad: Uint8Array): LabelBytes | null {
  if (box.length !== LABEL_BOX_BYTES || key.length !== LABEL_KEY_BYTES) return null;
  const b = Buffer.from(box);
  const out = Buffer.alloc(LABEL_BYTES);
  try {
    aead.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, b.subarray(NONCE_BYTES), Buffer.from(ad), b.subarray(0, NONCE_BYTES), Buffer.from(key));
    return new Uint8Array(out);
  } catch {
    return null;
  }
}

/** LABEL_BOX_BYTES random bytes: the box of a user with no label to deliver, and of a token that matched nothing. */
export function randomLabelBox(random: (out: Uint8Array) => void = fillRandom): LabelBoxBytes {
  const out = Buffer.alloc(LABEL_BOX_BYTES);
  random(out);
  return new Uint8Array(out);
}
