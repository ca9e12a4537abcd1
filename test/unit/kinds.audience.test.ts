/**
 * retargeting and joint-activate over the in-memory transport: the audience media creates
 * (DH-PSI between the broker's matched positions and media's consenting positions, media
 * learning only the intersection) equals the plaintext ground truth with noise off; below
 * the minimum nothing is created; an activation must confirm a finished count of the same
 * selection; consent_ads is enforced per record; the transcripts verify.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BrokerRole } from '@cleanroom/shared/protocol/broker.ts';
import { MediaRole } from '@cleanroom/shared/protocol/media.ts';
import type { PackedList } from '@cleanroom/shared/common/packed-list.ts';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { groupTranscripts, verifySession } from '@cleanroom/shared/transcript/verify.ts';
import { makeTrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { packVector } from '@cleanroom/shared/protocol/universe.ts';
import { compileMediaPredicate, packedReader } from '@cleanroom/shared/protocol/predicate-schemas.ts';
import { PARALLEL_THRESHOLD } from '@cleanroom/shared/crypto/oprf-pool.ts';
import { makeWorld, expectedSelection, type World } from './world.ts';
import { cluster, type Cluster } from './nodes.ts';

export const SEGMENT = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };
const A_PRED = { tag: 'orders_12m', gte: 1 };
const B_PRED = { all: [{ attr: 'gender', eq: 'female' }, { attr: 'age', in: ['25-29', '30-34', '35-39', '40-49'] }] };

function audienceOf(c: Cluster, audienceId: string): Set<string> {
  return new Set(readFileSync(join(c.stateDir, 'media', 'audiences', `${audienceId}.txt`), 'utf8').split('\n').filter(Boolean));
}

/** Pages of the broker's PSI reply media received (one Activate call each), counted on MediaRole. */
function countPages(): { pages: number; restore: () => void } {
  const page = MediaRole.prototype.activatePage;
  const counter = { pages: 0, restore: () => (MediaRole.prototype.activatePage = page) as unknown as void };
  MediaRole.prototype.activatePage = function (this: MediaRole, offset: number, elements: PackedList) {
    counter.pages++;
    return page.call(this, offset, elements);
  };
  return counter;
}

/** A page size that splits a test world's PSI reply (≈ 2^15 elements) into several pages. */
const SMALL_PAGE = 5000;

function verifies(w: World, c: Cluster, sessionId: string): boolean {
  const trust = makeTrustBundle({ advertiser: w.identities.advertiser.key.publicKey, media: w.identities.media.key.publicKey, broker: w.identities.broker.key.publicKey });
  const report = verifySession(groupTranscripts([join(c.transcriptDir, sessionId)]).get(sessionId)!, trust);
  if (!report.ok) throw new Error(JSON.stringify(report.checks.filter((k) => !k.ok)));
  return report.ok;
}

describe('retargeting kind (three nodes in memory)', () => {
  let w: World;
  let restoreReply = () => undefined as unknown;
  afterEach(() => restoreReply());
  beforeAll(async () => {
    w = await makeWorld();
  });

  it('media\'s audience is exactly A\'s matched segment members who consented to ads (noise off); A gets the handle and size; the PSI reply came in several pages', async () => {
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    await c.broker.syncUniverse();
    c.broker['o'].psiPageItems = SMALL_PAGE;
    const counter = countPages();
    restoreReply = counter.restore;
    const { sessionId, done } = c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 20 });
    const rec = await done;
    expect(counter.pages).toBeGreaterThan(2);
    expect(rec.error).toBeUndefined();
    expect(rec.status).toBe('completed');
    const r = rec.result as { kind: string; audience: { audienceId: string; size: number } };
    const truth = expectedSelection(w, SEGMENT, (u) => u.consentAds);
    const matched = expectedSelection(w, SEGMENT);
    expect(truth.cohort).toBeLessThan(matched.cohort); // some matched users did not consent to ads
    expect(r.audience.size).toBe(truth.cohort);
    expect(audienceOf(c, r.audience.audienceId)).toEqual(truth.userIds);
    expect(verifies(w, c, sessionId)).toBe(true);
  });

  it('the broker\'s DH-PSI exponentiations leave its event loop free (a node blocked for minutes misses its peers\' keepalive pings and loses the connection: the W1 "Stream refused by server")', async () => {
    const reply = BrokerRole.prototype.psiReplyPage;
    let turns = -1;
    let offered = 0;
    BrokerRole.prototype.psiReplyPage = async function (this: BrokerRole, offset: number, page: PackedList, maxItems?: number) {
      // Counts event-loop turns (setImmediate callbacks) while a page's answer is computed: zero
      // if it ran on the calling thread from start to end, as it did before (a.evaluateBatch).
      let n = 0;
      let running = true;
      const turn = () => { if (running) { n++; setImmediate(turn); } };
      setImmediate(turn);
      offered = Math.max(offered, page.length);
      try {
        return await reply.call(this, offset, page, maxItems);
      } finally {
        running = false;
        turns = Math.max(turns, n);
      }
    };
    restoreReply = () => (BrokerRole.prototype.psiReplyPage = reply);
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    await c.broker.syncUniverse();
    const rec = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 20 }).done;
    expect(rec.status).toBe('completed');
    expect(offered).toBeGreaterThan(PARALLEL_THRESHOLD); // large enough for the worker pool
    expect(turns).toBeGreaterThan(0);
  });

  it('below the minimum size nothing is created', async () => {
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    await c.broker.syncUniverse();
    // A segment of a few users: matched ≥ 20 fails at the broker first, so media's own floor decides here.
    c.media['o'].minCohort = 1_000_000;
    const rec = await c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 20 }).done;
    expect(rec.status).toBe('cohort-too-small');
    expect((rec.result as { audience: unknown }).audience).toBeNull();
    expect(c.media.sessions.list().every((s) => s.state.role.audience === undefined)).toBe(true);
  });
});

describe('joint-activate kind (three nodes in memory)', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });

  it('activates exactly the counted selection: A\'s matches ∧ media\'s predicate ∧ consent_ads (noise off)', async () => {
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    await c.broker.syncUniverse();
    const count = await c.advertiser.start({ kind: 'joint-count', predicate: A_PRED, mediaPredicate: B_PRED, minCohort: 20 }).done;
    expect(count.status).toBe('completed');
    c.broker['o'].psiPageItems = SMALL_PAGE;
    const counter = countPages();
    const { sessionId, done } = c.advertiser.start({ kind: 'joint-activate', countSession: count.sessionId });
    const rec = await done.finally(counter.restore);
    expect(rec.error).toBeUndefined();
    expect(counter.pages).toBeGreaterThan(1);
    const r = rec.result as { audience: { audienceId: string; size: number } };
    const m = compileMediaPredicate(B_PRED);
    const truth = expectedSelection(w, A_PRED, (u) => u.consentAds && m.test(packedReader(packVector(u.vector), 0)));
    expect(r.audience.size).toBe(truth.cohort);
    expect(r.audience.size).toBe((count.result as { counts: { joint: number } }).counts.joint);
    expect(audienceOf(c, r.audience.audienceId)).toEqual(truth.userIds);
    expect(verifies(w, c, sessionId)).toBe(true);
  });

  it('an activation must confirm a finished joint-count of this node; the broker checks its own record', async () => {
    const c = cluster(w, { policy: { minCohort: 20, noiseScale: 0 } });
    await c.broker.syncUniverse();
    expect(() => c.advertiser.start({ kind: 'joint-activate', countSession: 'no-such-session' })).toThrow(/no joint-count session no-such-session/);
    const profile = await c.advertiser.start({ kind: 'profile', predicate: A_PRED, minCohort: 20 }).done;
    expect(() => c.advertiser.start({ kind: 'joint-activate', countSession: profile.sessionId })).toThrow(/no joint-count session/);
  });
});
