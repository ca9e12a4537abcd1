// Tests for group.ts: element validation (every low-order point, non-canonical encodings, wrong
// lengths, batch indices), the low-order list itself, clamping, randomElement against
// @noble/curves and its determinism under an injected RNG, randomElements against randomElement.
import { describe, expect, test } from 'vitest';
import { seededBytes } from '../testing/rng.ts';
import { primitiveCounts } from '../common/op-counts.ts';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import {
  ELEMENT_BYTES,
  InvalidElementError,
  L,
  LOW_ORDER_POINTS,
  P,
  TOKEN_BYTES,
  clampInPlace,
  defaultRng,
  drawBytesInto,
  isClamped,
  randomElement,
  randomElements,
  sodium,
  validateElement,
  validateElements,
  validatePacked,
  validateStrided,
  x25519,
} from './group.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
function le(n: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
function reasonOf(f: () => void): { reason: string; index: number | undefined } | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof InvalidElementError) return { reason: e.reason, index: e.index };
    throw e;
  }
  return undefined;
}

describe('constants', () => {
  test('p, ℓ and sizes', () => {
    expect(P).toBe(57896044618658097711785492504343953926634992332820282019728792003956564819949n);
    expect(L).toBe(7237005577332262213973186563042994240857116359379907606001950938285454250989n);
    expect(ELEMENT_BYTES).toBe(32);
    expect(TOKEN_BYTES).toBe(12);
  });
});

describe('validateElement', () => {
  test('accepts ordinary canonical elements, including u = p − 2 and u = 9', () => {
    expect(() => validateElement(le(9n))).not.toThrow();
    expect(() => validateElement(le(P - 2n))).not.toThrow();
    expect(() => validateElement(le(2n))).not.toThrow();
  });

  test('refuses every low-order point as low-order (and the all-zero identity encoding)', () => {
    expect(LOW_ORDER_POINTS.length).toBe(5);
    for (const lo of LOW_ORDER_POINTS) expect(reasonOf(() => validateElement(lo))).toEqual({ reason: 'low-order', index: undefined });
    expect(reasonOf(() => validateElement(new Uint8Array(32)))?.reason).toBe('low-order');
    expect(reasonOf(() => validateElement(le(1n)))?.reason).toBe('low-order');
    expect(reasonOf(() => validateElement(le(P - 1n)))?.reason).toBe('low-order');
  });

  test('the low-order list is exactly the points X25519 sends to zero for a clamped scalar', () => {
    const rng = seededBytes('lo');
    for (const lo of LOW_ORDER_POINTS) {
      const k = clampInPlace(rng(32));
      expect(() => sodium.crypto_scalarmult(new Uint8Array(32), k, lo)).toThrow();
      expect(() => x25519(new Uint8Array(32), k, lo, 3)).toThrow(InvalidElementError);
    }
    // The two order-8 u-coordinates from the brief, little-endian.
    expect(hex(LOW_ORDER_POINTS[3]!)).toBe('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800');
    expect(hex(LOW_ORDER_POINTS[4]!)).toBe('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157');
  });

  test('refuses non-canonical encodings: u = p, p + 1, 2^255 − 1, top bit set', () => {
    for (const u of [P, P + 1n, P + 9n, 2n ** 255n - 1n]) expect(reasonOf(() => validateElement(le(u)))?.reason).toBe('non-canonical');
    const top = le(9n);
    top[31] = 0x80;
    expect(reasonOf(() => validateElement(top))?.reason).toBe('non-canonical');
    expect(reasonOf(() => validateElement(new Uint8Array(32).fill(0xff)))?.reason).toBe('non-canonical');
  });

  test('refuses wrong lengths and non-byte inputs as length', () => {
    for (const n of [0, 31, 33, 64]) expect(reasonOf(() => validateElement(new Uint8Array(n)))?.reason).toBe('length');
    expect(reasonOf(() => validateElement('x'.repeat(32) as unknown as Uint8Array))?.reason).toBe('length');
    expect(reasonOf(() => validateElement(null as unknown as Uint8Array))?.reason).toBe('length');
    expect(() => validateElement(new Uint8Array(31))).toThrow(/expected a 32-byte Uint8Array, got 31 bytes/);
  });

  test('carries the index given, and validateElements reports the first bad index', () => {
    expect(reasonOf(() => validateElement(new Uint8Array(33), 7))).toEqual({ reason: 'length', index: 7 });
    const good = le(9n);
    expect(reasonOf(() => validateElements([good, good, le(P), good]))).toEqual({ reason: 'non-canonical', index: 2 });
    expect(reasonOf(() => validateElements([good, new Uint8Array(0)]))).toEqual({ reason: 'length', index: 1 });
    expect(reasonOf(() => validateElements([good, LOW_ORDER_POINTS[2]!]))).toEqual({ reason: 'low-order', index: 1 });
    expect(() => validateElement(new Uint8Array(33), 7)).toThrow(/^element 7: expected a 32-byte/);
  });

  test('mutating the exported LOW_ORDER_POINTS does not weaken validation', () => {
    const copy = Uint8Array.from(LOW_ORDER_POINTS[0]!);
    LOW_ORDER_POINTS[0]!.fill(0x42);
    try {
      expect(reasonOf(() => validateElement(new Uint8Array(32)))?.reason).toBe('low-order');
    } finally {
      LOW_ORDER_POINTS[0]!.set(copy);
    }
  });
});

describe('validatePacked', () => {
  // every case validateElement decides, alone and in a packed list: the same verdict, the same
  // reason, the index of the first bad element counted from firstIndex
  const cases: Uint8Array[] = [
    le(9n), le(2n), le(P - 2n), ...LOW_ORDER_POINTS, new Uint8Array(32), le(P), le(P + 1n), le(2n ** 255n - 1n),
    new Uint8Array(32).fill(0xff), new Uint8Array(32).fill(0x7e), le(2n ** 254n), le(P - 19n),
    // first byte of a low-order point, otherwise ordinary: the slow path, accepted
    ...LOW_ORDER_POINTS.map((lo) => { const e = le(9n + 2n ** 200n); e[0] = lo[0]!; return e; }),
    ...Array.from({ length: 64 }, (_, i) => seededBytes(`vp${i}`)(32)),
  ];
  test('decides every element as validateElement does, reason and index included', () => {
    for (const e of cases) {
      const one = reasonOf(() => validateElement(e, 5));
      expect(reasonOf(() => validatePacked(e, 5))).toEqual(one);
      const packed = new Uint8Array(96);
      packed.set(le(9n), 0);
      packed.set(le(2n), 32);
      packed.set(e, 64);
      expect(reasonOf(() => validatePacked(packed, 10))).toEqual(one && { reason: one.reason, index: 12 });
    }
  });
  test('validateStrided: the same verdicts on elements read in place, the bytes between them ignored', () => {
    // three elements at 3 + k·34 (as a BlindedBatch's records lay them), the gaps 0xff (non-canonical if read)
    for (const e of cases) {
      const one = reasonOf(() => validateElement(e, 5));
      const wire = new Uint8Array(3 + 3 * 34).fill(0xff);
      wire.set(le(9n), 3);
      wire.set(le(2n), 3 + 34);
      wire.set(e, 3 + 68);
      expect(reasonOf(() => validateStrided(wire, 3, 34, 3, 10))).toEqual(one && { reason: one.reason, index: 12 });
      expect(() => validateStrided(wire, 3, 34, 2, 10)).not.toThrow();
    }
    expect(() => validateStrided(new Uint8Array(3 + 3 * 34), 3, 34, 4)).toThrow(RangeError);
    expect(() => validateStrided(new Uint8Array(64), 0, 16, 2)).toThrow(RangeError);
    expect(() => validateStrided(new Uint8Array(0), 0, 34, 0)).not.toThrow();
  });
  test('refuses a buffer that is not whole elements, and accepts an empty one', () => {
    expect(reasonOf(() => validatePacked(new Uint8Array(33)))).toEqual({ reason: 'length', index: 0 });
    expect(reasonOf(() => validatePacked([] as unknown as Uint8Array, 3))).toEqual({ reason: 'length', index: 3 });
    expect(() => validatePacked(new Uint8Array(0))).not.toThrow();
  });
});

describe('clamping', () => {
  test('clampInPlace produces 2^254 + 8m, and isClamped recognises it', () => {
    const k = clampInPlace(new Uint8Array(32).fill(0xff));
    expect(k[0]).toBe(0xf8);
    expect(k[31]).toBe(0x7f);
    expect(isClamped(k)).toBe(true);
    expect(isClamped(new Uint8Array(32))).toBe(false);
    expect(isClamped(new Uint8Array(31))).toBe(false);
  });
});

describe('randomElement', () => {
  test('equals X25519(clamp(r), 9) computed by @noble/curves, and is deterministic under an injected RNG', () => {
    const r = seededBytes('re')(32);
    const e = randomElement(() => Uint8Array.from(r));
    expect(hex(e)).toBe(hex(nobleX25519.scalarMultBase(r)));
    expect(hex(randomElement(seededBytes('re')))).toBe(hex(e));
  });

  test('is a valid element and differs between draws', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const e = randomElement();
      expect(() => validateElement(e)).not.toThrow();
      seen.add(hex(e));
    }
    expect(seen.size).toBe(200);
  });

  test('refuses an RNG that breaks its contract', () => {
    expect(() => randomElement(() => new Uint8Array(31))).toThrow(/expected rng\(32\) to return 32 bytes, got 31 bytes/);
  });
});

describe('randomElements', () => {
  test('equals randomElement drawn one by one from the same byte stream, across rng blocks (300 = 128 + 128 + 44)', () => {
    const one = seededBytes('res');
    const expected = Array.from({ length: 300 }, () => hex(randomElement(one)));
    const got = randomElements(300, seededBytes('res'));
    expect(got.map(hex)).toEqual(expected);
    for (const e of got) expect(e.length).toBe(ELEMENT_BYTES);
  });

  test('valid, distinct, each counted as one fixed-base X25519; 0 gives none', () => {
    const before = primitiveCounts.x25519Base;
    const es = randomElements(1000);
    expect(primitiveCounts.x25519Base - before).toBe(1000);
    expect(() => validateElements(es)).not.toThrow();
    expect(new Set(es.map(hex)).size).toBe(1000);
    expect(randomElements(0)).toEqual([]);
  });

  test('refuses a bad count and an RNG that breaks its contract', () => {
    expect(() => randomElements(-1)).toThrow(/expected a count of elements ≥ 0, got -1/);
    expect(() => randomElements(1.5)).toThrow(RangeError);
    expect(() => randomElements(2, () => new Uint8Array(32))).toThrow(/expected rng\(64\) to return 64 bytes, got 32 bytes/);
  });
});

describe('defaultRng (pooled CSPRNG)', () => {
  test('returns exactly n fresh bytes per call, across pool refills and for large draws', () => {
    const sizes = [32, 0, 1, 33, 4096, 7, 4097, 100_000, 32];
    const seen = new Set<string>();
    let total = 0;
    for (let round = 0; round < 60; round++) {
      for (const n of sizes) {
        const b = defaultRng(n);
        expect(b).toBeInstanceOf(Uint8Array);
        expect(b.length).toBe(n);
        total += n;
        if (n >= 16) seen.add(hex(b.subarray(0, 16)));
      }
    }
    expect(total).toBeGreaterThan(4 * 16384); // several refills
    expect(seen.size).toBe(60 * sizes.filter((n) => n >= 16).length); // no output handed out twice
  });

  test('each draw is the caller\'s own copy: changing it changes no later draw', () => {
    const a = defaultRng(32);
    a.fill(0);
    const b = defaultRng(32);
    expect(b.some((x) => x !== 0)).toBe(true);
    expect(a.buffer).not.toBe(b.buffer);
  });

  test('drawBytesInto from it writes fresh pool bytes in place, never bytes another draw got, across refills', () => {
    const seen = new Set<string>();
    const out = new Uint8Array(64);
    for (let i = 0; i < 1500; i++) { // 1500 × 48 bytes: several pool refills, interleaved with defaultRng's own draws
      drawBytesInto(defaultRng, 32, out, 16);
      expect(out.subarray(0, 16).every((x) => x === 0) && out.subarray(48).every((x) => x === 0)).toBe(true); // only [16, 48) written
      seen.add(hex(out.subarray(16, 48)));
      seen.add(hex(defaultRng(16)));
    }
    expect(seen.size).toBe(3000);
    expect(() => drawBytesInto(defaultRng, 32, out, 40)).toThrow(RangeError); // no room: the checked path, as for any rng
  });

  test('its bytes look uniform (each byte value 0..255 within 5 sigma over 2^20 bytes)', () => {
    const counts = new Float64Array(256);
    for (let i = 0; i < 1024; i++) for (const x of defaultRng(1024)) counts[x]!++;
    const mean = (1024 * 1024) / 256;
    const sigma = Math.sqrt(mean * (1 - 1 / 256));
    for (const c of counts) expect(Math.abs(c - mean)).toBeLessThan(5 * sigma);
  });
});

