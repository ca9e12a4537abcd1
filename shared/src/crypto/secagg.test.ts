/**
 * Secure aggregation primitives (crypto/secagg.ts) and Shamir sharing (crypto/shamir.ts):
 * masks cancel in the sum mod 2^64, the aggregator's unmasking with a dropped member, shares
 * encrypted member to member, Shamir at t and t − 1, bad inputs.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { addWords, agree, expandMask, maskInput, openFromPeer, pairwiseSeed, randomSeed, sealForPeer, unmaskSum, x25519KeyPair } from './secagg.ts';
import { combine, interpolateAtZero, share, ShamirError } from './shamir.ts';

const ctx = { sessionId: 'fed-test', round: 3 };

function randomWords(n: number): BigUint64Array {
  return new BigUint64Array(new Uint8Array(randomBytes(8 * n)).buffer);
}

describe('Shamir sharing over GF(2^521 − 1)', () => {
  it('any t of n shares recover the secret; t − 1 do not', () => {
    const secret = new Uint8Array(randomBytes(32));
    const shares = share(secret, 3, [1, 2, 3, 4, 5]);
    expect(combine([shares[4]!, shares[0]!, shares[2]!], 3)).toEqual(secret);
    expect(combine(shares.slice(1, 4), 3)).toEqual(secret);
    expect(() => combine(shares.slice(0, 2), 3)).toThrow(ShamirError);
    // Interpolating t − 1 shares as if t − 1 were the threshold gives an unrelated field element.
    expect(interpolateAtZero(shares.slice(0, 2), 2)).not.toBe(BigInt('0x' + Buffer.from(secret).toString('hex')));
  });

  it('refuses repeated points, bad thresholds and malformed shares', () => {
    const s = share(new Uint8Array(32).fill(7), 2, [1, 2, 3]);
    expect(() => combine([s[0]!, s[0]!], 2)).toThrow(/distinct points/);
    expect(() => share(new Uint8Array(32), 4, [1, 2, 3])).toThrow(/expected 1 ≤ t ≤ 3/);
    expect(() => share(new Uint8Array(31), 2, [1, 2, 3])).toThrow(/32-byte secret/);
    expect(() => combine([{ x: 1, y: new Uint8Array(65) }, s[1]!], 2)).toThrow(/66-byte share/);
  });
});

describe('pairwise masks (Bonawitz et al. §4)', () => {
  const n = 4;
  const len = 23;
  const keys = Array.from({ length: n }, () => x25519KeyPair());
  const inputs = Array.from({ length: n }, () => randomWords(len));
  const selfSeeds = Array.from({ length: n }, () => randomSeed());
  const pairsOf = (u: number, among: number[]) => among.filter((v) => v !== u).map((v) => ({ peer: v, seed: pairwiseSeed(keys[u - 1]!.secretKey, keys[v - 1]!.publicKey, ctx, u, v) }));
  const exactSum = (who: number[]): BigUint64Array => who.reduce<BigUint64Array>((acc, u) => addWords(acc, inputs[u - 1]!), new BigUint64Array(len));

  it('the pairwise seed is symmetric and bound to the context', () => {
    const a = pairwiseSeed(keys[0]!.secretKey, keys[1]!.publicKey, ctx, 1, 2);
    expect(pairwiseSeed(keys[1]!.secretKey, keys[0]!.publicKey, ctx, 2, 1)).toEqual(a);
    expect(pairwiseSeed(keys[0]!.secretKey, keys[1]!.publicKey, { ...ctx, round: 4 }, 1, 2)).not.toEqual(a);
    expect(expandMask(a, 8, ctx, 'pair')).not.toEqual(expandMask(a, 8, ctx, 'self'));
  });

  it('the unmasked sum equals the exact sum mod 2^64', () => {
    const all = [1, 2, 3, 4];
    const masked = all.map((u) => maskInput(inputs[u - 1]!, u, selfSeeds[u - 1]!, pairsOf(u, all), ctx));
    const sum = masked.reduce((acc, y) => addWords(acc, y), new BigUint64Array(len));
    expect(unmaskSum(sum, selfSeeds, [], ctx)).toEqual(exactSum(all));
    // Without removing the self-masks the sum is not the inputs' sum.
    expect(sum).not.toEqual(exactSum(all));
  });

  it('a member that dropped after sharing: the survivors\' masks with it are removed from its s key', () => {
    const all = [1, 2, 3, 4];
    const survivors = [1, 2, 4];
    const masked = survivors.map((u) => maskInput(inputs[u - 1]!, u, selfSeeds[u - 1]!, pairsOf(u, all), ctx));
    const sum = masked.reduce((acc, y) => addWords(acc, y), new BigUint64Array(len));
    const dropped = survivors.map((u) => ({ survivor: u, dropped: 3, seed: pairwiseSeed(keys[2]!.secretKey, keys[u - 1]!.publicKey, ctx, 3, u) }));
    expect(unmaskSum(sum, survivors.map((u) => selfSeeds[u - 1]!), dropped, ctx)).toEqual(exactSum(survivors));
  });

  it('refuses low-order and malformed peer keys', () => {
    expect(() => agree(keys[0]!.secretKey, new Uint8Array(32))).toThrow();
    expect(() => agree(keys[0]!.secretKey, new Uint8Array(31))).toThrow();
  });
});

describe('shares encrypted member to member', () => {
  it('opens only for the addressed member, in the same session and round', () => {
    const a = x25519KeyPair();
    const b = x25519KeyPair();
    const msg = new Uint8Array(randomBytes(134));
    const sealed = sealForPeer(msg, a.secretKey, b.publicKey, ctx, 1, 2);
    expect(openFromPeer(sealed, b.secretKey, a.publicKey, ctx, 1, 2)).toEqual(msg);
    expect(openFromPeer(sealed, b.secretKey, a.publicKey, { ...ctx, round: 4 }, 1, 2)).toBeNull();
    expect(openFromPeer(sealed, b.secretKey, a.publicKey, ctx, 3, 2)).toBeNull();
    const tampered = sealed.slice();
    tampered[40]! ^= 1;
    expect(openFromPeer(tampered, b.secretKey, a.publicKey, ctx, 1, 2)).toBeNull();
  });
});
