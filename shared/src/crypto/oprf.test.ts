// Tests for oprf.ts: RFC 7748 §5.2/§6.1 X25519 vectors through OprfKey.evaluate, agreement with
// @noble/curves, batch == single, blind→evaluate→unblind == evaluate, unlinkability of blinding,
// termination and correctness of the clamped-inverse search, validation with indices at every
// entry point, finalize's encoding, domain separation and pinned 12-byte token vectors, and the
// worker-thread evaluation.
import { afterAll, describe, expect, test } from 'vitest';
import { modPow } from '../testing/field.ts';
import { seededBytes } from '../testing/rng.ts';
import { createHash } from 'node:crypto';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { InvalidElementError, L, LOW_ORDER_POINTS, P, TOKEN_BYTES, randomElement } from './group.ts';
import { computeTokens } from './oprf-tokens.ts';
import { hashToGroup, oprfDst } from './h2c.ts';
import { PARALLEL_THRESHOLD, closeOprfWorkers, evaluateBatchParallel, prepareOprfWorkers } from './oprf-pool.ts';
import {
  OprfKey,
  blind,
  blindBatch,
  drawBlindingPair,
  finalize,
  unblind,
  unblindBatch,
} from './oprf.ts';

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const toBig = (b: Uint8Array): bigint => BigInt('0x' + hex(Uint8Array.from(b).reverse()));
function le(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
function clamp(k: Uint8Array): Uint8Array {
  const c = Uint8Array.from(k);
  c[0]! &= 0xf8;
  c[31]! &= 0x7f;
  c[31]! |= 0x40;
  return c;
}
function caught(f: () => unknown): InvalidElementError {
  try {
    f();
  } catch (e) {
    if (e instanceof InvalidElementError) return e;
    throw e;
  }
  throw new Error('expected an InvalidElementError, got none');
}

const DST = oprfDst('email', 'test');
const ids = (n: number, tag: string): Uint8Array[] => Array.from({ length: n }, (_, i) => enc.encode(`${tag}-${i}@example.com`));

/**
 * A clamped r whose m₊ = (8r)^-1 − 2^251 mod ℓ is ≥ 2^251 (about half are): the + sign gives no
 * clamped inverse, so blinding must take the − sign (s·r ≡ −1).
 */
function minusSignScalar(seed: string): Uint8Array {
  const rng = seededBytes(seed);
  for (;;) {
    const r = clamp(rng(32));
    const m = (((modPow((8n * toBig(r)) % L, L - 2n, L) - 2n ** 251n) % L) + L) % L;
    if (m >= 2n ** 251n) return r;
  }
}

/**
 * A clamped r refused under both signs: t = (8r)^-1 mod ℓ in [2^252, ℓ), so neither t − 2^251
 * nor −t − 2^251 is below 2^251 (about one random r in 2^126; built here from t): an RNG stuck
 * on it must make blind give up.
 */
function rejectedBlindingScalar(seed: string): Uint8Array {
  const rng = seededBytes(seed);
  for (;;) {
    const t = 2n ** 252n + (toBig(rng(32)) % (L - 2n ** 252n));
    const r0 = modPow((8n * t) % L, L - 2n, L); // r ≡ (8t)^-1, so (8r)^-1 ≡ t
    for (let i = 0n; i < 8n; i++) {
      const r = r0 + i * L;
      if (r >= 2n ** 254n && r < 2n ** 255n && r % 8n === 0n) return le(r); // a clamped representative
    }
  }
}

describe('OprfKey', () => {
  test('RFC 7748 §5.2 vector 1 through evaluate (scalar clamped first; X25519 clamps anyway)', () => {
    const k = OprfKey.fromBytes(clamp(unhex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4')));
    const out = k.evaluate(unhex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'));
    expect(hex(out)).toBe('c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552');
  });

  test('RFC 7748 §5.2 vector 2: the top-bit-set u is refused; with the bit masked (as RFC 7748 does) it matches', () => {
    const k = OprfKey.fromBytes(clamp(unhex('4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d')));
    const u = unhex('e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493');
    expect(caught(() => k.evaluate(u)).reason).toBe('non-canonical');
    u[31]! &= 0x7f;
    expect(hex(k.evaluate(u))).toBe('95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957');
  });

  test('RFC 7748 §6.1: evaluate gives the shared secret; fingerprint hashes X25519(key, 9)', () => {
    const alice = OprfKey.fromBytes(clamp(unhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')));
    const bobPub = unhex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(hex(alice.evaluate(bobPub))).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    const alicePub = unhex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(alice.fingerprint()).toBe(createHash('sha256').update(alicePub).digest('hex').slice(0, 16));
    expect(alice.fingerprint()).toMatch(/^[0-9a-f]{16}$/);
  });

  test('evaluate agrees with @noble/curves x25519 on random keys and hashed elements', () => {
    const rng = seededBytes('noble');
    for (let i = 0; i < 30; i++) {
      const key = OprfKey.generate(rng);
      const e = hashToGroup(rng(20), DST);
      expect(hex(key.evaluate(e))).toBe(hex(nobleX25519.scalarMult(key.toBytes(), e)));
    }
  });

  test('generate clamps and is deterministic under an injected RNG; toBytes/fromBytes round-trip', () => {
    const a = OprfKey.generate(seededBytes('k'));
    const b = OprfKey.generate(seededBytes('k'));
    expect(hex(a.toBytes())).toBe(hex(b.toBytes()));
    expect(hex(a.toBytes())).toBe(hex(clamp(seededBytes('k')(32))));
    expect(OprfKey.fromBytes(a.toBytes()).fingerprint()).toBe(a.fingerprint());
    const bytes = a.toBytes();
    bytes.fill(0);
    expect(a.toBytes().some((x) => x !== 0)).toBe(true); // toBytes returns a copy
  });

  test('fromBytes refuses wrong lengths and unclamped scalars', () => {
    expect(() => OprfKey.fromBytes(new Uint8Array(31))).toThrow(/expected a 32-byte OPRF key, got 31 bytes/);
    const k = clamp(seededBytes('u')(32));
    for (const mutate of [(b: Uint8Array) => (b[0]! |= 1), (b: Uint8Array) => (b[31]! |= 0x80), (b: Uint8Array) => (b[31]! &= 0xbf)]) {
      const bad = Uint8Array.from(k);
      mutate(bad);
      expect(() => OprfKey.fromBytes(bad)).toThrow(/expected a clamped X25519 scalar/);
    }
  });

  test('the key does not leak through JSON or util.inspect', async () => {
    const key = OprfKey.generate(seededBytes('leak'));
    const h = hex(key.toBytes());
    expect(JSON.stringify(key)).not.toContain(h);
    const { inspect } = await import('node:util');
    expect(inspect(key, { showHidden: true, depth: 5 })).not.toContain(h);
  });

  test('evaluateBatch equals evaluate element by element', () => {
    const key = OprfKey.generate(seededBytes('batch'));
    const es = ids(100, 'b').map((x) => hashToGroup(x, DST));
    const batch = key.evaluateBatch(es);
    es.forEach((e, i) => expect(hex(batch[i]!)).toBe(hex(key.evaluate(e))));
    expect(key.evaluateBatch([])).toEqual([]);
  });

  test('evaluateBatch validates ALL elements first and reports reason and index', () => {
    const key = OprfKey.generate(seededBytes('bad'));
    const es = ids(10, 'v').map((x) => hashToGroup(x, DST));
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'length'],
      [new Uint8Array(31), 'length'],
      [new Uint8Array(33), 'length'],
      [le(P), 'non-canonical'],
      [le(P + 1n), 'non-canonical'],
      [le(2n ** 255n - 1n), 'non-canonical'],
      [new Uint8Array(32), 'low-order'],
      ...LOW_ORDER_POINTS.map((lo): [Uint8Array, string] => [lo, 'low-order']),
    ];
    for (const [bad, reason] of cases) {
      const batch = [...es];
      batch[7] = bad;
      const err = caught(() => key.evaluateBatch(batch));
      expect(err.reason).toBe(reason);
      expect(err.index).toBe(7);
      expect(caught(() => key.evaluate(bad)).reason).toBe(reason);
    }
  });
});

describe('blind / unblind', () => {
  test('drawBlindingPair: s ≡ ±r^-1 (mod ℓ), both clamped, both signs taken; one draw each', () => {
    const rng = seededBytes('pairs');
    const signs = { plus: 0, minus: 0 };
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const { r, s, attempts } = drawBlindingPair(rng);
      for (const k of [r, s]) {
        expect(k[0]! & 7).toBe(0);
        expect(k[31]! & 0xc0).toBe(0x40);
      }
      const rs = (toBig(r) * toBig(s)) % L;
      expect([1n, L - 1n]).toContain(rs);
      if (rs === 1n) signs.plus++;
      else signs.minus++;
      expect(attempts).toBe(1); // a refusal has probability ≈ 2^-126
    }
    // Each sign for about half the draws (the + sign alone would refuse the other half).
    expect(signs.plus).toBeGreaterThan(800);
    expect(signs.minus).toBeGreaterThan(800);
  });

  test('an r with no clamped +inverse is kept with the − sign: s·r ≡ −1, and unblinding still recovers the evaluation', () => {
    const r = minusSignScalar('minus');
    const { s, attempts } = drawBlindingPair(() => Uint8Array.from(r));
    expect(attempts).toBe(1);
    expect((toBig(r) * toBig(s)) % L).toBe(L - 1n);
    const key = OprfKey.generate(seededBytes('minus-key'));
    const e = hashToGroup(enc.encode('minus@example.com'), DST);
    const { blinded, inverse } = blind(e, () => Uint8Array.from(r));
    expect(hex(inverse)).toBe(hex(s));
    expect(hex(unblind(inverse, key.evaluate(blinded)))).toBe(hex(key.evaluate(e)));
    const [b] = blindBatch([e], () => Uint8Array.from(r));
    expect(hex(b!.inverse)).toBe(hex(s));
    expect(hex(unblind(b!.inverse, key.evaluate(b!.blinded)))).toBe(hex(key.evaluate(e)));
  });

  test('an RNG stuck on a value with no clamped inverse makes blind throw instead of looping', () => {
    // A clamped r with no clamped inverse of either sign (built from its inverse).
    const stuck = rejectedBlindingScalar('stuck');
    const e = hashToGroup(enc.encode('x'), DST);
    let calls = 0;
    expect(() =>
      blind(e, () => {
        calls++;
        return Uint8Array.from(stuck);
      }),
    ).toThrow(/expected an rng producing random bytes, got 128 draws/);
    expect(calls).toBe(128);
  });

  test('blind → evaluate → unblind equals direct evaluation, for many random inputs', () => {
    const rng = seededBytes('round-trip');
    const key = OprfKey.generate(rng);
    for (const x of ids(300, 'rt')) {
      const e = hashToGroup(x, DST);
      const { blinded, inverse } = blind(e, rng);
      expect(hex(unblind(inverse, key.evaluate(blinded)))).toBe(hex(key.evaluate(e)));
    }
  });

  test('blindBatch (batch inversion mod ℓ) gives valid pairs: s·r ≡ ±1, both clamped; unblindBatch recovers evaluate', () => {
    const key = OprfKey.generate(seededBytes('bb-key'));
    const es = ids(300, 'bb').map((x) => hashToGroup(x, DST));
    const bs = blindBatch(es, seededBytes('bb'));
    expect(bs.map((b) => hex(b.blinded))).toEqual(blindBatch(es, seededBytes('bb')).map((b) => hex(b.blinded))); // deterministic
    for (const b of bs) {
      expect(b.inverse[0]! & 7).toBe(0);
      expect(b.inverse[31]! & 0xc0).toBe(0x40);
    }
    const unblinded = unblindBatch(
      bs.map((b) => b.inverse),
      key.evaluateBatch(bs.map((b) => b.blinded)),
    );
    es.forEach((e, i) => expect(hex(unblinded[i]!)).toBe(hex(key.evaluate(e))));
    expect(blindBatch([])).toEqual([]);
  });

  test('blindBatch and unblindBatch hand out views of packed buffers, in order (no ArrayBuffer per element)', () => {
    const es = ids(5, 'packed').map((x) => hashToGroup(x, DST));
    const bs = blindBatch(es, seededBytes('packed'));
    const evaluated = OprfKey.generate(seededBytes('packed-key')).evaluateBatch(bs.map((b) => b.blinded));
    const us = unblindBatch(bs.map((b) => b.inverse), evaluated);
    for (const list of [bs.map((b) => b.blinded), bs.map((b) => b.inverse), us]) {
      list.forEach((x, i) => {
        expect(x.length).toBe(32);
        expect(x.buffer).toBe(list[0]!.buffer);
        expect(x.byteOffset).toBe(list[0]!.byteOffset + 32 * i);
      });
    }
    expect(bs[0]!.blinded.buffer).not.toBe(bs[0]!.inverse.buffer); // the secret scalars are a buffer of their own
  });

  test('blindBatch draws again (a second round) for the element whose r is refused, and the pairs still unblind', () => {
    const bad = rejectedBlindingScalar('retry');
    const good = seededBytes('retry-good');
    let calls = 0;
    const rng = (n: number): Uint8Array => (calls++ === 1 ? Uint8Array.from(bad) : good(n));
    const key = OprfKey.generate(seededBytes('retry-key'));
    const es = ids(3, 'retry').map((x) => hashToGroup(x, DST));
    const bs = blindBatch(es, rng);
    expect(calls).toBe(4); // three in the first round, one more for element 1
    const unblinded = unblindBatch(bs.map((b) => b.inverse), key.evaluateBatch(bs.map((b) => b.blinded)));
    es.forEach((e, i) => expect(hex(unblinded[i]!)).toBe(hex(key.evaluate(e))));
  });

  test('blindBatch with an RNG stuck on a rejected value throws after 128 rounds', () => {
    const stuck = rejectedBlindingScalar('stuck-batch');
    const e = hashToGroup(enc.encode('x'), DST);
    expect(() => blindBatch([e, e], () => Uint8Array.from(stuck))).toThrow(/128 rounds/);
  });

  test('unlinkability: the same input blinded twice gives different blinded values but the same token', () => {
    const key = OprfKey.generate();
    const x = enc.encode('bob@example.com');
    const e = hashToGroup(x, DST);
    const b1 = blind(e);
    const b2 = blind(e);
    expect(hex(b1.blinded)).not.toBe(hex(b2.blinded));
    expect(hex(b1.blinded)).not.toBe(hex(e));
    const t1 = finalize(x, unblind(b1.inverse, key.evaluate(b1.blinded)));
    const t2 = finalize(x, unblind(b2.inverse, key.evaluate(b2.blinded)));
    expect(hex(t1)).toBe(hex(t2));
    expect(hex(t1)).toBe(hex(finalize(x, key.evaluate(e))));
  });

  test('a twist point is accepted, but its blinded evaluation matches nothing (the inverse is mod ℓ only)', () => {
    // u = 2 lies on the twist: u^3 + 486662 u^2 + u is a non-square mod p.
    const u = 2n;
    expect(modPow((u * u * u + 486662n * u * u + u) % P, (P - 1n) / 2n, P)).toBe(P - 1n);
    const twist = le(u);
    const key = OprfKey.generate(seededBytes('twist'));
    const direct = key.evaluate(twist);
    const { blinded, inverse } = blind(twist, seededBytes('twist-r'));
    expect(hex(unblind(inverse, key.evaluate(blinded)))).not.toBe(hex(direct));
  });

  test('blind, unblind and the batch forms validate with reason and index', () => {
    expect(caught(() => blind(LOW_ORDER_POINTS[1]!)).reason).toBe('low-order');
    expect(caught(() => blind(new Uint8Array(31))).reason).toBe('length');
    const good = hashToGroup(enc.encode('g'), DST);
    const err = caught(() => blindBatch([good, good, le(P)]));
    expect([err.reason, err.index]).toEqual(['non-canonical', 2]);
    const { inverse } = blind(good);
    expect(caught(() => unblind(inverse, new Uint8Array(32))).reason).toBe('low-order');
    expect(caught(() => unblind(inverse, le(P + 1n))).reason).toBe('non-canonical');
    expect(() => unblind(new Uint8Array(32), good)).toThrow(/expected a 32-byte clamped scalar/);
    const e2 = caught(() => unblindBatch([inverse, inverse], [good, LOW_ORDER_POINTS[4]!]));
    expect([e2.reason, e2.index]).toEqual(['low-order', 1]);
    expect(() => unblindBatch([inverse], [good, good])).toThrow(/expected equal-length arrays/);
    expect(() => unblindBatch([inverse, new Uint8Array(31)], [good, good])).toThrow(/inverse 1: expected a 32-byte clamped scalar/);
  });
});

describe('finalize', () => {
  const z = hashToGroup(enc.encode('z'), DST);

  test('is SHA-512("cleanroom/v1/oprf-finalize" ‖ u16be(|x|) ‖ x ‖ z), first TOKEN_BYTES (12) bytes', () => {
    const x = enc.encode('carol@example.com');
    const expected = createHash('sha512')
      .update('cleanroom/v1/oprf-finalize')
      .update(Uint8Array.of(0, x.length))
      .update(x)
      .update(z)
      .digest()
      .subarray(0, 12);
    const t = finalize(x, z);
    expect(t.length).toBe(TOKEN_BYTES);
    expect(hex(t)).toBe(hex(expected));
  });

  // This project's own vectors (generated by this implementation when tokens became 12 bytes):
  // they pin the whole token function F_k(x) = finalize(x, X25519(k, H(x))) under a fixed key.
  test('pinned 12-byte tokens under a fixed key', () => {
    const key = OprfKey.fromBytes(unhex('0002030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f60'));
    const vectors: [string, string, string][] = [
      ['phone', '+8613800138000', '780ed623edab0763eaa9e000'],
      ['email', 'carol@example.com', 'c906272347fc93c40284abaa'],
      ['phone', '', '2df09c5ab8cb58d5bd40b7b7'],
    ];
    for (const [type, id, token] of vectors) {
      const x = enc.encode(id);
      expect(hex(finalize(x, key.evaluate(hashToGroup(x, oprfDst(type, '2024-q1')))))).toBe(token);
      expect(hex(computeTokens(key, [x], oprfDst(type, '2024-q1')))).toBe(token);
    }
  });

  test('domain-separates the input: other inputs with the same element give other tokens', () => {
    const seen = new Set<string>();
    for (const x of ['', 'a', 'b', 'ab', 'a\0', '\0a']) seen.add(hex(finalize(enc.encode(x), z)));
    expect(seen.size).toBe(6);
    const z2 = hashToGroup(enc.encode('z2'), DST);
    expect(hex(finalize(enc.encode('a'), z))).not.toBe(hex(finalize(enc.encode('a'), z2)));
  });

  test('validates its arguments', () => {
    expect(() => finalize(new Uint8Array(65536), z)).toThrow(/expected input to be a Uint8Array of at most 65535 bytes/);
    expect(caught(() => finalize(enc.encode('a'), new Uint8Array(32))).reason).toBe('low-order');
    expect(caught(() => finalize(enc.encode('a'), new Uint8Array(TOKEN_BYTES))).reason).toBe('length');
  });
});

describe('evaluateBatchParallel', () => {
  afterAll(closeOprfWorkers);

  test('equals evaluateBatch across worker threads, order preserved', async () => {
    const key = OprfKey.generate(seededBytes('par'));
    const rng = seededBytes('par-es');
    const es = Array.from({ length: 5003 }, () => randomElement(rng));
    const expected = key.evaluateBatch(es);
    for (const threads of [2, 3]) {
      const got = await evaluateBatchParallel(key, es, threads);
      expect(got.length).toBe(es.length);
      for (let i = 0; i < es.length; i++) if (hex(got[i]!) !== hex(expected[i]!)) throw new Error(`mismatch at ${i} with ${threads} threads`);
    }
  });

  test('concurrent calls with different keys share the pool and get their own results', async () => {
    await prepareOprfWorkers(2);
    const k1 = OprfKey.generate(seededBytes('c1'));
    const k2 = OprfKey.generate(seededBytes('c2'));
    const rng = seededBytes('c-es');
    const es = Array.from({ length: 3000 }, () => randomElement(rng));
    const [a, b] = await Promise.all([evaluateBatchParallel(k1, es, 2), evaluateBatchParallel(k2, es, 2)]);
    for (const i of [0, 1499, 1500, 2999]) {
      expect(hex(a[i]!)).toBe(hex(k1.evaluate(es[i]!)));
      expect(hex(b[i]!)).toBe(hex(k2.evaluate(es[i]!)));
    }
  });

  test('the pool survives closeOprfWorkers and restarts on demand', async () => {
    await closeOprfWorkers();
    const key = OprfKey.generate(seededBytes('restart'));
    const es = Array.from({ length: 2500 }, () => randomElement());
    const got = await evaluateBatchParallel(key, es, 2);
    expect(hex(got[2499]!)).toBe(hex(key.evaluate(es[2499]!)));
  });

  test('stays on the calling thread below the threshold', async () => {
    const key = OprfKey.generate(seededBytes('small'));
    const es = Array.from({ length: PARALLEL_THRESHOLD - 1 }, () => randomElement());
    const got = await evaluateBatchParallel(key, es, 2);
    expect(hex(got[5]!)).toBe(hex(key.evaluate(es[5]!)));
  });

  test('validates ALL elements before starting workers, with the index', async () => {
    const key = OprfKey.generate(seededBytes('pbad'));
    const es = Array.from({ length: 4000 }, () => randomElement());
    es[3210] = LOW_ORDER_POINTS[3]!;
    const err = await evaluateBatchParallel(key, es, 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidElementError);
    expect((err as InvalidElementError).index).toBe(3210);
    expect((err as InvalidElementError).reason).toBe('low-order');
    await expect(evaluateBatchParallel(key, es, 0)).rejects.toThrow(/expected threads to be an integer in 1..64, got 0/);
  });
});
