/**
 * DSSE-style Ed25519 signatures, node signing keys and the pinned trust bundle.
 *
 * A signature is Ed25519 (RFC 8032, pure; signed and verified with node:crypto's OpenSSL
 * Ed25519, an order of magnitude less CPU than @noble/curves' pure JS — bench/signatures.ts;
 * every message is signed by its sender and verified by its receiver — verification after
 * @noble/curves' strict checks of the key, once per key) over
 * `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where LEN is the
 * ASCII decimal byte length (DSSE protocol spec). Binding the type into the signed bytes means
 * a signature over a statement can never be replayed as a signature over a policy or a
 * checkpoint, and vice versa.
 *
 * Guarantees:
 * - `verifySignature` never throws: malformed keys or signatures, wrong lengths, non-canonical
 *   encodings (strict RFC 8032 verification, not ZIP-215) all yield `false`.
 * - A key id is a hint (first 16 hex chars of SHA-256 of the public key); verifiers always use
 *   the key pinned for the claimed party in the trust bundle.
 * - Key files (read and written by pki/key-files.ts) hold the 32-byte seed; parsing checks that
 *   the stored public key and key id match the seed. A `SigningKey` never exposes its seed except
 *   through `toJSON(party)` (which throws for anything but a party name, so an accidental
 *   `JSON.stringify(key)` fails instead of leaking the seed).
 * - `parseTrustBundle` accepts only version 1 with exactly the three parties, each a 32-byte
 *   key whose key id matches, all keys distinct.
 */
import { PARTIES, isParty, type Party } from '../common/names.ts';
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';


/** DSSE payload type of envelope statements. */
export const STATEMENT_TYPE = 'application/vnd.cleanroom.statement+json; version=1';

/** The three node roles, same spelling as folders, log fields and compose services. */
export { PARTIES };
export type PartyName = Party;

/** 32-byte Ed25519 public key. */
export type PublicKeyBytes = Uint8Array;
/** 64-byte Ed25519 signature. */
export type SignatureBytes = Uint8Array;

/** On-disk form of a node's signing key (`<party>.signing.json`). */
export interface SigningKeyFile {
  party: PartyName;
  keyid: string;
  publicKey: string; // base64
  seed: string; // base64, 32 bytes: keep secret
}

/** Pinned public keys of the three parties (`trust-bundle.json`). */
export interface TrustBundle {
  version: 1;
  parties: Record<PartyName, { keyid: string; publicKey: string /* base64 */ }>;
}

export const isPartyName: (x: unknown) => x is PartyName = isParty;

function assertParty(x: unknown, what = 'party'): PartyName {
  if (!isPartyName(x)) throw new Error(`expected ${what} to be one of ${PARTIES.join('|')}, got ${JSON.stringify(x)}`);
  return x;
}

function assertBytes(x: unknown, what: string, length?: number): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new Error(`expected ${what} to be a Uint8Array, got ${x === null ? 'null' : typeof x}`);
  if (length !== undefined && x.length !== length) throw new Error(`expected ${what} of ${length} bytes, got ${x.length}`);
  return x;
}

const encoder = new TextEncoder();

/** DSSE pre-authentication encoding. */
export function pae(type: string, body: Uint8Array): Uint8Array {
  if (typeof type !== 'string') throw new Error(`expected type to be a string, got ${typeof type}`);
  assertBytes(body, 'body');
  const t = encoder.encode(type);
  const head = encoder.encode(`DSSEv1 ${t.length} `);
  const mid = encoder.encode(` ${body.length} `);
  const out = new Uint8Array(head.length + t.length + mid.length + body.length);
  out.set(head, 0);
  out.set(t, head.length);
  out.set(mid, head.length + t.length);
  out.set(body, head.length + t.length + mid.length);
  return out;
}

/** Key id of a public key: first 16 lower-hex chars of its SHA-256. */
export function keyidOf(publicKey: Uint8Array): string {
  assertBytes(publicKey, 'publicKey', 32);
  return bytesToHex(sha256(publicKey)).slice(0, 16);
}

/** DER prefix of an Ed25519 PKCS#8 private key (RFC 8410): the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Uint8Array.from(Buffer.from('302e020100300506032b657004220420', 'hex'));

/** An Ed25519 signing key. */
export class SigningKey {
  readonly publicKey: PublicKeyBytes;
  readonly keyid: string;
  /** The RFC 8032 32-byte private key (its "seed"; the key file's `seed` field). */
  readonly #privateKey: Uint8Array;
  /** The same key for node:crypto (PKCS#8, RFC 8410); Ed25519 is deterministic: the same signatures. */
  readonly #signingKey: KeyObject;

  private constructor(privateKey: Uint8Array) {
    this.#privateKey = Uint8Array.from(privateKey);
    const der = Buffer.concat([ED25519_PKCS8_PREFIX, this.#privateKey]);
    this.#signingKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    this.publicKey = ed25519.getPublicKey(this.#privateKey);
    this.keyid = keyidOf(this.publicKey);
  }

  /** A fresh key from the platform CSPRNG. */
  static generate(): SigningKey {
    return new SigningKey(ed25519.utils.randomSecretKey());
  }

  /** The key for a 32-byte RFC 8032 seed (the "secret key" of the RFC test vectors). */
  static fromSeed(seed: Uint8Array): SigningKey {
    assertBytes(seed, 'seed', 32);
    return new SigningKey(seed);
  }

  /** Ed25519 signature over PAE(type, body). */
  sign(type: string, body: Uint8Array): { keyid: string; sig: SignatureBytes } {
    return { keyid: this.keyid, sig: new Uint8Array(nodeSign(null, pae(type, body), this.#signingKey)) };
  }

  /** Key-file form. Contains the seed: write it only to a 0600 file. */
  toJSON(party: string): SigningKeyFile {
    return { party: assertParty(party), keyid: this.keyid, publicKey: toBase64(this.publicKey), seed: toBase64(this.#privateKey) };
  }
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = Uint8Array.from(Buffer.from('302a300506032b6570032100', 'hex'));
/** Verification keys by hex public key; null for a key strict RFC 8032 verification rejects. Bounded. */
const verifyKeys = new Map<string, KeyObject | null>();
const VERIFY_KEYS_MAX = 256;

/**
 * node:crypto's key for `publicKey`, or null when @noble/curves' strict (non-ZIP-215) checks
 * reject it: a non-canonical encoding, a point not on the curve, or a point of small order.
 */
function verifyKey(publicKey: Uint8Array): KeyObject | null {
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex');
  let key = verifyKeys.get(hex);
  if (key === undefined) {
    try {
      const point = ed25519.Point.fromBytes(publicKey, false);
      key = point.isSmallOrder() ? null : createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    } catch {
      key = null;
    }
    if (verifyKeys.size >= VERIFY_KEYS_MAX) verifyKeys.clear();
    verifyKeys.set(hex, key);
  }
  return key;
}

/** Whether the 32 little-endian bytes encode a field element below p = 2^255 − 19 (the sign bit aside). */
function canonicalY(b: Uint8Array): boolean {
  if ((b[31]! & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (b[i] !== 0xff) return true;
  return b[0]! < 0xed;
}

/**
 * Whether `sig` is a valid signature by `publicKey` over PAE(type, body). Never throws.
 * Strict RFC 8032: the key must pass verifyKey, R must be canonical, and OpenSSL checks S < L
 * and the equation.
 */
export function verifySignature(publicKey: Uint8Array, type: string, body: Uint8Array, sig: Uint8Array): boolean {
  try {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
    if (!(sig instanceof Uint8Array) || sig.length !== 64) return false;
    if (typeof type !== 'string' || !(body instanceof Uint8Array)) return false;
    const key = verifyKey(publicKey);
    if (key === null || !canonicalY(sig.subarray(0, 32))) return false;
    return nodeVerify(null, pae(type, body), key, sig);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// base64 (strict: canonical padding, no whitespace)

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Strict base64 decode; throws "expected ..., got ..." on anything non-canonical. */
export function fromBase64(text: unknown, what = 'base64 value', length?: number): Uint8Array {
  if (typeof text !== 'string' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new Error(`expected ${what} in base64, got ${JSON.stringify(text)}`);
  }
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (toBase64(bytes) !== text) throw new Error(`expected canonical base64 for ${what}, got ${JSON.stringify(text)}`);
  if (length !== undefined && bytes.length !== length) throw new Error(`expected ${what} of ${length} bytes, got ${bytes.length}`);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// key files

/** Parse and check a key-file object; returns the key and the party it belongs to. */
export function parseSigningKeyFile(value: unknown, source = 'signing key'): { party: PartyName; key: SigningKey } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected ${source} to be a JSON object, got ${Array.isArray(value) ? 'array' : typeof value}`);
  }
  const v = value as Record<string, unknown>;
  const party = assertParty(v.party, `${source} party`);
  const key = SigningKey.fromSeed(fromBase64(v.seed, `${source} seed`, 32));
  if (v.publicKey !== toBase64(key.publicKey)) {
    throw new Error(`expected ${source} publicKey to match its seed (${toBase64(key.publicKey)}), got ${JSON.stringify(v.publicKey)}`);
  }
  if (v.keyid !== key.keyid) throw new Error(`expected ${source} keyid ${key.keyid}, got ${JSON.stringify(v.keyid)}`);
  return { party, key };
}

// ---------------------------------------------------------------------------------------------
// trust bundle

/** A trust bundle pinning the given public keys. */
export function makeTrustBundle(keys: Record<PartyName, Uint8Array>): TrustBundle {
  const parties = {} as TrustBundle['parties'];
  for (const p of PARTIES) {
    const pk = assertBytes(keys[p], `public key of ${p}`, 32);
    parties[p] = { keyid: keyidOf(pk), publicKey: toBase64(pk) };
  }
  return parseTrustBundle({ version: 1, parties });
}

/** Validate a parsed trust bundle object. */
export function parseTrustBundle(value: unknown, source = 'trust bundle'): TrustBundle {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected ${source} to be a JSON object, got ${Array.isArray(value) ? 'array' : typeof value}`);
  }
  const v = value as Record<string, unknown>;
  if (v.version !== 1) throw new Error(`expected ${source} version 1, got ${JSON.stringify(v.version)}`);
  const ps = v.parties;
  if (typeof ps !== 'object' || ps === null || Array.isArray(ps)) throw new Error(`expected ${source} parties to be an object, got ${typeof ps}`);
  const extra = Object.keys(ps).filter((k) => !isPartyName(k));
  if (extra.length > 0) throw new Error(`expected ${source} parties ${PARTIES.join(', ')}, got unknown ${extra.join(', ')}`);
  const out = {} as TrustBundle['parties'];
  const seen = new Map<string, PartyName>();
  for (const p of PARTIES) {
    const e = (ps as Record<string, unknown>)[p];
    if (typeof e !== 'object' || e === null) throw new Error(`expected ${source} to pin a key for ${p}, got ${JSON.stringify(e)}`);
    const { keyid, publicKey } = e as Record<string, unknown>;
    const pk = fromBase64(publicKey, `${source} publicKey of ${p}`, 32);
    if (keyid !== keyidOf(pk)) throw new Error(`expected ${source} keyid of ${p} to be ${keyidOf(pk)}, got ${JSON.stringify(keyid)}`);
    const dup = seen.get(publicKey as string);
    if (dup) throw new Error(`expected distinct keys per party in ${source}, got the same key for ${dup} and ${p}`);
    seen.set(publicKey as string, p);
    out[p] = { keyid: keyid as string, publicKey: publicKey as string };
  }
  return { version: 1, parties: out };
}

/** The pinned public key of `party`. */
export function keyFor(bundle: TrustBundle, party: string): Uint8Array {
  const p = assertParty(party);
  const entry = bundle.parties[p];
  if (!entry) throw new Error(`expected the trust bundle to pin ${p}, got nothing`);
  return fromBase64(entry.publicKey, `publicKey of ${p}`, 32);
}
