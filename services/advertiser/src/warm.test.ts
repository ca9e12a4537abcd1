/**
 * The advertiser's start-up warm-up (warm.ts) is no session's work and no traffic: the
 * primitive tallies and the wire-byte counters are what they were before it, and a session
 * run after it gives the same blinded elements and tokens as one run before it.
 */
import { describe, expect, it } from 'vitest';
import { primitiveSnapshot, wireBytes, countBytes } from '@cleanroom/shared/common/op-counts.ts';
import { seededBytes } from '@cleanroom/shared/testing/rng.ts';
import { AdvertiserRole } from '@cleanroom/shared/protocol/advertiser.ts';
import type { Policy, SessionAccepted } from '@cleanroom/shared/protocol/messages.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { warmAdvertiserPath } from './warm.ts';

const policy: Policy = {
  decoyRatio: 3, minCohort: 5, noiseScale: 0, sizeBuckets: [16], evaluationQuota: 100,
  epsilonProfile: 1, epsilonCount: 0.1, epsilonDifferencing: 0.25, privacyBudget: 10, differencingMin: 1,
};
const accepted: SessionAccepted = { policy, paddedCount: 16, universeSizeClass: 'S', universeEpoch: 'e1', privacy: undefined };
const key = OprfKey.generate();

function session(): { blinded: string[]; tokens: string[] } {
  const role = new AdvertiserRole({ idType: 'phone', seeds: ['+8613800000001', '+8613800000002'], audienceSize: 10, decoyRatio: 2, minCohort: 5, signingPublicKey: new Uint8Array(32), rng: seededBytes('warm') });
  role.open();
  const blinded = role.blind(accepted);
  const tokens = role.unblind(blinded.map((e) => key.evaluate(e)));
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return { blinded: blinded.map(hex), tokens: tokens.map(hex) };
}

describe('warmAdvertiserPath (the advertiser entry point\'s start-up warm-up)', () => {
  it('leaves the primitive tallies and the wire-byte counters as they were, and the sessions\' bytes unchanged', () => {
    const before = session();
    countBytes('sent', 'broker', 'BLIND', 7); // a figure the warm-up must not touch
    const ops = primitiveSnapshot();
    const bytes = [...wireBytes];
    const cpuMs = warmAdvertiserPath(300);
    expect(cpuMs).toBeGreaterThan(0);
    expect(primitiveSnapshot()).toEqual(ops);
    expect([...wireBytes]).toEqual(bytes);
    expect(session()).toEqual(before);
  }, 60_000);
});
