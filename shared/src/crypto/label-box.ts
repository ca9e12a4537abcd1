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
/** Bytes of libsodium CSPRNG output read at a time for nonces and random boxes: one call per ≈ 290 boxes, not one per box (≈ 2 µs each). */
const RANDOM_POOL_BYTES = 16_384;
const randomPool = new Uint8Array(RANDOM_POOL_BYTES);
let randomPoolAt = RANDOM_POOL_BYTES;
/** Default `random`: libsodium's CSPRNG through a pool; every byte handed out once, then wiped from the pool. */
const fillRandom = (out: Uint8Array): void => {
  if (out.length > RANDOM_POOL_BYTES) {
    aead.randombytes_buf(out);
    return;
  }
  if (randomPoolAt + out.length > RANDOM_POOL_BYTES) {
    aead.randombytes_buf(randomPool);
    randomPoolAt = 0;
  }
  const from = randomPool.subarray(randomPoolAt, randomPoolAt + out.length);
  out.set(from);
  from.fill(0);
  randomPoolAt += out.length;
};

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
  return labelKeyInto(new Uint8Array(LABEL_KEY_BYTES), input, unblinded);
}

/** labelKey written into `out` (LABEL_KEY_BYTES): no array per ID for a caller that seals many (the label publication). */
export function labelKeyInto(out: Uint8Array, input: Uint8Array, unblinded: ElementBytes): LabelKey {
  if (!(input instanceof Uint8Array) || input.length > 0xffff) throw new TypeError(`expected an input of at most 65535 bytes, got ${input?.length}`);
  if (!(out instanceof Uint8Array) || out.length !== LABEL_KEY_BYTES) throw new RangeError(`expected a ${LABEL_KEY_BYTES}-byte key output, got ${out instanceof Uint8Array ? out.length : typeof out}`);
  validateElement(unblinded);
  // One SHA-512 over one scratch message (digest-into.ts): no hash object or digest Buffer per ID.
  const d = sha512FramedInto(keyDigest, KEY_LABEL, input, unblinded);
  out.set(d.subarray(0, LABEL_KEY_BYTES));
  d.fill(0);
  return out;
}
/** labelKey's message and digest scratch (one per thread; zeroed after each use: they hold key material). */
const keyDigest = new Uint8Array(SHA512_BYTES);

/** Associated data of a box: it opens only for this epoch, ID type and token. */
export function labelAd(epoch: string, idType: string, token: TokenBytes): Uint8Array {
  const head = labelAdHead(epoch, idType);
  const ad = new Uint8Array(head.length + token.length);
  ad.set(head);
  ad.set(token, head.length);
  return ad;
}

/** The part of labelAd before the token, the same for every box of one epoch and ID type (a sealer of many builds it once). */
export function labelAdHead(epoch: string, idType: string): Uint8Array {
  return new Uint8Array(Buffer.from(`${AD_LABEL}\0${epoch}\0${idType}\0`, 'utf8'));
}

/** `random` fills the nonce (default libsodium's CSPRNG; tests pass a seeded one). */
export function sealLabel(key: LabelKey, label: LabelBytes, ad: Uint8Array, random: (out: Uint8Array) => void = fillRandom): LabelBoxBytes {
  return sealLabelInto(new Uint8Array(LABEL_BOX_BYTES), 0, key, label, ad, random);
}

/**
 * sealLabel written into out[at, at + LABEL_BOX_BYTES) (a chunk of boxes being published), with
 * no buffer per box; the same bytes for the same `random`. Returns that box's view.
 */
export function sealLabelInto(out: Uint8Array, at: number, key: LabelKey, label: LabelBytes, ad: Uint8Array, random: (out: Uint8Array) => void = fillRandom): LabelBoxBytes {
  if (key.length !== LABEL_KEY_BYTES) throw new RangeError(`expected a ${LABEL_KEY_BYTES}-byte label key, got ${key.length}`);
  if (label.length !== LABEL_BYTES) throw new RangeError(`expected a ${LABEL_BYTES}-byte label (padded), got ${label.length}`);
  const box = boxAt(out, at);
  const nonce = box.subarray(0, NONCE_BYTES);
  random(nonce);
  aead.crypto_aead_xchacha20poly1305_ietf_encrypt(box.subarray(NONCE_BYTES), label, ad, null, nonce, key);
  return box;
}

function boxAt(out: Uint8Array, at: number): Uint8Array {
  if (!(out instanceof Uint8Array) || !Number.isInteger(at) || at < 0 || at + LABEL_BOX_BYTES > out.length) {
    throw new RangeError(`expected room for a ${LABEL_BOX_BYTES}-byte box at ${at} of ${out instanceof Uint8Array ? out.length : typeof out} bytes`);
  }
  return out.subarray(at, at + LABEL_BOX_BYTES);
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
  return randomLabelBoxInto(new Uint8Array(LABEL_BOX_BYTES), 0, random);
}

/** randomLabelBox written into out[at, at + LABEL_BOX_BYTES); the same bytes for the same `random`. */
export function randomLabelBoxInto(out: Uint8Array, at: number, random: (out: Uint8Array) => void = fillRandom): LabelBoxBytes {
  const box = boxAt(out, at);
  random(box);
  return box;
}
