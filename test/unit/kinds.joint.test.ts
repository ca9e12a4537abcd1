/**
 * joint-count over the in-memory transport: A's predicate selects the IDs A blinds, media's
 * predicate is evaluated by media alone into encrypted indicators, the broker sums the
 * matched slots under a zero-sum mask, media decrypts only the total. With noise off the
 * joint count equals the plaintext ground truth (A's selection ∧ matched ∧ media's
 * predicate ∧ consent_ads); bad input gets its documented outcome; transcripts verify.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { groupTranscripts, verifySession } from '@cleanroom/shared/transcript/verify.ts';
import { makeTrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { packVector } from '@cleanroom/shared/protocol/universe.ts';
import { compileMediaPredicate, packedReader } from '@cleanroom/shared/protocol/predicate-schemas.ts';
import { MediaRole } from '@cleanroom/shared/protocol/media.ts';
import { prepareRequest } from './hardening.fixtures.ts';
import { makeWorld, expectedSelection, type World } from './world.ts';
import { cluster } from './nodes.ts';

export const A_PRED = { tag: 'orders_12m', gte: 1 };
export const B_PRED = { all: [{ attr: 'gender', eq: 'female' }, { attr: 'age', in: ['25-29', '30-34', '35-39', '40-49'] }] };

/** Ground truth of joint-count: distinct consented media users matched from A's selection with media's predicate and consent_ads. */
export function expectedJoint(w: World, a: unknown, b: unknown): { joint: number; advertiserOnly: number; mediaOnly: number } {
  const m = compileMediaPredicate(b);
  const inB = (u: World['users'][number]) => u.consentAds && m.test(packedReader(packVector(u.vector), 0));
  return {
    joint: expectedSelection(w, a, inB).cohort,
    advertiserOnly: expectedSelection(w, a).cohort,
    mediaOnly: w.users.filter((u) => u.consent && inB(u)).length,
  };
}

describe('joint-count kind (three nodes in memory)', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });

  it('the counts equal the plaintext ground truth (noise off); the transcripts verify', async () => {
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    await c.broker.syncUniverse();
    const { sessionId, done } = c.advertiser.start({ kind: 'joint-count', predicate: A_PRED, mediaPredicate: B_PRED, minCohort: 20 });
    const rec = await done;
    expect(rec.error).toBeUndefined();
    expect(rec.status).toBe('completed');
    const r = rec.result as { kind: string; counts: { joint: number; advertiserOnly: number; mediaOnly: number } };
    const truth = expectedJoint(w, A_PRED, B_PRED);
    expect(truth.joint).toBeGreaterThan(0);
    expect(truth.joint).toBeLessThan(truth.advertiserOnly);
    expect(r.kind).toBe('joint-count');
    expect(r.counts).toEqual(truth);

    const trust = makeTrustBundle({ advertiser: w.identities.advertiser.key.publicKey, media: w.identities.media.key.publicKey, broker: w.identities.broker.key.publicKey });
    const report = verifySession(groupTranscripts([join(c.transcriptDir, sessionId)]).get(sessionId)!, trust);
    expect(report.checks.filter((k) => !k.ok)).toEqual([]);
    expect(report.checks.find((k) => k.name === 'rounds')!.ok).toBe(true);
  });

  it('consent is enforced per record: a media user without consent_ads is never counted', async () => {
    // All of media's users lose ad consent: the joint count is 0, whatever A selects.
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    const ads = c.media['o'].purposes!.ads;
    const saved = ads.slice();
    ads.fill(0);
    try {
      await c.broker.syncUniverse();
      const rec = await c.advertiser.start({ kind: 'joint-count', predicate: A_PRED, mediaPredicate: B_PRED, minCohort: 20 }).done;
      expect(rec.status).toBe('completed');
      expect((rec.result as { counts: { joint: number; mediaOnly: number } }).counts).toMatchObject({ joint: 0, mediaOnly: 0 });
    } finally {
      ads.set(saved);
    }
  });

  it('an unknown media attribute fails the session at media, naming it; nothing is released', async () => {
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    await c.broker.syncUniverse();
    // The advertiser node looks at the predicate's shape early; media is where it is evaluated.
    expect(() => c.advertiser.start({ kind: 'joint-count', predicate: A_PRED, mediaPredicate: { attr: 'income', eq: 'high' }, minCohort: 20 }))
      .toThrow(/unknown media attribute 'income' at \$ \(known: age, gender, city, os, activity, interest\)/);
    // Media validates what it evaluates, whatever the advertiser checked: INVALID_ARGUMENT naming the attribute.
    const role = new MediaRole({ universe: w.universe, publication: w.publication, maxPaddedCount: 1_000_000, threads: 1 });
    expect(() => role.prepare({ ...prepareRequest(100, 100, w.publication.version), kind: 'joint-count', mediaPredicate: '{"attr":"income","eq":"high"}' }))
      .toThrow(/predicate: unknown media attribute 'income'/);
    expect(role.phase).toBe('new');
  });
});
