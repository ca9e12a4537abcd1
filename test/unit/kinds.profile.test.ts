/**
 * The profile kind over the in-memory transport: the second-party profile of an A-selected
 * cohort (A's predicate over its first-party tags, evaluated by A alone) equals the plaintext
 * ground truth with noise off; no audience is built; bad input gets its documented outcome;
 * the transcripts verify under the profile kind's round order.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ATTRIBUTES } from '@cleanroom/shared/common/attributes.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { groupTranscripts, verifySession } from '@cleanroom/shared/transcript/verify.ts';
import { makeTrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { makeWorld, expectedSelection, type World } from './world.ts';
import { cluster } from './nodes.ts';

const VISITED_NOT_BOUGHT = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };

describe('profile kind (three nodes in memory)', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });

  it('media decrypts exactly the totals over A\'s selected matches (noise off), builds no audience, and the transcripts verify', async () => {
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    await c.broker.syncUniverse();
    const { sessionId, done } = c.advertiser.start({ kind: 'profile', predicate: VISITED_NOT_BOUGHT, minCohort: 20 });
    const rec = await done;
    expect(rec.error).toBeUndefined();
    expect(rec.status).toBe('completed');
    const r = rec.result as { kind: string; cohortSize: number; insight: { name: string; total: number }[]; lookalike: unknown; matches: { real: number } };
    const truth = expectedSelection(w, VISITED_NOT_BOUGHT);
    expect(truth.cohort).toBeGreaterThan(20);
    expect(r.kind).toBe('profile');
    expect(r.cohortSize).toBe(truth.cohort);
    expect(r.matches.real).toBe(truth.cohort);
    expect(r.insight.map((t) => t.total)).toEqual(truth.totals);
    expect(r.insight.map((t) => t.name)).toEqual(ATTRIBUTES.map((a) => a.name));
    expect(r.lookalike).toBeNull();
    expect(c.media.sessions.get(sessionId)?.state.role.audience).toBeUndefined();

    const trust = makeTrustBundle({ advertiser: w.identities.advertiser.key.publicKey, media: w.identities.media.key.publicKey, broker: w.identities.broker.key.publicKey });
    const files = groupTranscripts([join(c.transcriptDir, sessionId)]).get(sessionId)!;
    const report = verifySession(files, trust);
    expect(report.checks.filter((k) => !k.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.find((k) => k.name === 'rounds')!.ok).toBe(true);
  });

  it('an unknown tag is refused where A evaluates it, naming the tag; nothing is started', () => {
    const c = cluster(w);
    const before = c.advertiser.sessions.list().length;
    expect(() => c.advertiser.start({ kind: 'profile', predicate: { tag: 'visited_30d', eq: true } }))
      .toThrow(/unknown advertiser tag 'visited_30d' at \$ \(known: purchaser, rfm, visited_90d/);
    expect(() => c.advertiser.start({ kind: 'profile', predicate: { attr: 'gender', eq: 'female' } })).toThrow(ProtocolError);
    expect(() => c.advertiser.start({ kind: 'profile', predicate: { tag: 'member_tier', eq: 'platinum' } })).toThrow(/expected one of none, silver, gold/);
    expect(c.advertiser.sessions.list().length).toBe(before);
  });

  it('an empty selection is refused before anything is sent', () => {
    const c = cluster(w);
    expect(() => c.advertiser.start({ kind: 'profile', predicate: { all: [{ tag: 'purchaser', eq: true }, { tag: 'purchaser', eq: false }] } }))
      .toThrow(/the predicate selects no consented CRM row/);
  });

  it('a cohort below the minimum releases nothing (COHORT_TOO_SMALL)', async () => {
    const c = cluster(w, { policy: { minCohort: 100_000, noiseScale: 0 } });
    await c.broker.syncUniverse();
    const rec = await c.advertiser.start({ kind: 'profile', predicate: VISITED_NOT_BOUGHT }).done;
    expect(rec.status).toBe('cohort-too-small');
    expect((rec.result as { insight: unknown[] }).insight).toEqual([]);
  });
});
