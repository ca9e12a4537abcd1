// Tests for the BFV cohort profile (bfv.ts): correctness of the masked rotate-and-sum, exact
// noise, "B learns only the totals" (every block of the profile equals the totals), noise
// budget after the whole pipeline, rejection of malformed / mismatched inputs, and media's wire form (no zstd; an older media's zstd ciphertexts still load).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../testing/rng.ts';
import { BFV_PARAMETERS, BfvFormatError, BrokerBfv, MediaBfv, SeededWireForm, layoutFor, loadSeal } from './bfv.ts';
import { bfvPair } from '../testing/bfv.ts';
import { opCounts, primitiveDelta, primitiveSnapshot } from '../common/op-counts.ts';

const ATTRIBUTE_COUNT = 64;


function randomVectors(n: number, rand: () => number, p = 0.5): Uint8Array[] {
  return Array.from({ length: n }, () => Uint8Array.from({ length: ATTRIBUTE_COUNT }, () => (rand() < p ? 1 : 0)));
}

function plainTotals(vectors: readonly Uint8Array[], keep: Uint8Array): number[] {
  const totals = new Array<number>(ATTRIBUTE_COUNT).fill(0);
  vectors.forEach((v, i) => {
    if (keep[i] === 1) v.forEach((x, j) => (totals[j]! += x));
  });
  return totals;
}

const zeros = (): number[] => new Array<number>(ATTRIBUTE_COUNT).fill(0);

/** SEAL and a context for saved parameters (media's public material), to check the module against SEAL's own calls; the caller deletes parms and context. */
async function sealContextOf(params: Uint8Array) {
  const seal = await loadSeal();
  const parms = new seal.EncryptionParameters(seal.SchemeType.bfv);
  parms.loadFromArray(params);
  return { seal, parms, context: new seal.SEALContext(parms, true, seal.SecLevelType.tc128) };
}

let media: MediaBfv;
let broker: BrokerBfv;

beforeAll(async () => ({ media, broker } = await bfvPair()));

afterAll(() => {
  broker?.dispose();
  media?.dispose();
});

describe('layoutFor', () => {
  it('packs 64 attributes as 128 users of 64 slots', () => {
    expect(layoutFor(64)).toEqual({ slots: 8192, attributeCount: 64, block: 64, usersPerCiphertext: 128 });
  });
  it('rounds the block up to a power of two', () => {
    expect(layoutFor(65)).toMatchObject({ block: 128, usersPerCiphertext: 64 });
    expect(layoutFor(3)).toMatchObject({ block: 4, usersPerCiphertext: 2048 });
    expect(layoutFor(4096)).toMatchObject({ block: 4096, usersPerCiphertext: 2 });
  });
  it('rejects counts that are not integers in [1, 4096]', () => {
    for (const bad of [0, -1, 1.5, 4097, Number.NaN]) expect(() => layoutFor(bad)).toThrow(/expected attributeCount/);
  });
});

describe('MediaBfv.warmDecrypt', () => {
  it('decrypts a last-level profile of its own (non-zero totals, a slot sum beyond 2^31) without counting a primitive or a BFV operation; decryptProfile still counts', () => {
    const before = primitiveSnapshot();
    const decryptsBefore = opCounts.bfv.decrypt;
    media.warmDecrypt(); // throws unless its own totals and slot sum come back
    media.warmDecrypt();
    expect(primitiveDelta(before)).toEqual({});
    expect(opCounts.bfv.decrypt).toBe(decryptsBefore);
    const rand = mulberry32(5);
    const vectors = randomVectors(130, rand);
    const keep = Uint8Array.from({ length: 130 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const { totals, consistent } = media.decryptProfile(broker.aggregate(media.encryptUsers(vectors), keep, zeros()));
    expect(consistent).toBe(true);
    expect(totals).toEqual(plainTotals(vectors, keep));
    const d = primitiveDelta(before);
    expect([d.bfvNoiseBudget, d.bfvDecrypt, d.bfvDecode]).toEqual([1, 1, 1]); // its budget check, decryption and decoding
    // negative totals (noise below the count) read back exactly: slots decoded centred
    const noise = zeros().map((_, j) => (j % 3 === 0 ? -(j + 50) : j % 3 === 1 ? 7 : -1));
    const want = plainTotals(vectors, keep).map((t, j) => t + noise[j]!);
    expect(want.some((t) => t < 0)).toBe(true);
    expect(media.decryptProfile(broker.aggregate(media.encryptUsers(vectors), keep, noise))).toEqual({ totals: want, consistent: true });
  });
});

describe('MediaBfv.warmEncrypt', () => {
  it('encrypts without counting a primitive or a BFV operation; encryptions after it count, and their sum decrypts exactly (one counted decryption)', async () => {
    const fresh = await MediaBfv.create(ATTRIBUTE_COUNT);
    const pair = await BrokerBfv.fromPublicMaterial(fresh.publicMaterial(), ATTRIBUTE_COUNT);
    try {
      const before = primitiveSnapshot();
      const bfvBefore = opCounts.bfv.encrypt;
      fresh.warmEncrypt(2);
      expect(primitiveDelta(before)).toEqual({});
      expect(opCounts.bfv.encrypt).toBe(bfvBefore);
      const bits = Uint8Array.from({ length: BFV_PARAMETERS.polyModulusDegree + 5 }, (_, i) => (i % 5 === 1 ? 1 : 0));
      const cts = fresh.encryptIndicators(bits);
      expect(primitiveDelta(before)).toEqual({ bfvEncode: 2, bfvEncrypt: 2 });
      expect(opCounts.bfv.encrypt).toBe(bfvBefore + 2);
      const positions = Array.from({ length: bits.length }, (_, i) => i).filter((i) => i % 2 === 1);
      const want = positions.reduce((a, i) => a + bits[i]!, 0);
      const sum = pair.sumIndicators(cts, positions, 0, () => 0n);
      const beforeDecrypt = primitiveSnapshot();
      expect(fresh.decryptSlotSum(sum)).toBe(want);
      expect(primitiveDelta(beforeDecrypt)).toEqual({ bfvNoiseBudget: 1, bfvDecrypt: 1, bfvDecode: 1 }); // the joint count's one decryption is counted like a profile's
      // a noise below the count: a negative sum, read back exactly (the slots' sum reduced mod t, centred)
      expect(fresh.decryptSlotSum(pair.sumIndicators(cts, positions, -(want + 17), () => 0n))).toBe(-17);
      expect(fresh.decryptSlotSum(pair.sumIndicators(cts, positions, 1000, (t) => t - 1n))).toBe(want + 1000);
    } finally {
      pair.dispose();
      fresh.dispose();
    }
  });
});

describe('aggregate → decryptProfile: totals over kept positions only', () => {
  it('sums exactly the kept users over full, empty, mixed and partial ciphertexts', () => {
    const rand = mulberry32(1);
    const n = 3 * 128 + 37; // 4 ciphertexts, the last one partial
    const vectors = randomVectors(n, rand);
    const keep = new Uint8Array(n);
    for (let p = 0; p < 128; p++) keep[p] = 1; // ciphertext 0: all real (no mask multiply)
    // ciphertext 1: no real user (skipped)
    for (let p = 256; p < n; p++) keep[p] = rand() < 0.3 ? 1 : 0; // ciphertexts 2, 3: mixed
    const cts = media.encryptUsers(vectors);
    expect(cts).toHaveLength(4);
    const { totals, consistent } = media.decryptProfile(broker.aggregate(cts, keep, zeros()));
    expect(consistent).toBe(true);
    expect(totals).toEqual(plainTotals(vectors, keep));
  });

  it('randomised keep masks agree with the plaintext sum', () => {
    const rand = mulberry32(2);
    for (const [n, density] of [[200, 0.1], [128, 0.9], [1, 1]] as const) {
      const vectors = randomVectors(n, rand, rand());
      const keep = Uint8Array.from({ length: n }, () => (rand() < density ? 1 : 0));
      keep[0] = 1;
      const profile = broker.aggregate(media.encryptUsers(vectors), keep, zeros());
      const { totals, consistent } = media.decryptProfile(profile);
      expect(consistent).toBe(true);
      expect(totals).toEqual(plainTotals(vectors, keep));
    }
  });

  it('all positions kept (no mask at all) sums everyone', () => {
    const vectors = randomVectors(256, mulberry32(3));
    const keep = new Uint8Array(256).fill(1);
    const { totals } = media.decryptProfile(broker.aggregate(media.encryptUsers(vectors), keep, zeros()));
    expect(totals).toEqual(plainTotals(vectors, keep));
  });

  it('no position kept yields only the noise', () => {
    const vectors = randomVectors(130, mulberry32(4));
    const noise = Array.from({ length: ATTRIBUTE_COUNT }, (_, j) => j - 32);
    const { totals, consistent } = media.decryptProfile(broker.aggregate(media.encryptUsers(vectors), new Uint8Array(130), noise));
    expect(consistent).toBe(true);
    expect(totals).toEqual(noise);
  });
});

describe('aggregateStored: per-slot sums, each masked once', () => {
  it('gives the plaintext totals for one, several, more than 16 and all users per ciphertext, slots in every window, with at most one product per slot', () => {
    const rand = mulberry32(21);
    const n = 7 * 128;
    const vectors = randomVectors(n, rand);
    const stored = media.encryptUsers(vectors).map((ct) => broker.toStoredForm(ct));
    const keep = new Uint8Array(n);
    keep[0 * 128 + 5] = 1; // one user, window 0
    keep[1 * 128 + 5] = 1; // the same slot in another ciphertext: summed before its mask
    keep[1 * 128 + 100] = 1; // and one in window 3 of the same ciphertext
    for (const u of [31, 32, 63, 64, 127]) keep[2 * 128 + u] = 1; // window edges, both rows
    for (let u = 0; u < 40; u++) keep[3 * 128 + u * 3] = 1; // 40 users: one mask for its list
    for (let u = 0; u < 128; u++) keep[4 * 128 + u] = 1; // every user: no mask
    // ciphertext 5: nobody; ciphertext 6: a random half
    for (let u = 0; u < 128; u++) keep[6 * 128 + u] = rand() < 0.1 ? 1 : 0;
    const positions = [...keep.keys()].filter((p) => keep[p] === 1);
    const loads: number[] = [];
    const before = primitiveSnapshot();
    const profile = broker.aggregateStored((c) => (loads.push(c), stored[c]), stored.length, positions, zeros());
    const ops = primitiveDelta(before);
    expect(media.decryptProfile(profile).totals).toEqual(plainTotals(vectors, keep));
    expect(loads).not.toContain(5);
    expect(loads.filter((c) => c === 4)).toHaveLength(1);
    expect(loads.filter((c) => c === 3)).toHaveLength(1);
    // one product per used slot (≤ 128) plus one for the 40-user list; far fewer than the users
    const slotsUsed = new Set(positions.filter((p) => Math.floor(p / 128) !== 3 && Math.floor(p / 128) !== 4).map((p) => p % 128)).size;
    expect(ops.bfvMultiplyPlain).toBe(slotsUsed + 1);
    // the same totals from the wire form (aggregate) and with noise
    const noise = Array.from({ length: ATTRIBUTE_COUNT }, (_, j) => (j % 5) - 2);
    const want = plainTotals(vectors, keep).map((x, j) => x + noise[j]!);
    expect(media.decryptProfile(broker.aggregateStored((c) => stored[c], stored.length, positions, noise)).totals).toEqual(want);
  });
});

describe('BrokerBfv.warmAggregate', () => {
  it('runs both aggregations on a publication without counting a primitive or an aggregation; later aggregations give the same totals and still count', () => {
    const rand = mulberry32(33);
    const n = 3 * 128;
    const vectors = randomVectors(n, rand);
    const stored = media.encryptUsers(vectors).map((ct) => broker.toStoredForm(ct));
    const loads: number[] = [];
    const src = { view: (c: number) => (loads.push(c), stored[c]) };
    const before = primitiveSnapshot();
    const aggregations = opCounts.bfv.aggregate;
    broker.warmAggregate(src, stored.length);
    expect(primitiveDelta(before)).toEqual({});
    expect(opCounts.bfv.aggregate).toBe(aggregations);
    expect(loads.length).toBeGreaterThan(0); // it did read the publication
    const keep = Uint8Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 1 : 0));
    const positions = [...keep.keys()].filter((p) => keep[p] === 1);
    expect(media.decryptProfile(broker.aggregateStored(src, stored.length, positions, zeros())).totals).toEqual(plainTotals(vectors, keep));
    expect(primitiveDelta(before).bfvReadStored).toBe(3);
    expect(opCounts.bfv.aggregate).toBe(aggregations + 3); // counted per ciphertext aggregated
    // one ciphertext of one user: fewer users than the warm-up's positions
    broker.warmAggregate({ view: () => stored[0] }, 1);
    expect(() => broker.warmAggregate(src, 0)).toThrow(/expected a publication of at least one ciphertext, got 0/);
  });
});

describe('noise', () => {
  it('adds exactly, positive and negative (centred decoding)', () => {
    const rand = mulberry32(5);
    const vectors = randomVectors(300, rand);
    const keep = Uint8Array.from({ length: 300 }, () => (rand() < 0.5 ? 1 : 0));
    const noise = Array.from({ length: ATTRIBUTE_COUNT }, () => Math.round((rand() - 0.5) * 2000));
    noise[0] = -5000; // drives that total below zero
    noise[1] = 1_000_000;
    const expected = plainTotals(vectors, keep).map((x, j) => x + noise[j]!);
    const { totals, consistent } = media.decryptProfile(broker.aggregate(media.encryptUsers(vectors), keep, noise));
    expect(consistent).toBe(true);
    expect(totals).toEqual(expected);
    expect(totals[0]).toBeLessThan(0);
  });
});

describe('B learns only the totals', () => {
  it('one real user among 127 decoys: every block of the profile equals the totals', () => {
    // Decoys are all-ones, the real user is a fixed pattern: any per-slot leak of a decoy or
    // of another block would break equality of the blocks (consistent checks all 128 blocks,
    // including padding slots) or the totals.
    const real = Uint8Array.from({ length: ATTRIBUTE_COUNT }, (_, j) => (j % 3 === 0 ? 1 : 0));
    const vectors = Array.from({ length: 128 }, (_, i) => (i === 77 ? real : new Uint8Array(ATTRIBUTE_COUNT).fill(1)));
    const keep = new Uint8Array(128);
    keep[77] = 1; // row 1, so the column rotation is exercised
    const { totals, consistent } = media.decryptProfile(broker.aggregate(media.encryptUsers(vectors), keep, zeros()));
    expect(consistent).toBe(true);
    expect(totals).toEqual([...real]);
  });

  it('the profile is a single ciphertext at the last level, smaller than a user ciphertext', () => {
    const cts = media.encryptUsers(randomVectors(10, mulberry32(6)));
    const profile = broker.aggregate(cts, new Uint8Array(10).fill(1), zeros());
    expect(() => media.noiseBudgetBits(profile, 'last')).not.toThrow();
    expect(() => media.noiseBudgetBits(cts[0]!, 'last')).toThrow(BfvFormatError);
    expect(profile.length).toBeLessThan(cts[0]!.length);
  });
});

describe('noise budget after the whole pipeline', () => {
  // Worst case: 300 ciphertexts (38,400 padded positions), every attribute of every user = 1
  // and every ciphertext masked (the mask multiply is the costliest step). Measured with these
  // parameters (invariant noise budget, bits): fresh user ciphertext 128; after one mask
  // multiply 98; after summing 300 of them 90 (log2 300 ≈ 8.2); after rotate-and-sum 84 (7
  // doublings + key switching); after re-randomization 84; after switching to the 60-bit last
  // level 27 — exactly the budget of a fresh encryption switched down, i.e. set by the
  // rounding noise: the data-dependent part is ≈ 2^57 times smaller. Analytically, 10^6 padded
  // positions (7,813 ciphertexts) cost log2(7813/300) ≈ 4.7 more bits before the switch
  // (≈ 79 left): the final budget stays ≈ 27 bits. Decryption needs > 0.
  it('stays positive with 300 masked ciphertexts and does not depend on the mask', () => {
    const rand = mulberry32(7);
    const ones = Array.from({ length: 128 }, () => new Uint8Array(ATTRIBUTE_COUNT).fill(1));
    const [ct] = media.encryptUsers(ones);
    const count = 300;
    const cts = new Array<Uint8Array>(count).fill(ct!);
    const keep = Uint8Array.from({ length: count * 128 }, () => (rand() < 0.6 ? 1 : 0));
    for (let c = 0; c < count; c++) keep[c * 128] = 0; // every ciphertext is masked
    const kept = keep.reduce((a, b) => a + b, 0);
    const profile = broker.aggregate(cts, keep, zeros());
    const budget = media.noiseBudgetBits(profile);
    expect(budget).toBeGreaterThan(10);
    const { totals, consistent } = media.decryptProfile(profile);
    expect(consistent).toBe(true);
    expect(totals).toEqual(new Array<number>(ATTRIBUTE_COUNT).fill(kept));

    // A one-user profile has the same budget: after the switch the mask's noise is drowned.
    const single = new Uint8Array(128);
    single[5] = 1;
    const small = broker.aggregate([ct!], single, zeros());
    expect(Math.abs(media.noiseBudgetBits(small) - budget)).toBeLessThanOrEqual(1);
  });
});

describe('malformed and mismatched inputs → BfvFormatError', () => {
  let userCt: Uint8Array;
  let profile: Uint8Array;
  let foreignCt: Uint8Array;

  beforeAll(async () => {
    userCt = media.encryptUsers(randomVectors(3, mulberry32(8)))[0]!;
    profile = broker.aggregate([userCt], Uint8Array.of(1, 0, 1), zeros());
    // A ciphertext under other (SEAL default) parameters.
    const seal = await loadSeal();
    const parms = new seal.EncryptionParameters(seal.SchemeType.bfv);
    parms.setPolyModulusDegree(8192);
    const cm = seal.CoeffModulus.BFVDefault(8192, seal.SecLevelType.tc128);
    const pm = seal.PlainModulus.Batching(8192, 20);
    parms.setCoeffModulus(cm);
    parms.setPlainModulus(pm);
    const context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
    const keygen = new seal.KeyGenerator(context);
    const pk = keygen.createPublicKey();
    const enc = new seal.Encryptor(context, pk);
    const ct = new seal.Ciphertext();
    enc.encryptZero(ct);
    foreignCt = ct.saveToArray(seal.ComprModeType.zstd) as Uint8Array;
    for (const h of [ct, enc, pk, keygen, context, pm, cm, parms]) h.delete();
  });

  it('decryptProfile rejects garbage, truncation, a first-level ciphertext and foreign parameters', () => {
    const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131) & 0xff);
    for (const bad of [garbage, profile.subarray(0, profile.length >> 1), profile.subarray(0, 16), userCt, foreignCt, new Uint8Array(0)]) {
      expect(() => media.decryptProfile(bad)).toThrow(BfvFormatError);
    }
    const flipped = profile.slice();
    flipped[0] = flipped[0]! ^ 0xff; // SEAL magic
    expect(() => media.decryptProfile(flipped)).toThrow(BfvFormatError);
    // Still usable afterwards (the WASM runtime survived the exceptions).
    expect(media.decryptProfile(profile).consistent).toBe(true);
  });

  it('aggregate rejects bad ciphertexts at real positions', () => {
    const keep = Uint8Array.of(1);
    const oversized = new Uint8Array(2 << 20);
    for (const bad of [userCt.subarray(0, 1000), new Uint8Array([1, 2, 3]), foreignCt, profile, oversized]) {
      expect(() => broker.aggregate([bad], keep, zeros())).toThrow(BfvFormatError);
    }
  });

  it('toStoredForm rejects the same inputs, and its reused ciphertext stores the next valid one exactly as a fresh broker does', async () => {
    const other = await BrokerBfv.fromPublicMaterial(media.publicMaterial(), 64);
    try {
      const cts = media.encryptUsers(randomVectors(128 * 2, mulberry32(9)));
      const want = cts.map((ct) => other.toStoredForm(ct));
      const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131) & 0xff);
      for (const bad of [userCt.subarray(0, 1000), garbage, foreignCt, profile, new Uint8Array(2 << 20)]) {
        expect(() => broker.toStoredForm(bad)).toThrow(BfvFormatError);
        // a stored (NTT-form) ciphertext is not media's wire form either
        expect(() => broker.toStoredForm(want[0]!)).toThrow(/coefficient form/);
        cts.forEach((ct, c) => expect(Buffer.from(broker.toStoredForm(ct)).equals(Buffer.from(want[c]!))).toBe(true));
      }
    } finally {
      other.dispose();
    }
  });

  it('storedFormParts: its parts back to back are exactly storedFormView\'s bytes (SEAL\'s own save), the coefficients a view of SEAL\'s memory; bad input refused alike', async () => {
    const material = media.publicMaterial();
    const parts = await BrokerBfv.fromPublicMaterial(material, ATTRIBUTE_COUNT);
    const whole = await BrokerBfv.fromPublicMaterial(material, ATTRIBUTE_COUNT);
    try {
      const cts = media.encryptUsers(randomVectors(128 * 4, mulberry32(37)));
      cts.forEach((wire, c) => {
        if (c === 2) {
          expect(() => parts.storedFormParts(wire.subarray(0, 5000))).toThrow(BfvFormatError);
          expect(() => parts.storedFormParts(whole.toStoredForm(cts[0]!))).toThrow(/coefficient form/);
        }
        const got = parts.storedFormParts(wire);
        // the first call saves through SEAL (one part); later calls: header + coefficients in place
        expect(got.length).toBe(c === 0 ? 1 : 2);
        expect(Buffer.concat(got.map((p) => Buffer.from(p))).equals(Buffer.from(whole.storedFormView(wire)))).toBe(true);
      });
      // one load and one NTT counted per call, as storedFormView counts them
      const before = primitiveSnapshot();
      parts.storedFormParts(cts[1]!);
      expect(primitiveDelta(before)).toMatchObject({ bfvLoad: 1, bfvNtt: 1 });
    } finally {
      parts.dispose();
      whole.dispose();
    }
  });

  it('storedFormView gives exactly SEAL\'s own save of the NTT-form ciphertext (first call, later calls, after refused input), and toStoredForm a copy', async () => {
    const material = media.publicMaterial();
    const { seal, parms, context } = await sealContextOf(material.params);
    const evaluator = new seal.Evaluator(context);
    const ct = new seal.Ciphertext();
    const fresh = await BrokerBfv.fromPublicMaterial(material, ATTRIBUTE_COUNT);
    try {
      const cts = media.encryptUsers(randomVectors(128 * 5, mulberry32(31)));
      const sealSave = (wire: Uint8Array): Buffer => {
        ct.loadFromArray(context, wire);
        evaluator.cipherTransformToNttInplace(ct);
        return Buffer.from(ct.saveToArray(seal.ComprModeType.none) as Uint8Array);
      };
      const views: Uint8Array[] = [];
      cts.forEach((wire, c) => {
        if (c === 2) expect(() => fresh.storedFormView(wire.subarray(0, 5000))).toThrow(BfvFormatError);
        const view = fresh.storedFormView(wire);
        expect(Buffer.from(view).equals(sealSave(wire))).toBe(true);
        views.push(view);
        expect(Buffer.from(fresh.toStoredForm(wire)).equals(sealSave(wire))).toBe(true);
      });
      // a view is the instance's reused buffer from the second call on; toStoredForm's result is the caller's
      expect(views[3]!.buffer).toBe(views[4]!.buffer);
      const copy = fresh.toStoredForm(cts[0]!);
      fresh.storedFormView(cts[1]!);
      expect(Buffer.from(copy).equals(sealSave(cts[0]!))).toBe(true);
    } finally {
      fresh.dispose();
      for (const h of [ct, evaluator, context, parms]) h.delete();
    }
  });

  it('SeededWireForm copies exactly SEAL\'s own save of fresh seed-compressed ciphertexts (the first, checked, and every later one), and refuses a ciphertext without a seed', async () => {
    const material = media.publicMaterial();
    const { seal, parms, context } = await sealContextOf(material.params);
    const keygen = new seal.KeyGenerator(context);
    const sk = keygen.secretKey();
    const encryptor = new seal.Encryptor(context, keygen.createPublicKey(), sk);
    const encoder = new seal.BatchEncoder(context);
    const pt = new seal.Plaintext();
    const form = new SeededWireForm(BFV_PARAMETERS.coeffModulusBits.length - 1);
    const rand = mulberry32(53);
    let savedCalls = 0;
    try {
      for (let c = 0; c < 6; c++) {
        encoder.encode(BigInt64Array.from({ length: BFV_PARAMETERS.polyModulusDegree }, () => (rand() < 0.3 ? 1n : 0n)), pt);
        const sct = encryptor.encryptSymmetricSerializable(pt);
        try {
          const want = Buffer.from(sct.saveToArray(seal.ComprModeType.none) as Uint8Array);
          const got = form.copy(sct, () => (savedCalls++, sct.saveToArray(seal.ComprModeType.none) as Uint8Array));
          expect(got).toBeDefined();
          expect(Buffer.from(got!).equals(want)).toBe(true);
        } finally {
          sct.delete();
        }
      }
      expect(form.located).toBe(true);
      expect(savedCalls).toBe(1); // SEAL's save on the first ciphertext only
      // A ciphertext whose second polynomial is whole (no seed marker) is not copied: the caller saves it with SEAL.
      const whole = new seal.Ciphertext();
      encryptor.encryptSymmetric(pt, whole);
      expect(form.copy(whole, () => whole.saveToArray(seal.ComprModeType.none) as Uint8Array)).toBeUndefined();
      whole.delete();
      // A layout that does not match SEAL's save is never used.
      const wrong = new SeededWireForm(BFV_PARAMETERS.coeffModulusBits.length - 1);
      const sct = encryptor.encryptSymmetricSerializable(pt);
      expect(wrong.copy(sct, () => new Uint8Array(196_802))).toBeUndefined();
      expect(wrong.located).toBe(false);
      expect(wrong.copy(sct, () => sct.saveToArray(seal.ComprModeType.none) as Uint8Array)).toBeUndefined(); // refused for good
      sct.delete();
    } finally {
      for (const h of [pt, encoder, encryptor, sk, keygen, context, parms]) h.delete();
    }
  });

  it('takes ciphertexts as Buffer views into a larger message (no copy) exactly as plain arrays, at any byte offset', () => {
    const cts = media.encryptUsers(randomVectors(128 * 3, mulberry32(41)));
    const message = Buffer.concat([Buffer.from([1, 2, 3]), ...cts.map((ct) => Buffer.from(ct))]);
    let at = 3;
    const views = cts.map((ct) => message.subarray(at, (at += ct.length)));
    views.forEach((v, c) => {
      expect(v.byteOffset % 8).not.toBe(0); // unaligned
      expect(Buffer.from(broker.toStoredForm(v)).equals(Buffer.from(broker.toStoredForm(cts[c]!)))).toBe(true);
    });
    const keep = Uint8Array.from({ length: 3 * 128 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    expect(media.decryptProfile(broker.aggregate(views, keep, zeros())).totals).toEqual(media.decryptProfile(broker.aggregate(cts, keep, zeros())).totals);
    expect(message[0]).toBe(1); // the message itself untouched
  });

  it('fromPublicMaterial rejects bad params, keys, and Galois keys lacking a step', async () => {
    const m = media.publicMaterial();
    const garbage = new Uint8Array(64).fill(7);
    await expect(BrokerBfv.fromPublicMaterial({ ...m, params: garbage }, ATTRIBUTE_COUNT)).rejects.toThrow(BfvFormatError);
    await expect(BrokerBfv.fromPublicMaterial({ ...m, publicKey: m.galoisKeys.subarray(0, 5000) }, ATTRIBUTE_COUNT)).rejects.toThrow(BfvFormatError);
    await expect(BrokerBfv.fromPublicMaterial({ ...m, galoisKeys: m.publicKey }, ATTRIBUTE_COUNT)).rejects.toThrow(BfvFormatError);
    await expect(BrokerBfv.fromPublicMaterial({ ...m, galoisKeys: garbage }, ATTRIBUTE_COUNT)).rejects.toThrow(BfvFormatError);
    // 16 attributes need row steps 16 and 32, which keys made for 64 attributes lack.
    await expect(BrokerBfv.fromPublicMaterial(m, 16)).rejects.toThrow(/row step 16/);
    // Other parameters (SEAL's defaults) are refused even though they are well formed.
    const seal = await loadSeal();
    const parms = new seal.EncryptionParameters(seal.SchemeType.bfv);
    parms.setPolyModulusDegree(8192);
    const cm = seal.CoeffModulus.BFVDefault(8192, seal.SecLevelType.tc128);
    const pm = seal.PlainModulus.Batching(8192, BFV_PARAMETERS.plainModulusBits);
    parms.setCoeffModulus(cm);
    parms.setPlainModulus(pm);
    const otherParams = parms.saveToArray(seal.ComprModeType.zstd) as Uint8Array;
    for (const h of [pm, cm, parms]) h.delete();
    await expect(BrokerBfv.fromPublicMaterial({ ...m, params: otherParams }, ATTRIBUTE_COUNT)).rejects.toThrow(/expected BFV parameters/);
  });
});

describe('input validation', () => {
  it('encryptUsers rejects wrong lengths, non-binary values and non-bytes', () => {
    expect(() => media.encryptUsers([new Uint8Array(63)])).toThrow(/expected vectors\[0\] of length 64, got 63/);
    const two = new Uint8Array(64);
    two[9] = 2;
    expect(() => media.encryptUsers([new Uint8Array(64), two])).toThrow(/expected vectors\[1\]\[9\] in \{0, 1\}, got 2/);
    expect(() => media.encryptUsers([[0, 1] as unknown as Uint8Array])).toThrow(/Uint8Array/);
    expect(media.encryptUsers([])).toEqual([]);
  });

  it('aggregate rejects inconsistent keep, non-binary keep and bad noise', () => {
    const cts = media.encryptUsers(randomVectors(130, mulberry32(9)));
    const keep = new Uint8Array(130).fill(1);
    expect(() => broker.aggregate(cts, new Uint8Array(128), zeros())).toThrow(/expected 1 ciphertexts for 128 positions, got 2/);
    expect(() => broker.aggregate(cts, new Uint8Array(0), zeros())).toThrow(/at least one position/);
    const bad = keep.slice();
    bad[4] = 3;
    expect(() => broker.aggregate(cts, bad, zeros())).toThrow(/expected keep\[4\] in \{0, 1\}, got 3/);
    expect(() => broker.aggregate(cts, keep, [1, 2])).toThrow(/expected noise of length 64, got 2/);
    const frac = zeros();
    frac[3] = 0.5;
    expect(() => broker.aggregate(cts, keep, frac)).toThrow(/expected noise\[3\] a safe integer/);
    const huge = zeros();
    huge[0] = -(2 ** 24);
    expect(() => broker.aggregate(cts, keep, huge)).toThrow(/expected \|noise\[0\]\|/);
  });

  it('fails loudly when used after dispose()', async () => {
    const m = await MediaBfv.create(8);
    const b = await BrokerBfv.fromPublicMaterial(m.publicMaterial(), 8);
    const cts = m.encryptUsers([Uint8Array.of(1, 0, 1, 0, 1, 0, 1, 1)]);
    const { totals } = m.decryptProfile(b.aggregate(cts, Uint8Array.of(1), new Array<number>(8).fill(0)));
    expect(totals).toEqual([1, 0, 1, 0, 1, 0, 1, 1]);
    b.dispose();
    m.dispose();
    m.dispose(); // idempotent
    expect(() => m.encryptUsers([])).toThrow(/after dispose/);
    expect(() => b.aggregate(cts, Uint8Array.of(1), [])).toThrow(/after dispose/);
  });
});

describe('wire form of media\'s ciphertexts', () => {
  // SEAL's serialization header: magic (2), header size (1), version (2), compression mode (1: 0 none, 2 zstd).
  const COMPR_MODE_BYTE = 5;

  it('goes out seed-compressed without zstd; encryptEach gives the same totals as encryptUsers and rejects non-binary values', () => {
    const rand = mulberry32(11);
    const vectors = randomVectors(128 + 9, rand);
    const each: Uint8Array[] = [];
    media.encryptEach(vectors.length, (i, into) => into.set(vectors[i]!), (ct) => each.push(ct));
    expect(each).toHaveLength(2);
    expect(each[0]![COMPR_MODE_BYTE]).toBe(0);
    expect(each[0]!.length).toBeLessThan(200_000); // seeded: one polynomial and a seed, not two polynomials
    const keep = Uint8Array.from(vectors, () => (rand() < 0.5 ? 1 : 0));
    expect(media.decryptProfile(broker.aggregate(each, keep, zeros())).totals).toEqual(plainTotals(vectors, keep));
    expect(media.decryptProfile(broker.aggregate(media.encryptUsers(vectors), keep, zeros())).totals).toEqual(plainTotals(vectors, keep));
    expect(() => media.encryptEach(3, (i, into) => (into[5] = i === 2 ? 2 : 1), () => undefined)).toThrow(/user 2's attribute 5 in \{0, 1\}, got 2/);
  });

  it('the broker still takes an older media\'s zstd ciphertexts (stored form and aggregation)', async () => {
    // An older media's wire form: the same seeded symmetric encryption, saved with zstd.
    const material = media.publicMaterial();
    const { seal, parms, context } = await sealContextOf(material.params);
    const sk = new seal.SecretKey();
    sk.loadFromArray(context, media.secretKeyBytes());
    const pk = new seal.PublicKey();
    pk.loadFromArray(context, material.publicKey);
    const encryptor = new seal.Encryptor(context, pk, sk);
    const encoder = new seal.BatchEncoder(context);
    const pt = new seal.Plaintext();
    const vectors = randomVectors(128, mulberry32(12));
    try {
      const slots = new BigInt64Array(BFV_PARAMETERS.polyModulusDegree);
      vectors.forEach((v, u) => v.forEach((x, j) => (slots[u * 64 + j] = BigInt(x))));
      encoder.encode(slots, pt);
      const sct = encryptor.encryptSymmetricSerializable(pt);
      const zstd = sct.saveToArray(seal.ComprModeType.zstd) as Uint8Array;
      sct.delete();
      expect(zstd[COMPR_MODE_BYTE]).toBe(2);
      const keep = Uint8Array.from(vectors, (_, i) => (i % 3 === 0 ? 1 : 0));
      const positions = [...keep.keys()].filter((p) => keep[p] === 1);
      const stored = broker.toStoredForm(zstd);
      expect(media.decryptProfile(broker.aggregateStored(() => stored, 1, positions, zeros())).totals).toEqual(plainTotals(vectors, keep));
      expect(media.decryptProfile(broker.aggregate([zstd], keep, zeros())).totals).toEqual(plainTotals(vectors, keep));
    } finally {
      for (const h of [pt, encoder, encryptor, pk, sk, context, parms]) h.delete();
    }
  });
});
