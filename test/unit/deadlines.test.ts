/**
 * Which deadline each call gets. The calls whose answer waits for the rest of a session's work —
 * the advertiser's SubmitTokens, the broker's Indicators and Activate calls to media, whose PSI
 * work grows with the universe — get CLEANROOM_SESSION_DEADLINE_MS; every other call keeps the
 * per-call CLEANROOM_DEADLINE_MS, except the BLIND round's (A's Blind, the broker's Evaluate),
 * answered once media has evaluated all P elements: the per-call deadline + P × 0.25 ms
 * (paddedCallDeadlineMs). (Retargeting at 10^6 users failed with DEADLINE_EXCEEDED on
 * SubmitTokens after the 120 s per-call deadline while every step under it was within its own;
 * a 2,000,000-padded session's Blind did after 120 s while media evaluated.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { makeWorld, type World } from './world.ts';
import { cluster, type Cluster } from './nodes.ts';
import { paddedCallDeadlineMs } from '@cleanroom/shared/service/sessions.ts';

const SEGMENT = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };
const SESSION_DEADLINE = 987_654;

type Caller = { call: (m: string, e: unknown[], d?: number) => Promise<unknown[]> };

/** Records (method, deadline) of every call `peer` makes, and makes it as before. */
function record(peer: Caller, calls: [string, number | undefined][]): void {
  const call = peer.call.bind(peer);
  peer.call = (m, e, d) => {
    calls.push([m, d]);
    return call(m, e, d);
  };
}

describe('deadlines: the calls that span a session\'s O(U) work get the session deadline', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld({ seed: 'deadlines', universeSize: 3000, crmSize: 900 });
  });

  async function wired(): Promise<{ c: Cluster; calls: [string, number | undefined][] }> {
    const c = cluster(w, { sessionDeadlineMs: SESSION_DEADLINE, policy: { minCohort: 5, noiseScale: 0 } });
    await c.broker.syncUniverse();
    const calls: [string, number | undefined][] = [];
    record((c.advertiser as unknown as { o: { broker: Caller } }).o.broker, calls);
    record((c.broker as unknown as { o: { media: Caller } }).o.media, calls);
    return { c, calls };
  }

  it('retargeting: SubmitTokens, Indicators and every Activate page wait up to the session deadline; the rest keep the per-call one', async () => {
    const { c, calls } = await wired();
    const rec = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 5 }).done;
    expect(rec.status, rec.error).toBe('completed');
    const long = calls.filter(([, d]) => d === SESSION_DEADLINE).map(([m]) => m);
    expect(long).toContain('SubmitTokens');
    expect(long).toContain('Indicators');
    expect(long).toContain('Activate');
    const deadlineMs = (c.broker as unknown as { o: { deadlineMs: number } }).o.deadlineMs;
    const padded = c.broker.sessions.get(rec.sessionId)?.progress.paddedCount ?? (c.media.sessions.get(rec.sessionId)?.progress as { paddedCount?: number }).paddedCount;
    expect(padded).toBeGreaterThan(0);
    const blind = calls.filter(([m]) => m === 'Blind' || m === 'Evaluate');
    expect(blind.map(([m]) => m).sort()).toEqual(['Blind', 'Evaluate']);
    for (const [m, d] of blind) expect([m, d]).toEqual([m, paddedCallDeadlineMs(deadlineMs, padded!)]);
    for (const [m, d] of calls) if (!['SubmitTokens', 'Indicators', 'Activate', 'Blind', 'Evaluate'].includes(m)) expect([m, d]).toEqual([m, undefined]);
  });

  it('look-alike: SubmitTokens waits up to the session deadline (it spans the aggregation and the scoring)', async () => {
    const { c, calls } = await wired();
    const rec = await c.advertiser.start({ minCohort: 5, audienceSize: 200 }).done;
    expect(rec.status, rec.error).toBe('completed');
    expect(calls.find(([m]) => m === 'SubmitTokens')?.[1]).toBe(SESSION_DEADLINE);
    expect(calls.find(([m]) => m === 'BuildLookalike')?.[1]).toBeUndefined();
  });
});
