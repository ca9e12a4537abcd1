// Tests for h2c.ts: RFC 9380 K.3 expand_message_xmd(SHA-512) vectors, agreement with
// @noble/curves on expansion, point addition and the Edwards→Montgomery map, prime-order output,
// batch == single across chunk boundaries, DST validation and domain separation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { seededBytes } from '../testing/rng.ts';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { edwardsToMontgomery, expandMessageXmd, H2G_SUITE, hashToGroup, hashToGroupBatch, oprfDst } from './h2c.ts';
import { P, sodium, validateElement } from './group.ts';

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));


describe('expandMessageXmd (RFC 9380 §5.3.1, SHA-512)', () => {
  const DST = enc.encode('QUUX-V01-CS02-with-expander-SHA512-256');

  test('RFC 9380 Appendix K.3 vectors', () => {
    expect(hex(expandMessageXmd(new Uint8Array(0), DST, 0x20))).toBe('6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba');
    expect(hex(expandMessageXmd(enc.encode('abc'), DST, 0x20))).toBe('0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc');
    expect(hex(expandMessageXmd(enc.encode('abc'), DST, 0x80))).toBe(
      '7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11bdd7732d8b38adb4a0edc26a0cef4bb45217135456e58fbca1703cd6032cb1347ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b488431851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1',
    );
  });

  test('agrees with @noble/curves expand_message_xmd on random messages, DSTs and lengths', () => {
    const rng = seededBytes('xmd');
    for (let i = 0; i < 200; i++) {
      const msg = rng(rng(1)[0]! * 2);
      const dst = rng(1 + (rng(1)[0]! % 255));
      const len = 1 + ((rng(2)[0]! << 8) | rng(1)[0]!) % 1000;
      expect(hex(expandMessageXmd(msg, dst, len))).toBe(hex(expand_message_xmd(msg, dst, len, sha512)));
    }
  });

  test('oversize DST (> 255 bytes) is hashed per RFC 9380 §5.3.3, like @noble/curves', () => {
    const dst = new Uint8Array(300).fill(0x41);
    expect(hex(expandMessageXmd(enc.encode('abc'), dst, 64))).toBe(hex(expand_message_xmd(enc.encode('abc'), dst, 64, sha512)));
  });

  test('edge lengths: 64 (one block), 65, and the maximum 255·64', () => {
    for (const len of [1, 63, 64, 65, 128, 255 * 64]) {
      expect(hex(expandMessageXmd(enc.encode('x'), DST, len))).toBe(hex(expand_message_xmd(enc.encode('x'), DST, len, sha512)));
    }
  });

  test('refuses bad arguments with "expected X, got Y"', () => {
    expect(() => expandMessageXmd(new Uint8Array(0), DST, 0)).toThrow(/expected lenInBytes/);
    expect(() => expandMessageXmd(new Uint8Array(0), DST, 255 * 64 + 1)).toThrow(/expected lenInBytes/);
    expect(() => expandMessageXmd(new Uint8Array(0), DST, 1.5)).toThrow(/expected lenInBytes/);
    expect(() => expandMessageXmd(new Uint8Array(0), new Uint8Array(0), 32)).toThrow(/expected dst/);
    expect(() => expandMessageXmd('abc' as unknown as Uint8Array, DST, 32)).toThrow(/expected msg to be a Uint8Array, got string/);
  });
});

describe('oprfDst', () => {
  test('formats the tag', () => {
    expect(oprfDst('email', '2025-01')).toBe('cleanroom-v1-OPRF-X25519-ELL2-email-2025-01');
  });
  test('validates both parts against [a-z0-9-]{1,64}', () => {
    for (const bad of ['', 'Email', 'e mail', 'e_mail', 'a'.repeat(65), 'é']) {
      expect(() => oprfDst(bad, 'epoch')).toThrow(/expected idType/);
      expect(() => oprfDst('email', bad)).toThrow(/expected universeEpoch/);
    }
    expect(() => oprfDst('a'.repeat(64), '0'.repeat(64))).not.toThrow();
  });
});

describe('edwardsToMontgomery', () => {
  test('maps the Ed25519 base point to u = 9', () => {
    const u = edwardsToMontgomery(ed25519.Point.BASE.toBytes());
    expect(u[0]).toBe(9);
    expect(u.subarray(1).every((b) => b === 0)).toBe(true);
  });

  test('agrees with @noble/curves ed25519.utils.toMontgomery on random points', () => {
    const rng = seededBytes('e2m');
    for (let i = 0; i < 100; i++) {
      const pub = ed25519.getPublicKey(rng(32));
      expect(hex(edwardsToMontgomery(pub))).toBe(hex(ed25519.utils.toMontgomery(pub)));
    }
  });

  test('is consistent with X25519: u([k]Q) = X25519(k, u(Q))', () => {
    const rng = seededBytes('e2m-x');
    for (let i = 0; i < 20; i++) {
      const q = ed25519.Point.BASE.multiply(BigInt('0x' + hex(rng(31))) + 1n);
      const k = rng(32);
      k[0]! &= 0xf8;
      k[31]! &= 0x7f;
      k[31]! |= 0x40;
      const kBig = BigInt('0x' + hex(Uint8Array.from(k).reverse()));
      const viaEdwards = edwardsToMontgomery(q.multiply(kBig % ed25519.Point.Fn.ORDER).toBytes());
      expect(hex(viaEdwards)).toBe(hex(x25519.scalarMult(k, edwardsToMontgomery(q.toBytes()))));
    }
  });
});

describe('hashToGroup', () => {
  const dst = oprfDst('email', '2024-q1');

  test('equals toMontgomery(from_uniform(h[0..32]) + from_uniform(h[32..64])), cross-checked with @noble/curves', () => {
    const rng = seededBytes('h2g');
    for (let i = 0; i < 50; i++) {
      const input = rng(1 + (rng(1)[0]! % 60));
      const h = expand_message_xmd(input, dst, 64, sha512);
      const a = new Uint8Array(32);
      const b = new Uint8Array(32);
      sodium.crypto_core_ed25519_from_uniform(a, h.subarray(0, 32));
      sodium.crypto_core_ed25519_from_uniform(b, h.subarray(32, 64));
      const sum = ed25519.Point.fromBytes(a).add(ed25519.Point.fromBytes(b));
      expect(sum.isTorsionFree()).toBe(true);
      expect(sum.is0()).toBe(false);
      expect(hex(hashToGroup(input, dst))).toBe(hex(ed25519.utils.toMontgomery(sum.toBytes())));
    }
  });

  test('known answer (regression value computed by this implementation)', () => {
    expect(hex(hashToGroup(enc.encode('alice@example.com'), dst))).toBe('107965516108ce511fbbf0714d2a76edf2e2de3d40dea74abb49538dbcbc3f2d');
  });

  test('outputs are valid, canonical elements of order ℓ', () => {
    const rng = seededBytes('h2g-order');
    for (let i = 0; i < 20; i++) {
      const u = hashToGroup(rng(16), dst);
      expect(() => validateElement(u)).not.toThrow();
      expect(BigInt('0x' + hex(Uint8Array.from(u).reverse())) < P).toBe(true);
      // On the curve, not the twist: u^3 + A·u^2 + u is a square mod p (Euler's criterion).
      // Order ℓ itself is checked on the Edwards side with @noble/curves (isTorsionFree) above.
      const x = BigInt('0x' + hex(Uint8Array.from(u).reverse()));
      const rhs = (((x * x) % P) * x + 486662n * ((x * x) % P) + x) % P;
      let acc = 1n;
      let base = rhs;
      let e = (P - 1n) / 2n;
      while (e > 0n) {
        if (e & 1n) acc = (acc * base) % P;
        base = (base * base) % P;
        e >>= 1n;
      }
      expect(acc).toBe(1n);
    }
  });

  test('domain separation: another DST or input gives another element', () => {
    const x = enc.encode('alice@example.com');
    const a = hex(hashToGroup(x, dst));
    expect(hex(hashToGroup(x, oprfDst('email', '2024-q2')))).not.toBe(a);
    expect(hex(hashToGroup(x, oprfDst('phone', '2024-q1')))).not.toBe(a);
    expect(hex(hashToGroup(enc.encode('alice@example.co'), dst))).not.toBe(a);
  });

  test('refuses a bad DST or input', () => {
    expect(() => hashToGroup(new Uint8Array(1), '')).toThrow(/expected dst/);
    expect(() => hashToGroup(new Uint8Array(1), 'x'.repeat(256))).toThrow(/expected dst/);
    expect(() => hashToGroup('abc' as unknown as Uint8Array, dst)).toThrow(/expected a Uint8Array, got string/);
  });
});

describe('hashToGroupBatch', () => {
  const dst = oprfDst('email', 'batch');

  test('equals hashToGroup element by element, across a chunk boundary (4096)', () => {
    const inputs = Array.from({ length: 4100 }, (_, i) => enc.encode(`user${i}@example.com`));
    const batch = hashToGroupBatch(inputs, dst);
    expect(batch.length).toBe(inputs.length);
    for (const i of [0, 1, 2, 4094, 4095, 4096, 4097, 4099]) expect(hex(batch[i]!)).toBe(hex(hashToGroup(inputs[i]!, dst)));
    const rng = seededBytes('batch-sample');
    for (let j = 0; j < 50; j++) {
      const i = ((rng(2)[0]! << 8) | rng(1)[0]!) % inputs.length;
      expect(hex(batch[i]!)).toBe(hex(hashToGroup(inputs[i]!, dst)));
    }
  });

  test('hands out the elements of a chunk as views of one packed buffer, in order (no ArrayBuffer per element)', () => {
    const inputs = Array.from({ length: 10 }, (_, i) => enc.encode(`view${i}@example.com`));
    const batch = hashToGroupBatch(inputs, dst);
    batch.forEach((e, i) => {
      expect(e.length).toBe(32);
      expect(e.buffer).toBe(batch[0]!.buffer);
      expect(e.byteOffset).toBe(batch[0]!.byteOffset + 32 * i);
      expect(hex(e)).toBe(hex(hashToGroup(inputs[i]!, dst)));
    });
  });

  test('empty batch and a bad input reported with its index', () => {
    expect(hashToGroupBatch([], dst)).toEqual([]);
    expect(() => hashToGroupBatch([new Uint8Array(1), 5 as unknown as Uint8Array], dst)).toThrow(/input 1: expected a Uint8Array/);
  });
});

// The hash-to-group is this project's own suite (see the header of h2c.ts and docs/protocol.md
// §1): its outputs are pinned by committed vectors, and it is shown NOT to be RFC 9380's
// curve25519_XMD:SHA-512_ELL2_RO_ (whose end-to-end vectors it does not reproduce).
describe(`${H2G_SUITE} (this project's own suite)`, () => {
  const own = JSON.parse(readFileSync(join(import.meta.dirname, 'testdata', 'h2c-cleanroom-v1.json'), 'utf8')) as {
    suite: string; vectors: { idType: string; universeEpoch: string; dst: string; msg: string; uniform: string; u: string }[];
  };

  test('the committed vectors name this suite', () => {
    expect(own.suite).toBe(H2G_SUITE);
    expect(own.vectors.length).toBeGreaterThanOrEqual(5);
  });

  test.each(own.vectors.map((v) => [`${v.dst} / ${JSON.stringify(v.msg.length > 20 ? `${v.msg.slice(0, 20)}…` : v.msg)}`, v] as const))('known answer: %s', (_name, v) => {
    expect(oprfDst(v.idType, v.universeEpoch)).toBe(v.dst);
    expect(hex(expandMessageXmd(enc.encode(v.msg), enc.encode(v.dst), 64))).toBe(v.uniform);
    expect(hex(hashToGroup(enc.encode(v.msg), v.dst))).toBe(v.u);
    expect(hex(hashToGroupBatch([enc.encode(v.msg)], v.dst)[0]!)).toBe(v.u);
  });

  test('is not RFC 9380 curve25519_XMD:SHA-512_ELL2_RO_ (its end-to-end vectors differ)', () => {
    const rfc = JSON.parse(readFileSync(join(import.meta.dirname, 'testdata', 'h2c-rfc9380-curve25519_XMD_SHA-512_ELL2_RO_.json'), 'utf8')) as {
      dst: string; vectors: { msg: string; P: { x: string } }[];
    };
    for (const v of rfc.vectors) {
      const rfcU = Uint8Array.from(Buffer.from(v.P.x.slice(2), 'hex')).reverse(); // big-endian field element → X25519 bytes
      expect(hex(hashToGroup(enc.encode(v.msg), rfc.dst))).not.toBe(hex(rfcU));
    }
  });
});
