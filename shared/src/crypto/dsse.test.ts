// DSSE PAE, Ed25519 signing keys (RFC 8032 test vector 1), verification failure modes, key
// files and the trust bundle.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { mkdtempSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  STATEMENT_TYPE,
  SigningKey,
  fromBase64,
  keyFor,
  keyidOf,
  makeTrustBundle,
  pae,
  toBase64,
  verifySignature,
} from './dsse.ts';
import { loadSigningKey, loadTrustBundle, saveSigningKey } from '../pki/key-files.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('PAE (DSSE protocol spec)', () => {
  it('spec example: PAE("http://example.com/HelloWorld", "hello world")', () => {
    expect(Buffer.from(pae('http://example.com/HelloWorld', utf8('hello world'))).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
  });
  it('lengths are byte lengths, body may be empty or binary', () => {
    expect(Buffer.from(pae('é', new Uint8Array(0))).toString()).toBe('DSSEv1 2 é 0 ');
    expect([...pae('t', new Uint8Array([0, 255]))].slice(-2)).toEqual([0, 255]);
  });
});

describe('Ed25519 (RFC 8032 §7.1 test 1)', () => {
  const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const pub = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sigEmpty = hex(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );
  it('fromSeed derives the RFC public key and key id', () => {
    const key = SigningKey.fromSeed(seed);
    expect(Buffer.from(key.publicKey).toString('hex')).toBe(Buffer.from(pub).toString('hex'));
    expect(key.keyid).toBe(keyidOf(pub));
    expect(key.keyid).toMatch(/^[0-9a-f]{16}$/);
  });
  it('the library reproduces the RFC signature of the empty message under that key', () => {
    expect(Buffer.from(ed25519.sign(new Uint8Array(0), seed)).toString('hex')).toBe(Buffer.from(sigEmpty).toString('hex'));
  });
  it('SigningKey.sign is Ed25519 over PAE(type, body), deterministic, and verifies', () => {
    const key = SigningKey.fromSeed(seed);
    const body = utf8('{"v":1}');
    const { keyid, sig } = key.sign(STATEMENT_TYPE, body);
    expect(keyid).toBe(key.keyid);
    expect(sig).toEqual(ed25519.sign(pae(STATEMENT_TYPE, body), seed));
    expect(verifySignature(pub, STATEMENT_TYPE, body, sig)).toBe(true);
  });
  it('fromSeed validates its input', () => {
    expect(() => SigningKey.fromSeed(new Uint8Array(31))).toThrow('expected seed of 32 bytes, got 31');
  });
});

describe('verifySignature failure modes', () => {
  const key = SigningKey.generate();
  const other = SigningKey.generate();
  const body = utf8('{"round":"BLIND","seq":0}');
  const { sig } = key.sign(STATEMENT_TYPE, body);
  it('edited type -> false', () => {
    expect(verifySignature(key.publicKey, STATEMENT_TYPE.replace('1', '2'), body, sig)).toBe(false);
  });
  it('edited body -> false', () => {
    expect(verifySignature(key.publicKey, STATEMENT_TYPE, utf8('{"round":"BLIND","seq":1}'), sig)).toBe(false);
  });
  it('unknown key (signature by another key) -> false', () => {
    const forged = other.sign(STATEMENT_TYPE, body).sig;
    expect(verifySignature(key.publicKey, STATEMENT_TYPE, body, forged)).toBe(false);
  });
  it('known key id but bad signature -> false', () => {
    const bad = Uint8Array.from(sig);
    bad[10] = (bad[10] ?? 0) ^ 1;
    expect(verifySignature(key.publicKey, STATEMENT_TYPE, body, bad)).toBe(false);
  });
  it('agrees with strict RFC 8032 verification (@noble/curves, not ZIP-215) on malleated and small-order signatures', () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const le = (b: Uint8Array) => b.reduceRight((x, v) => (x << 8n) | BigInt(v), 0n);
    const toLe = (x: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((x >> BigInt(8 * i)) & 255n));
    for (let i = 0; i < 20; i++) {
      const k = SigningKey.generate();
      const b = utf8(`{"seq":${i}}`);
      const good = k.sign(STATEMENT_TYPE, b).sig;
      const malleated = Uint8Array.from(good);
      malleated.set(toLe(le(good.subarray(32)) + L), 32); // S + L: the same point equation, a non-canonical S
      for (const s of [good, malleated]) {
        expect(verifySignature(k.publicKey, STATEMENT_TYPE, b, s)).toBe(ed25519.verify(s, pae(STATEMENT_TYPE, b), k.publicKey, { zip215: false }));
      }
      expect(verifySignature(k.publicKey, STATEMENT_TYPE, b, malleated)).toBe(false);
    }
    // The identity as public key and R, S = 0: "valid" for any message under a cofactor-free equation; refused.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const sig0 = new Uint8Array(64);
    sig0[0] = 1;
    expect(verifySignature(identity, STATEMENT_TYPE, body, sig0)).toBe(false);
  });
  it('malformed inputs never throw', () => {
    expect(verifySignature(key.publicKey, STATEMENT_TYPE, body, sig.slice(0, 63))).toBe(false);
    expect(verifySignature(new Uint8Array(32).fill(0xff), STATEMENT_TYPE, body, sig)).toBe(false);
    expect(verifySignature(key.publicKey, STATEMENT_TYPE, body, new Uint8Array(64).fill(0xff))).toBe(false);
    expect(verifySignature(null as unknown as Uint8Array, STATEMENT_TYPE, body, sig)).toBe(false);
    expect(verifySignature(key.publicKey, 5 as unknown as string, body, sig)).toBe(false);
  });
});

describe('verifySignature agrees with strict RFC 8032 verification (@noble/curves, zip215: false)', () => {
  const noble = (pub: Uint8Array, body: Uint8Array, sig: Uint8Array): boolean => {
    try {
      return ed25519.verify(sig, pae(STATEMENT_TYPE, body), pub, { zip215: false });
    } catch {
      return false;
    }
  };
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const le = (x: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn));
  const fromLe = (b: Uint8Array): bigint => b.reduceRight((a, x) => (a << 8n) | BigInt(x), 0n);

  it('on valid signatures, every single-bit edit of signature, key and body, S + L, non-canonical R and small-order keys', () => {
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [];
    for (let k = 0; k < 3; k++) {
      const key = SigningKey.generate();
      const body = utf8(`{"seq":${k}}`);
      const { sig } = key.sign(STATEMENT_TYPE, body);
      cases.push([key.publicKey, body, sig]);
      for (let bit = 0; bit < 512; bit += 7) {
        const s2 = Uint8Array.from(sig);
        s2[bit >> 3]! ^= 1 << (bit & 7);
        cases.push([key.publicKey, body, s2]);
      }
      for (let bit = 0; bit < 256; bit += 5) {
        const p2 = Uint8Array.from(key.publicKey);
        p2[bit >> 3]! ^= 1 << (bit & 7);
        cases.push([p2, body, sig]);
      }
      const b2 = Uint8Array.from(body);
      b2[0]! ^= 1;
      cases.push([key.publicKey, b2, sig]);
      // S + L: the same scalar, not reduced (malleated).
      const sPlusL = Uint8Array.from(sig);
      sPlusL.set(le(fromLe(sig.subarray(32)) + L), 32);
      cases.push([key.publicKey, body, sPlusL]);
      // R with y + p (non-canonical when y < 19) and the all-ones encoding.
      const rBad = Uint8Array.from(sig);
      rBad.set(new Uint8Array(32).fill(0xff), 0);
      cases.push([key.publicKey, body, rBad]);
    }
    // Small-order and non-canonical keys: the identity (y = 1), y = −1, y = 0, and y = p + 1 (non-canonical identity).
    const p = 2n ** 255n - 19n;
    for (const y of [1n, p - 1n, 0n, p + 1n]) {
      const body = utf8('{}');
      cases.push([le(y), body, SigningKey.generate().sign(STATEMENT_TYPE, body).sig]);
    }
    // A signature under the identity key that the cofactorless equation [S]B = R + [k]A accepts
    // (S = r, R = [r]B, whatever k): strict verification must refuse it for the small-order key.
    const r = 123456789n;
    const forged = new Uint8Array(64);
    forged.set(ed25519.Point.BASE.multiply(r).toBytes(), 0);
    forged.set(le(r), 32);
    cases.push([le(1n), utf8('{"forged":true}'), forged]);
    let valid = 0;
    for (const [pub, body, sig] of cases) {
      const want = noble(pub, body, sig);
      expect(verifySignature(pub, STATEMENT_TYPE, body, sig), `key ${Buffer.from(pub).toString('hex')} sig ${Buffer.from(sig).toString('hex')}`).toBe(want);
      if (want) valid++;
    }
    expect(valid).toBe(3); // only the three untouched signatures
  });
});

describe('key files and trust bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsse-'));
  it('save/load round trip, mode 0600, checked against the seed', () => {
    const key = SigningKey.generate();
    const path = join(dir, 'media.signing.json');
    saveSigningKey(path, key, 'media');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const loaded = loadSigningKey(path, 'media');
    expect(loaded.keyid).toBe(key.keyid);
    expect(loaded.publicKey).toEqual(key.publicKey);
    expect(() => loadSigningKey(path, 'broker')).toThrow(/belong to broker, got media/);
    const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    writeFileSync(path, JSON.stringify({ ...file, publicKey: toBase64(SigningKey.generate().publicKey) }));
    expect(() => loadSigningKey(path)).toThrow(/publicKey to match its seed/);
  });
  it('JSON.stringify of a key fails rather than leaking the seed', () => {
    expect(() => JSON.stringify(SigningKey.generate())).toThrow(/expected party/);
  });
  it('trust bundle validation and keyFor', () => {
    const keys = { advertiser: SigningKey.generate(), media: SigningKey.generate(), broker: SigningKey.generate() };
    const bundle = makeTrustBundle({ advertiser: keys.advertiser.publicKey, media: keys.media.publicKey, broker: keys.broker.publicKey });
    const path = join(dir, 'trust-bundle.json');
    writeFileSync(path, JSON.stringify(bundle));
    const loaded = loadTrustBundle(path);
    expect(keyFor(loaded, 'broker')).toEqual(keys.broker.publicKey);
    expect(() => keyFor(loaded, 'auditor')).toThrow(/expected party to be one of advertiser\|media\|broker, got "auditor"/);
    const broken = structuredClone(bundle) as unknown as { parties: Record<string, { keyid: string; publicKey: string }> };
    broken.parties.media!.keyid = '0000000000000000';
    writeFileSync(path, JSON.stringify(broken));
    expect(() => loadTrustBundle(path)).toThrow(/keyid of media/);
    const same = structuredClone(bundle) as unknown as { parties: Record<string, { keyid: string; publicKey: string }> };
    same.parties.media = same.parties.broker!;
    writeFileSync(path, JSON.stringify(same));
    expect(() => loadTrustBundle(path)).toThrow(/distinct keys/);
    writeFileSync(path, JSON.stringify({ version: 1, parties: { advertiser: bundle.parties.advertiser } }));
    expect(() => loadTrustBundle(path)).toThrow(/pin a key for media/);
    writeFileSync(path, '{"version":1,"version":1}');
    expect(() => loadTrustBundle(path)).toThrow(/duplicate/);
  });
  it('strict base64', () => {
    expect(() => fromBase64('AAA', 'x')).toThrow(/expected x in base64/);
    expect(() => fromBase64('AB==', 'x')).toThrow(/canonical base64/);
    expect(fromBase64('AAE=', 'x', 2)).toEqual(new Uint8Array([0, 1]));
  });
});
