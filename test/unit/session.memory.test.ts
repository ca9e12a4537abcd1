/**
 * The three nodes in one process over in-memory peers — the same signed envelopes as over
 * gRPC, real OPRF, real BFV. Checks the cohort totals media decrypts against plaintext
 * ground truth (noise off), decoys never counted, and the privacy contract's "never sees"
 * column by capturing every payload each node receives.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { measureLift } from '@cleanroom/shared/data/lift.ts';
import { readPropensity } from '@cleanroom/shared/data/files.ts';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { ATTRIBUTES } from '@cleanroom/shared/common/attributes.ts';
import { makeWorld, expectedTotals, type World } from './world.ts';
import { cluster as makeCluster } from './nodes.ts';
import { CohortProfileCodec } from '@cleanroom/shared/rpc/codec.ts';

function cluster(w: World, opts: { minCohort?: number; noiseScale?: number } = {}) {
  const c = makeCluster(w, { policy: { minCohort: opts.minCohort ?? 50, noiseScale: opts.noiseScale ?? 0 } });
  const captured: Record<Party, Uint8Array[]> = { advertiser: [], media: [], broker: [] };
  return {
    ...c,
    get captured() {
      for (const p of ['advertiser', 'media', 'broker'] as const) captured[p] = [...c.received[p].values()].flat().map((r) => r.payload);
      return captured;
    },
  };
}

/** Every run of ≥ 8 digits, e-mail-like string, or user id in a payload, as text. */
function plaintextNeedles(payload: Uint8Array): string[] {
  const s = Buffer.from(payload).toString('latin1');
  // media user ids as the generator writes them (U0000123) and as the fixtures do (u100123)
  return [...s.matchAll(/\d{8,}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}|[Uu]\d{4,}/g)].map((m) => m[0]);
}

describe('core session, three nodes in memory', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });

  it('completes; media decrypts exactly the totals over the advertiser\'s real matches (noise off)', async () => {
    const c = cluster(w);
    await c.broker.syncUniverse();
    const { sessionId, done } = c.advertiser.start({ audienceSize: 1000 });
    const rec = await done;
    expect(rec.error).toBeUndefined();
    expect(rec.status).toBe('completed');
    const result = rec.result as { seeds: { valid: number }; matches: { real: number; paddedSize: number }; insight: { name: string; total: number }[]; cohortSize: number; lookalike: { audienceSize: number } };
    const expected = expectedTotals(w);
    expect(result.matches.real).toBe(expected.cohort);
    expect(result.cohortSize).toBe(expected.cohort);
    expect(result.insight.map((t) => t.total)).toEqual(expected.totals);
    expect(result.insight.map((t) => t.name)).toEqual(ATTRIBUTES.map((a) => a.name));
    // padding: media evaluated a padded bucket of at least ten elements per seed
    expect(result.matches.paddedSize).toBeGreaterThanOrEqual(result.seeds.valid * 10);
    expect(result.lookalike.audienceSize).toBe(1000);
    // look-alike quality on the planted propensity (ground truth only the test reads)
    const audienceIds = readFileSync(join(c.stateDir, 'media', 'audiences', `${(rec.result as { lookalike: { audienceId: string } }).lookalike.audienceId}.txt`), 'utf8').split('\n').filter(Boolean);
    expect(audienceIds).toHaveLength(1000);
    const lift = measureLift(audienceIds, readPropensity(w.dir), w.users.length);
    expect(lift).toBeGreaterThan(1.5);
    expect(c.media.sessions.get(sessionId)!.status).toBe('completed');
    expect(c.broker.sessions.get(sessionId)!.status).toBe('completed');
  });

  it('no node receives a plaintext ID or attribute it may not see', async () => {
    const c = cluster(w);
    await c.broker.syncUniverse();
    const rec = await c.advertiser.start({ audienceSize: 500 }).done;
    expect(rec.status).toBe('completed');
    const aIds = new Set<string>();
    for (const r of w.crm) {
      for (const raw of [r.phone, r.email]) {
        aIds.add(raw.replace(/\D/g, ''));
        const n = normalizeId(raw.includes('@') ? 'email' : 'phone', raw);
        if (n.ok) aIds.add(n.value.replace(/^\+/, ''));
      }
      aIds.add(r.email.trim().toLowerCase());
    }
    const bIds = new Set<string>();
    for (const u of w.users) {
      bIds.add(u.userId);
      bIds.add(u.email);
      const n = normalizeId('phone', u.phone);
      if (n.ok) bIds.add(n.value.replace(/^\+/, ''));
      bIds.add(u.phone.replace(/\D/g, ''));
    }
    const userIds = new Set(w.users.map((u) => u.userId));
    // the search itself finds an id in the generator's form (it once looked for u + 6 digits only)
    expect(plaintextNeedles(new TextEncoder().encode(`..${w.users[0]!.userId}..`))).toContain(w.users[0]!.userId);
    expect(w.users[0]!.userId).toMatch(/^U\d+$/);
    // a needle is a hit if it contains an ID of 8+ characters, or is exactly one of media's user ids
    const hits = (party: Party, ids: Set<string>) =>
      c.captured[party].flatMap(plaintextNeedles).filter((n) => userIds.has(n) || [...ids].some((id) => id.length >= 8 && n.includes(id)));
    expect(c.captured.broker.length).toBeGreaterThan(5);
    expect(hits('broker', aIds)).toEqual([]);
    expect(hits('broker', bIds)).toEqual([]);
    expect(hits('media', aIds)).toEqual([]);
    expect(hits('advertiser', bIds)).toEqual([]);
    // The broker never sees an attribute name or total: the insight is sealed to the advertiser.
    const brokerText = c.captured.broker.map((p) => Buffer.from(p).toString('latin1')).join('\n');
    for (const a of ATTRIBUTES) expect(brokerText.includes(a.name)).toBe(false);
  });

  it('cohort below the minimum: nothing released, every party says so', async () => {
    const c = cluster(w, { minCohort: 100_000 });
    await c.broker.syncUniverse();
    const { sessionId, done } = c.advertiser.start({ audienceSize: 500, minCohort: 100_000 });
    const rec = await done;
    expect(rec.status).toBe('cohort-too-small');
    expect((rec.result as { lookalike: unknown }).lookalike).toBeNull();
    expect(c.broker.sessions.get(sessionId)!.status).toBe('cohort-too-small');
    expect(c.media.sessions.get(sessionId)!.status).toBe('cohort-too-small');
    // media received no profile: the only CohortProfile it got is the empty refusal
    const profiles = c.received.media.get(sessionId)!.filter((r) => r.payloadType === 'cleanroom.v1.CohortProfile').map((r) => CohortProfileCodec.decode(r.payload));
    expect(profiles).toHaveLength(1);
    expect(profiles[0]!.outcome).toBe('COHORT_TOO_SMALL');
    expect(profiles[0]!.profile).toHaveLength(0);
  });

  it('an empty or all-invalid seed set is refused before anything is sent', () => {
    const c = cluster({ ...w, crm: [{ customerId: 'x', phone: 'not a phone', email: '', purchaser: true, rfm: 'new', consent: true }] });
    expect(() => c.advertiser.start({})).toThrow(/at least one valid phone seed/);
    const c2 = cluster({ ...w, crm: [] });
    expect(() => c2.advertiser.start({})).toThrow(/at least one valid/);
  });
});
