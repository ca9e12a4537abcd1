/**
 * The advertiser role as a state machine, without a network: each round is accepted only in its
 * phase, the state a phase carries (the broker's policy, the blinding scalars, the result) is
 * there exactly when it is valid, a refusal at OPEN ends the session, and fail() drops the
 * scalars. The rounds over real nodes are covered by test/unit/session.memory.test.ts and the
 * kinds tests; this pins the transitions the node relies on.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { OprfKey } from '../crypto/oprf.ts';
import { AdvertiserRole } from './advertiser.ts';
import { warmTokenPath } from './token-rounds.ts';
import { primitiveSnapshot } from '../common/op-counts.ts';
import type { Policy, SessionAccepted, SessionResult } from './messages.ts';

const seeds = ['+8613800000001', '+8613800000002', 'not a phone', '+8613800000001'];
const role = (): AdvertiserRole =>
  new AdvertiserRole({ idType: 'phone', seeds, audienceSize: 10, decoyRatio: 2, minCohort: 5, signingPublicKey: new Uint8Array(32) });

const policy: Policy = {
  decoyRatio: 3, minCohort: 5, noiseScale: 0, sizeBuckets: [16], evaluationQuota: 100,
  epsilonProfile: 1, epsilonCount: 0.1, epsilonDifferencing: 0.25, privacyBudget: 10, differencingMin: 1,
};
const accepted: SessionAccepted = { policy, paddedCount: 16, universeSizeClass: 'S', universeEpoch: 'e1', privacy: undefined };
const result = (outcome: SessionResult['outcome'], realMatches = 1): SessionResult =>
  ({ outcome, reason: '', paddedCount: 16, realMatches, lookalike: undefined, privacy: undefined });

function expectCode(f: () => unknown, code: string, message?: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code });
  if (message) expect((err as Error).message).toMatch(message);
}

describe('AdvertiserRole', () => {
  it('runs OPEN → BLIND → TOKENS → LOOKALIKE, carrying the accepted policy and dropping the scalars', () => {
    const a = role();
    expect(a.report).toMatchObject({ rows: 4, valid: 2, duplicates: 1 });
    expect(a.open()).toMatchObject({ seedCount: 2, kind: 'lookalike' });
    expect(a.phase).toBe('opened');
    expect(a.acceptedPolicy).toBeUndefined();
    const blinded = a.blind(accepted);
    expect(a.phase).toBe('blinded');
    expect(a.acceptedPolicy).toEqual(policy);
    const tokens = a.unblind(OprfKey.generate().evaluateBatch(blinded));
    expect(tokens).toHaveLength(2);
    expect(a.phase).toBe('tokens-sent');
    expectCode(() => a.unblind([]), 'FAILED_PRECONDITION', /called unblind in phase 'tokens-sent'/);
    // a retargeting-style outcome with nothing sealed (not COMPLETED): no insight, no counts
    const r = a.finish(result('COHORT_TOO_SMALL'));
    expect(a.phase).toBe('done');
    expect(a.result).toBe(r);
    expect(a.insight).toBeUndefined();
    expect(a.jointCounts).toBeUndefined();
    expect(a.acceptedPolicy).toEqual(policy);
  });

  it('each round only in its phase; a weaker policy, a short evaluation or an impossible count is refused', () => {
    const a = role();
    expectCode(() => a.blind(accepted), 'FAILED_PRECONDITION', /called blind in phase 'new'/);
    a.open();
    expectCode(() => a.open(), 'FAILED_PRECONDITION');
    expectCode(() => a.blind({ ...accepted, policy: { ...policy, decoyRatio: 1 } }), 'FAILED_PRECONDITION', /decoy ratio 1/);
    expectCode(() => a.blind({ ...accepted, paddedCount: 7 }), 'FAILED_PRECONDITION', /padded size 7/);
    expect(a.phase).toBe('opened');
    a.blind(accepted);
    expectCode(() => a.unblind([]), 'INVALID_ARGUMENT', /expected 2 evaluated elements, got 0/);
    expect(a.phase).toBe('blinded');
  });

  it('a COMPLETED lookalike without a result sealed to its key is refused', () => {
    const a = role();
    a.open();
    a.unblind(OprfKey.generate().evaluateBatch(a.blind(accepted)));
    expectCode(() => a.finish(result('COMPLETED')), 'INVALID_ARGUMENT', /sealed result is missing/);
    expectCode(() => a.finish(result('COHORT_TOO_SMALL', 1000)), 'INVALID_ARGUMENT', /1000 real matches for 2 seeds/);
    expect(a.phase).toBe('tokens-sent');
  });

  it('a refusal at OPEN ends the session with its result and no policy; only BUDGET_EXHAUSTED is a refusal', () => {
    const a = role();
    expectCode(() => a.acceptRefusal(result('BUDGET_EXHAUSTED')), 'FAILED_PRECONDITION', /called acceptRefusal in phase 'new'/);
    a.open();
    expectCode(() => a.acceptRefusal(result('COMPLETED')), 'INVALID_ARGUMENT', /BUDGET_EXHAUSTED/);
    const r = a.acceptRefusal({ ...result('BUDGET_EXHAUSTED'), lookalike: { outcome: 'BUDGET_EXHAUSTED', audienceId: 'x', audienceSize: 1, quality: 0, sealedInsight: new Uint8Array(0) } });
    expect(r.lookalike).toBeUndefined();
    expect(a.phase).toBe('done');
    expect(a.result).toEqual(r);
    expect(a.acceptedPolicy).toBeUndefined();
    expectCode(() => a.blind(accepted), 'FAILED_PRECONDITION');
  });

  it('fail() from any phase keeps the reason and the policy, and no later round runs', () => {
    const a = role();
    a.open();
    a.blind(accepted);
    a.fail('broker went away');
    expect(a.phase).toBe('failed');
    expect(a.failure).toBe('broker went away');
    expect(a.acceptedPolicy).toEqual(policy);
    expect(a.result).toBeUndefined();
    expectCode(() => a.unblind([]), 'FAILED_PRECONDITION', /called unblind in phase 'failed'/);
  });
});

describe('the BLIND and TOKENS rounds in slices (what a node runs, one event-loop turn per slice)', () => {
  const key = OprfKey.generate();
  const many = Array.from({ length: 1000 }, (_, i) => `+86138${String(i).padStart(8, '0')}`);
  const big = { ...accepted, paddedCount: 4000 };
  // a deterministic byte stream: the same scalars whichever way the round is cut
  const stream = (): ((n: number) => Uint8Array) => {
    let ctr = 0;
    return (n) => Uint8Array.from(createHash('sha512').update(`rng-${ctr++}`).digest().subarray(0, n));
  };
  const make = (): AdvertiserRole => {
    const a = new AdvertiserRole({ idType: 'phone', seeds: many, audienceSize: 10, decoyRatio: 2, minCohort: 5, signingPublicKey: new Uint8Array(32), rng: stream() });
    a.open();
    return a;
  };

  it('gives the same blinded elements and tokens as the rounds at once, through phases blinding and unblinding', () => {
    const whole = make();
    const blindedWhole = whole.blind(big);
    const tokensWhole = whole.unblind(key.evaluateBatch(blindedWhole));

    const sliced = make();
    sliced.beginBlind(big);
    expect(sliced.phase).toBe('blinding');
    expect(sliced.acceptedPolicy).toEqual(policy);
    const steps: (Uint8Array[] | undefined)[] = [];
    for (let r = sliced.blindSome(300); ; r = sliced.blindSome(300)) {
      steps.push(r);
      if (r) break;
    }
    expect(steps.length).toBe(4); // 300 + 300 + 300 + 100
    expect(steps.slice(0, 3).every((r) => r === undefined)).toBe(true);
    expect(sliced.phase).toBe('blinded');
    const blindedSliced = steps[3]!;
    expect(blindedSliced.map((e) => Buffer.from(e).toString('hex'))).toEqual(blindedWhole.map((e) => Buffer.from(e).toString('hex')));

    sliced.beginUnblind(key.evaluateBatch(blindedSliced));
    expect(sliced.phase).toBe('unblinding');
    expect(sliced.unblindSome(999)).toBeUndefined();
    const tokensSliced = sliced.unblindSome(999);
    expect(sliced.phase).toBe('tokens-sent');
    expect(tokensSliced!.map((t) => Buffer.from(t).toString('hex'))).toEqual(tokensWhole.map((t) => Buffer.from(t).toString('hex')));
  });

  it('names a bad evaluation by its index in the whole list, and each slice only in its phase', () => {
    const a = make();
    expectCode(() => a.blindSome(10), 'FAILED_PRECONDITION', /called blindSome in phase 'opened'/);
    a.beginBlind(big);
    expectCode(() => a.beginBlind(big), 'FAILED_PRECONDITION', /called beginBlind in phase 'blinding'/);
    expectCode(() => a.beginUnblind([]), 'FAILED_PRECONDITION', /called beginUnblind in phase 'blinding'/);
    const blinded = ((): Uint8Array[] => {
      for (;;) {
        const r = a.blindSome(256);
        if (r) return r;
      }
    })();
    expectCode(() => a.beginUnblind(blinded.slice(1)), 'INVALID_ARGUMENT', /expected 1000 evaluated elements, got 999/);
    expect(a.phase).toBe('blinded');
    const evaluated = key.evaluateBatch(blinded);
    evaluated[700] = new Uint8Array(32); // the identity: a low-order point
    a.beginUnblind(evaluated);
    expect(a.unblindSome(512)).toBeUndefined();
    expect(() => a.unblindSome(512)).toThrow(/^element 700: /);
    a.fail('bad evaluation');
    expectCode(() => a.unblindSome(512), 'FAILED_PRECONDITION', /called unblindSome in phase 'failed'/);
  });
});

describe('warmTokenPath (the advertiser entry point\'s start-up warm-up)', () => {
  // The pinned token of oprf.test.ts ('pinned 12-byte tokens under a fixed key'), computed
  // through the role's own blind / unblind with the key standing in for media.
  const key = OprfKey.fromBytes(Uint8Array.from(Buffer.from('0002030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f60', 'hex')));
  const tokenOf = (id: string): string => {
    const a = new AdvertiserRole({ idType: 'phone', seeds: [id], audienceSize: 10, decoyRatio: 2, minCohort: 5, signingPublicKey: new Uint8Array(32) });
    a.open();
    const blinded = a.blind({ ...accepted, universeEpoch: '2024-q1' });
    return Buffer.from(a.unblind(key.evaluateBatch(blinded))[0]!).toString('hex');
  };

  it('leaves the tokens byte-identical (the pinned vector before and after) and counts as no session\'s work', () => {
    expect(tokenOf('+8613800138000')).toBe('780ed623edab0763eaa9e000');
    const before = primitiveSnapshot();
    warmTokenPath(300);
    expect(primitiveSnapshot()).toEqual(before);
    expect(tokenOf('+8613800138000')).toBe('780ed623edab0763eaa9e000');
    const after = primitiveSnapshot();
    warmTokenPath(0);
    expect(primitiveSnapshot()).toEqual(after);
  });
});
