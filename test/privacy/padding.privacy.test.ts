/**
 * Privacy against the media node (B), proven by attack, on the padded list it evaluates in the
 * BLIND round (docs/protocol.md §4, media row: media learns P, a size bucket, never n nor which
 * element is whose). Media receives A's blinded elements and the broker's dummies shuffled into
 * one list; an element that told a dummy from one of A's would give media the seed count n
 * (and, across sessions, which evaluations are real). Here media, with the exact padded list
 * the broker's padding code builds (drawDummies — randomElements, drawn in slices — and
 * padAndShuffle, as the broker runs them), ranks the elements by every cheap property it could
 * compute — the place in the list, bytes, bit count, residues, and the quadratic characters
 * of u and of u³ + A·u² + u (whether the point is on the curve or its twist, and its class
 * in the group) — and must not separate A's elements from the dummies (AUC within 0.5 ± 0.05;
 * the AUC's standard deviation at these sizes is ≈ 0.007–0.009).
 *
 * Shown failing by hand: dummies drawn as 32 random bytes (top bit cleared) give AUC ≈ 0.75 on
 * both quadratic characters; padAndShuffle without its permutation gives a position AUC of
 * 0 (A's elements first).
 */
import { describe, expect, it } from 'vitest';
import { modPow as powMod } from '@cleanroom/shared/testing/field.ts';
import { hashToGroupBatch, oprfDst } from '@cleanroom/shared/crypto/h2c.ts';
import { blindBatch } from '@cleanroom/shared/crypto/oprf.ts';
import { P as FIELD_P } from '@cleanroom/shared/crypto/group.ts';
import { drawDummies, padAndShuffle } from '@cleanroom/shared/protocol/padding.ts';
import { cryptoUniform } from '@cleanroom/shared/protocol/policy.ts';
import { auc } from './attack.ts';

const SEEDS = 2000;
const PADDED = 10_000;
/** Elements per side whose quadratic characters are computed (BigInt exponentiations). */
const CHARACTER_SAMPLE = 2000;


/** 1 when x is a nonzero square mod p, else 0 (Euler's criterion). */
const isSquare = (x: bigint): number => (powMod(x, (FIELD_P - 1n) / 2n, FIELD_P) === 1n ? 1 : 0);

function uOf(e: Uint8Array): bigint {
  let u = 0n;
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(e[i]!);
  return u;
}

const popcount = (e: Uint8Array): number => e.reduce((n, b) => n + ((b.toString(2).match(/1/g) ?? []).length), 0);

describe('media (B) as an adversary on the padded list it evaluates', () => {
  it('cannot tell A\'s blinded elements from the broker\'s dummies by place, bytes, residues or quadratic character', () => {
    const ids = Array.from({ length: SEEDS }, (_, i) => new TextEncoder().encode(`+4479${String(10_000_000 + i)}`));
    const blinded = blindBatch(hashToGroupBatch(ids, oprfDst('phone', 'epoch-padding-attack'))).map((b) => b.blinded);
    const { padded, padMap } = padAndShuffle(blinded, drawDummies(PADDED - SEEDS), PADDED, cryptoUniform);

    const features: Record<string, (e: Uint8Array, pos: number) => number> = {
      position: (_, pos) => pos,
      'first byte': (e) => e[0]!,
      'last byte': (e) => e[31]!,
      'bit count': popcount,
      'u mod 3': (e) => Number(uOf(e) % 3n),
      'u mod 8': (e) => Number(uOf(e) % 8n),
      'u mod 255': (e) => Number(uOf(e) % 255n),
    };
    const characters: Record<string, (u: bigint) => number> = {
      'u is a square': (u) => isSquare(u),
      'on the curve, not its twist (u³ + A·u² + u a square)': (u) => isSquare((((u * u) % FIELD_P) * u + 486662n * ((u * u) % FIELD_P) + u) % FIELD_P),
    };

    const real: Record<string, number[]> = {};
    const dummy: Record<string, number[]> = {};
    for (const k of [...Object.keys(features), ...Object.keys(characters)]) {
      real[k] = [];
      dummy[k] = [];
    }
    let realSampled = 0;
    let dummySampled = 0;
    for (let pos = 0; pos < PADDED; pos++) {
      const e = padded.at(pos);
      const isReal = padMap[pos]! >= 0;
      const into = isReal ? real : dummy;
      for (const [k, f] of Object.entries(features)) into[k]!.push(f(e, pos));
      if (isReal ? realSampled++ < CHARACTER_SAMPLE : dummySampled++ < CHARACTER_SAMPLE) {
        const u = uOf(e);
        for (const [k, f] of Object.entries(characters)) into[k]!.push(f(u));
      }
    }
    expect(real.position!.length).toBe(SEEDS);
    const aucs = Object.fromEntries(Object.keys(real).map((k) => [k, auc(real[k]!, dummy[k]!)]));
    console.log(`padded list (${SEEDS} of A's among ${PADDED}): AUC per property ${JSON.stringify(Object.fromEntries(Object.entries(aucs).map(([k, v]) => [k, Number(v.toFixed(3))])))}`);
    for (const [k, v] of Object.entries(aucs)) expect(Math.abs(v - 0.5), `${k}: AUC ${v}`).toBeLessThanOrEqual(0.05);
  });
});
