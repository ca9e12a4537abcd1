/**
 * The token rounds' one shell (token-rounds.ts TokenRole) as both advertiser-side roles run
 * it: on the same IDs, RNG stream and evaluations, the look-alike role and the lookup role
 * give the same blinded elements and the same tokens, refuse the same weaker policies with the
 * same errors (the lookup asks no minimum cohort), accept each round only in its phase, and
 * keep no scalar past TOKENS.
 */
import { describe, expect, it } from 'vitest';
import { OprfKey } from '../crypto/oprf.ts';
import { seededBytes } from '../testing/rng.ts';
import { AdvertiserRole } from './advertiser.ts';
import { LookupAdvertiserRole } from './lookup.ts';
import { TOKEN_SLICE, utf8, utf8Slice } from './token-rounds.ts';
import type { Policy, SessionAccepted } from './messages.ts';

const ids = Array.from({ length: 600 }, (_, i) => `+86138${String(i).padStart(8, '0')}`);
const policy: Policy = {
  decoyRatio: 3, minCohort: 5, noiseScale: 0, sizeBuckets: [16], evaluationQuota: 1e6,
  epsilonProfile: 1, epsilonCount: 0.1, epsilonDifferencing: 0.25, privacyBudget: 10, differencingMin: 1,
};
const accepted: SessionAccepted = { policy, paddedCount: 4 * ids.length, universeSizeClass: 'S', universeEpoch: 'e1', privacy: undefined };
const lookalike = () => new AdvertiserRole({ idType: 'phone', seeds: ids, audienceSize: 10, decoyRatio: 3, minCohort: 5, signingPublicKey: new Uint8Array(32), rng: seededBytes('shell') });
const lookup = () => new LookupAdvertiserRole({ idType: 'phone', ids, decoyRatio: 3, signingPublicKey: new Uint8Array(32), rng: seededBytes('shell') });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function reason(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  return 'no error';
}

describe('TokenRole: one BLIND/TOKENS shell for the look-alike and the lookup roles', () => {
  it('gives the same blinded elements and tokens in both roles, at once and in slices', () => {
    const key = OprfKey.generate();
    const runs = [lookalike(), lookup()].map((r) => {
      r.open();
      const blinded = r.blind(accepted);
      const tokens = r.unblind(key.evaluateBatch(blinded));
      expect(r.phase).toBe('tokens-sent');
      return { blinded: blinded.map(hex), tokens: tokens.map(hex) };
    });
    expect(runs[1]).toEqual(runs[0]);
    const sliced = lookup();
    sliced.open();
    sliced.beginBlind(accepted);
    let blinded;
    while (!(blinded = sliced.blindSome(256)));
    expect(blinded.map(hex)).toEqual(runs[0]!.blinded);
    sliced.beginUnblind(key.evaluateBatch(blinded));
    expect(sliced.phase).toBe('unblinding');
    let tokens;
    while (!(tokens = sliced.unblindSome(256)));
    expect(tokens.map(hex)).toEqual(runs[0]!.tokens);
  });

  it('refuses the same weaker policies with the same errors; only the look-alike role asks a minimum cohort', () => {
    const weaker: SessionAccepted[] = [
      { ...accepted, policy: { ...policy, decoyRatio: 1 } },
      { ...accepted, paddedCount: ids.length },
    ];
    for (const w of weaker) {
      const [a, l] = [lookalike(), lookup()];
      a.open();
      l.open();
      expect(reason(() => l.blind(w))).toBe(reason(() => a.blind(w)));
      expect(reason(() => a.beginBlind(w))).toMatch(/^FAILED_PRECONDITION: broker (policy has decoy ratio 1|announced padded size)/);
      expect([a.phase, l.phase]).toEqual(['opened', 'opened']);
    }
    const noCohort = { ...accepted, policy: { ...policy, minCohort: 1 } };
    const [a, l] = [lookalike(), lookup()];
    a.open();
    l.open();
    expect(reason(() => a.blind(noCohort))).toBe('FAILED_PRECONDITION: broker policy has minimum cohort 1, expected ≥ 5');
    expect(l.blind(noCohort)).toHaveLength(ids.length);
  });

  it('accepts each round only in its phase, naming the role, and a failure drops the scalars', () => {
    const [a, l] = [lookalike(), lookup()];
    expect(reason(() => a.blindSome(1))).toMatch(/^FAILED_PRECONDITION: .*advertiser.*blindSome.*'new'/);
    expect(reason(() => l.blindSome(1))).toMatch(/^FAILED_PRECONDITION: .*advertiser \(lookup\).*blindSome.*'new'/);
    for (const r of [a, l]) {
      r.open();
      r.beginBlind(accepted);
      expect(reason(() => r.unblind([]))).toMatch(/called unblind in phase 'blinding'/);
      expect(r.blindSome(1)).toBeUndefined();
      r.fail('gone');
      expect(r.phase).toBe('failed');
      expect(reason(() => r.blindSome(TOKEN_SLICE))).toMatch(/called blindSome in phase 'failed'/);
    }
  });
});

describe('utf8Slice', () => {
  it('gives the bytes TextEncoder gives for each ID of the range, as views of one buffer', () => {
    const some = ['+8613800000000', '', 'ana@example.com', 'zoë@exämple.de', '用户@例子.中国', 'emoji 😀 id', 'lone \ud800 surrogate', 'x'];
    const got = utf8Slice(some, 1, some.length);
    expect(got.length).toBe(some.length - 1);
    got.forEach((b, i) => {
      expect(hex(b)).toBe(hex(utf8(some[i + 1]!)));
      expect(b.buffer).toBe(got[0]!.buffer);
    });
    expect(utf8Slice(some, 3, 3)).toEqual([]);
  });
});
