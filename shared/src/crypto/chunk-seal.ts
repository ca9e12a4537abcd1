/**
 * Files sealed in chunks for storage outside the node (media's preparation shards in object
 * storage): the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online
 * Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015) over
 * XChaCha20-Poly1305-IETF (libsodium, sodium-native).
 *
 *   sealed = prefix (16 random bytes) ‖ c_0 ‖ … ‖ c_{m−1}
 *   c_i    = XChaCha20-Poly1305(key, nonce = prefix ‖ u64be(i), chunk_i, ad_i)
 *   ad_i   = "cleanroom/v1/chunk-seal" ‖ u32be(len(name)) ‖ name ‖ u64be(i) ‖ last_i
 *
 * Chunks are CHUNK_SEAL_BYTES of plaintext, the last one shorter (empty for an empty file or a
 * length that is a multiple of the chunk), last_i = 1 for the final chunk only. A random 128-bit
 * prefix per file keeps nonces distinct under one key: two of n files share a prefix with
 * probability ≈ n²/2^129 (negligible for the thousands of files of an epoch).
 *
 * Guarantees: `ChunkOpener.open` throws `ChunkSealError` unless the chunk is exactly the one
 * sealed at that index of that name under that key — so a tampered, reordered, dropped or
 * duplicated chunk, a file cut at a chunk boundary (no final chunk), a chunk after the final one
 * and a sealed file stored under another name are all refused. `sealedLength` is exact.
 * Pure (no I/O); one sealer or opener per file, not shared between files.
 */
import { hkdfSync } from 'node:crypto';
import { sodium } from './group.ts';

interface SodiumAead {
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  randombytes_buf(b: Uint8Array): void;
}
const aead = sodium as unknown as SodiumAead;

/** Plaintext bytes per chunk: 1 MiB. */
export const CHUNK_SEAL_BYTES = 1 << 20;
/** Bytes a chunk grows by (the Poly1305 tag). */
export const CHUNK_TAG_BYTES = 16;
/** Bytes of the random prefix that opens a sealed file. */
export const CHUNK_PREFIX_BYTES = 16;
const DOMAIN = new TextEncoder().encode('cleanroom/v1/chunk-seal');

export class ChunkSealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChunkSealError';
  }
}

/** Chunks of a plaintext of `bytes` bytes (at least one: the final chunk). */
export function chunkCount(bytes: number): number {
  return Math.floor(bytes / CHUNK_SEAL_BYTES) + 1;
}

/** Exact length of the sealed form of a plaintext of `bytes` bytes. */
export function sealedLength(bytes: number): number {
  return CHUNK_PREFIX_BYTES + bytes + chunkCount(bytes) * CHUNK_TAG_BYTES;
}

/** A 32-byte key for one purpose (`info`), derived from a secret by HKDF-SHA256. */
export function deriveKey(secret: Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, new Uint8Array(0), info, 32));
}

function associatedData(name: Uint8Array, index: number, last: boolean): Uint8Array {
  const ad = new Uint8Array(DOMAIN.length + 4 + name.length + 9);
  const v = new DataView(ad.buffer);
  ad.set(DOMAIN, 0);
  v.setUint32(DOMAIN.length, name.length);
  ad.set(name, DOMAIN.length + 4);
  v.setBigUint64(DOMAIN.length + 4 + name.length, BigInt(index));
  ad[ad.length - 1] = last ? 1 : 0;
  return ad;
}

abstract class ChunkStream {
  protected readonly nonce = new Uint8Array(24);
  protected readonly name: Uint8Array;
  protected index = 0;
  protected done = false;
  protected readonly key: Uint8Array;
  constructor(key: Uint8Array, name: string) {
    this.key = key;
    if (key.length !== 32) throw new TypeError(`expected a 32-byte key, got ${key.length} bytes`);
    this.name = new TextEncoder().encode(name);
  }
  protected next(last: boolean): Uint8Array {
    if (this.done) throw new ChunkSealError(`${new TextDecoder().decode(this.name)}: a chunk after the final one`);
    new DataView(this.nonce.buffer).setBigUint64(CHUNK_PREFIX_BYTES, BigInt(this.index));
    const ad = associatedData(this.name, this.index, last);
    this.index += 1;
    this.done = last;
    return ad;
  }
}

/** Seals one file's chunks in order: `prefix` first, then `seal` for each chunk, the last with `last`. */
export class ChunkSealer extends ChunkStream {
  readonly prefix: Uint8Array;
  constructor(key: Uint8Array, name: string, random: (b: Uint8Array) => void = (b) => aead.randombytes_buf(b)) {
    super(key, name);
    this.prefix = new Uint8Array(CHUNK_PREFIX_BYTES);
    random(this.prefix);
    this.nonce.set(this.prefix, 0);
  }
  seal(chunk: Uint8Array, last: boolean): Uint8Array {
    if (chunk.length > CHUNK_SEAL_BYTES || (!last && chunk.length !== CHUNK_SEAL_BYTES)) {
      throw new RangeError(`expected a chunk of ${CHUNK_SEAL_BYTES} bytes${last ? ' at most' : ''}, got ${chunk.length}`);
    }
    const ad = this.next(last);
    const c = new Uint8Array(chunk.length + CHUNK_TAG_BYTES);
    aead.crypto_aead_xchacha20poly1305_ietf_encrypt(c, chunk, ad, null, this.nonce, this.key);
    return c;
  }
}

/** Opens one sealed file's chunks in order; `finish` checks that the final chunk was seen. */
export class ChunkOpener extends ChunkStream {
  constructor(key: Uint8Array, name: string, prefix: Uint8Array) {
    super(key, name);
    if (prefix.length !== CHUNK_PREFIX_BYTES) throw new ChunkSealError(`${name}: expected a ${CHUNK_PREFIX_BYTES}-byte prefix, got ${prefix.length} bytes`);
    this.nonce.set(prefix, 0);
  }
  /** The plaintext of sealed chunk `c`, which is the final one when `last`. */
  open(c: Uint8Array, last: boolean): Uint8Array {
    if (c.length < CHUNK_TAG_BYTES || c.length > CHUNK_SEAL_BYTES + CHUNK_TAG_BYTES) throw new ChunkSealError(`${this.nameText()}: chunk ${this.index} has ${c.length} bytes`);
    const at = this.index;
    const ad = this.next(last);
    const m = new Uint8Array(c.length - CHUNK_TAG_BYTES);
    try {
      aead.crypto_aead_xchacha20poly1305_ietf_decrypt(m, null, c, ad, this.nonce, this.key);
    } catch {
      throw new ChunkSealError(`${this.nameText()}: chunk ${at}${last ? ' (final)' : ''} does not open: altered, moved, cut short or sealed under another key or name`);
    }
    return m;
  }
  /** Throws unless the final chunk has been opened. */
  finish(): void {
    if (!this.done) throw new ChunkSealError(`${this.nameText()}: cut short after ${this.index} chunks (no final chunk)`);
  }
  private nameText(): string {
    return new TextDecoder().decode(this.name);
  }
}
