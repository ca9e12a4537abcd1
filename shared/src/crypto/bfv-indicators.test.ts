/**
 * Joint-count's encrypted indicators: media encrypts one bit per position under its
 * publication key; the broker's masked sum over the matched positions decrypts to exactly
 * |matched ∧ indicator| + noise (the zero-sum mask cancels only in the sum of all slots).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { BrokerBfv, MediaBfv } from './bfv.ts';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import { bfvPair } from '../testing/bfv.ts';
import { primitiveDelta, primitiveSnapshot } from '../common/op-counts.ts';

const uniformBelow = (t: bigint) => BigInt('0x' + randomBytes(8).toString('hex')) % t;

describe('encrypted indicators and their masked sum', () => {
  let media: MediaBfv;
  let broker: BrokerBfv;
  beforeAll(async () => ({ media, broker } = await bfvPair()));
  afterAll(() => {
    media.dispose();
    broker.dispose();
  });

  it('writes each ciphertext into the place alloc gives (exactly its size), the same sums as fresh arrays; a wrong-sized place is refused', () => {
    const bits = Uint8Array.from({ length: 9000 }, (_, i) => (i % 4 === 1 ? 1 : 0));
    const places: Uint8Array[] = [];
    const arena = new Uint8Array(2 * 200_000);
    let used = 0;
    const cts = media.encryptIndicators(bits, (bytes) => {
      const place = arena.subarray(used, used + bytes);
      used += bytes;
      places.push(place);
      return place;
    });
    expect(cts.length).toBe(2);
    cts.forEach((ct, c) => expect(ct).toBe(places[c]));
    const positions = [1, 5, 8191, 8192, 8193, 8999];
    expect(media.decryptSlotSum(broker.sumIndicators(cts, positions, 0, uniformBelow))).toBe(positions.filter((p) => bits[p] === 1).length);
    expect(() => media.encryptIndicators(bits, (bytes) => new Uint8Array(bytes - 1))).toThrow(RangeError);
  });

  it('sums exactly the matched positions\' bits, across ciphertexts, plus the noise', () => {
    const users = 20_000; // three ciphertexts of 8192 slots
    const bits = new Uint8Array(users);
    for (let i = 0; i < users; i++) bits[i] = i % 3 === 0 ? 1 : 0;
    const cts = media.encryptIndicators(bits);
    expect(cts.length).toBe(3);
    const positions = [0, 1, 2, 3, 8191, 8192, 8193, 16_383, 16_384, 19_998, 19_999];
    const want = positions.filter((p) => bits[p] === 1).length;
    expect(media.decryptSlotSum(broker.sumIndicators(cts, positions, 0, uniformBelow))).toBe(want);
    expect(media.decryptSlotSum(broker.sumIndicators(cts, positions, -3, uniformBelow))).toBe(want - 3);
    expect(media.decryptSlotSum(broker.sumIndicators(cts, [], 5, uniformBelow))).toBe(5);
  });

  it('counts the primitives it does: per touched ciphertext a load, an NTT, its selection encoded and transformed, a product and an add; one NTT back, the mask encoded and one fresh zero', () => {
    const bits = new Uint8Array(3 * 8192);
    for (let i = 0; i < bits.length; i++) bits[i] = (i * 7) % 5 === 0 ? 1 : 0;
    const cts = media.encryptIndicators(bits);
    // ciphertexts 0 and 2 touched (three positions in 0, one in 2), 1 untouched: never parsed
    const positions = [5, 17, 8000, 2 * 8192 + 3];
    let s = primitiveSnapshot();
    const sum = broker.sumIndicators(cts, positions, 0, uniformBelow);
    expect(primitiveDelta(s)).toEqual({ bfvLoad: 2, bfvNtt: 3, bfvEncode: 3, bfvPlainNtt: 2, bfvMultiplyPlain: 2, bfvAdd: 2, bfvEncryptZero: 1 });
    expect(media.decryptSlotSum(sum)).toBe(positions.filter((p) => bits[p] === 1).length);
    // no matched position: an encryption of zero masked, then re-randomised by a second one
    s = primitiveSnapshot();
    const none = broker.sumIndicators(cts, [], 2, uniformBelow);
    expect(primitiveDelta(s)).toEqual({ bfvEncryptZero: 2, bfvAdd: 1, bfvEncode: 1 });
    expect(media.decryptSlotSum(none)).toBe(2);
  });

  it('gives the same count whichever order the positions come in, and for a whole ciphertext', () => {
    const bits = new Uint8Array(2 * 8192);
    for (let i = 0; i < bits.length; i++) bits[i] = i % 2;
    const cts = media.encryptIndicators(bits);
    const all = Array.from({ length: 8192 }, (_, i) => 8192 + i); // every slot of ciphertext 1
    const want = all.filter((p) => bits[p] === 1).length + 1; // + position 1
    expect(media.decryptSlotSum(broker.sumIndicators(cts, [...all, 1], 0, uniformBelow))).toBe(want);
    expect(media.decryptSlotSum(broker.sumIndicators(cts, [1, ...all.reverse()], 0, uniformBelow))).toBe(want);
  });

  it('refuses a position outside the indicators and a foreign ciphertext', async () => {
    const cts = media.encryptIndicators(new Uint8Array(10));
    expect(() => broker.sumIndicators(cts, [8192], 0, uniformBelow)).toThrow(/expected positions in \[0, 8192\)/);
    expect(() => media.decryptSlotSum(new Uint8Array([1, 2, 3]))).toThrow();
  });

  it('rejects a non-bit before encrypting anything, and encrypts an empty list to no ciphertext', () => {
    const bits = new Uint8Array(9000);
    bits[8500] = 2;
    expect(() => media.encryptIndicators(bits)).toThrow(/expected bits\[8500\] in \{0, 1\}, got 2/);
    expect(() => media.encryptIndicators([1] as unknown as Uint8Array)).toThrow(/expected bits as Uint8Array/);
    expect(media.encryptIndicators(new Uint8Array(0))).toEqual([]);
  });
});
