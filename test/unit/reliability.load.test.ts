/**
 * Issue 9, item 12: a bounded load test. Ten sessions started at once on a small world, three
 * nodes in memory, with a short deadline (2 s), so that a session waiting while its peers
 * work for the nine others would be timed out if "busy" were taken for "silent". All ten
 * complete, and every transcript the nodes wrote (ten sessions, one universe sync) verifies.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { verifyPaths, formatReport } from '@cleanroom/shared/transcript/verify.ts';
import { makeWorld, type World } from './world.ts';
import { memoryCluster } from './memory-cluster.ts';

const SESSIONS = 10;

describe('concurrent sessions do not time each other out', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld({ universeSize: 4000, crmSize: 600 });
  });

  it(`${SESSIONS} sessions at once all complete, and their transcripts verify`, async () => {
    const c = memoryCluster(w, { minCohort: 10, deadlineMs: 2000 });
    await c.broker.syncUniverse();
    const started = Array.from({ length: SESSIONS }, () => c.advertiser.start({ audienceSize: 200, minCohort: 10 }));
    const recs = await Promise.all(started.map((s) => s.done));
    c.close();
    expect(recs.map((r) => `${r.status}${r.error ? `: ${r.error}` : ''}`)).toEqual(Array(SESSIONS).fill('completed'));
    for (const node of [c.broker, c.media]) expect(node.sessions.list().map((r) => r.status)).toEqual(Array(SESSIONS).fill('completed'));
    const reports = verifyPaths([c.transcriptDir], w.identities.media.trust);
    expect(reports).toHaveLength(SESSIONS + 1);
    for (const r of reports) expect(r.ok, formatReport(r)).toBe(true);
    expect(reports.filter((r) => r.outcome.state === 'completed')).toHaveLength(SESSIONS + 1);
  });
});
