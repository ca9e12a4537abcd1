/**
 * Every application kind over real gRPC: three node processes (mutual TLS on loopback), the
 * sessions started through the advertiser's admin API as an operator would. With noise off
 * each result equals the plaintext ground truth of the generated world; bad input gets its
 * documented answer (problem+json for an unknown kind or tag, a failed session naming an
 * unknown media attribute); every session's transcripts verify.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { collectUniverse, readCrm } from '@cleanroom/shared/data/files.ts';
import { loadTrustBundle } from '@cleanroom/shared/pki/key-files.ts';
import { groupTranscripts, verifySession } from '@cleanroom/shared/transcript/verify.ts';
import { packVector } from '@cleanroom/shared/protocol/universe.ts';
import { compileMediaPredicate, packedReader } from '@cleanroom/shared/protocol/predicate-schemas.ts';
import { startCluster, type Cluster } from '../../cli/src/cluster.ts';
import { AdminError } from '../../cli/src/admin-client.ts';
import { expectedSelection, type World } from './world.ts';

const A_PRED = { tag: 'orders_12m', gte: 1 };
const SEGMENT = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };
const B_PRED = { all: [{ attr: 'gender', eq: 'female' }, { attr: 'age', in: ['25-29', '30-34', '35-39', '40-49'] }] };

/** Elements per Activate page here (the default is PSI_PAGE_ITEMS). */
const PAGE = 1000;

describe('application kinds over gRPC (three processes)', () => {
  let out: string;
  let c: Cluster;
  let w: Pick<World, 'users' | 'crm'>;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'cleanroom-kinds-'));
    const world = join(out, 'world');
    await generateWorld(world, { seed: 'kinds-grpc', universeSize: 5000, crmSize: 1500 });
    w = { crm: (await readCrm(join(world, 'advertiser/crm.csv'))).rows, users: (await collectUniverse(join(world, 'media/universe.csv'))).rows };
    c = await startCluster({ outDir: out, worldDir: world, env: {
      // small PSI pages: each audience kind's reply to media spans many Activate calls
      broker: { CLEANROOM_NOISE_SCALE: '0', CLEANROOM_MIN_COHORT: '10', CLEANROOM_DIFFERENCING_MIN: '0', CLEANROOM_PSI_PAGE_ITEMS: String(PAGE) },
      media: { CLEANROOM_MIN_COHORT: '10' },
    } });
  }, 300_000);
  afterAll(async () => {
    await c?.stop();
  });

  async function run(body: object): Promise<{ sessionId: string; status: string; result: Record<string, any> }> {
    const a = c.nodes.advertiser.admin;
    const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', body);
    const s = await a.waitSession(sessionId, 180_000);
    const result = await a.request<Record<string, any>>('GET', `/v1/sessions/${sessionId}/result`);
    return { sessionId, status: s.status, result };
  }

  /** Activate pages media acknowledged in a session (every page but the last): Acks in its transcript. */
  function pagesAcked(sessionId: string): number {
    return readFileSync(join(c.transcriptDir, sessionId, 'media.jsonl'), 'utf8').split('\n').filter((l) => /cleanroom\.v1\.Ack/.test(l)).length;
  }

  function verifies(sessionId: string): boolean {
    const files = groupTranscripts([c.transcriptDir]).get(sessionId)!;
    const report = verifySession(files, loadTrustBundle(join(out, 'pki/trust-bundle.json')));
    if (!report.ok) throw new Error(JSON.stringify(report.checks.filter((k) => !k.ok)));
    return true;
  }

  const inB = (u: World['users'][number]) => u.consentAds && compileMediaPredicate(B_PRED).test(packedReader(packVector(u.vector), 0));

  it('profile, joint-count, joint-activate and retargeting equal the ground truth (noise off); transcripts verify', async () => {
    const profile = await run({ kind: 'profile', predicate: SEGMENT, minCohort: 10 });
    const pt = expectedSelection(w as World, SEGMENT);
    expect(profile.status).toBe('completed');
    expect(profile.result.cohortSize).toBe(pt.cohort);
    expect(profile.result.insight.map((t: { total: number }) => t.total)).toEqual(pt.totals);

    const count = await run({ kind: 'joint-count', predicate: A_PRED, mediaPredicate: B_PRED, minCohort: 10 });
    expect(count.status).toBe('completed');
    const joint = expectedSelection(w as World, A_PRED, inB);
    expect(count.result.counts).toEqual({
      joint: joint.cohort, advertiserOnly: expectedSelection(w as World, A_PRED).cohort, mediaOnly: w.users.filter((u) => u.consent && inB(u)).length,
    });

    const activate = await run({ kind: 'joint-activate', countSession: count.sessionId });
    expect(activate.status).toBe('completed');
    expect(activate.result.audience.size).toBe(joint.cohort);
    const audFile = (id: string) => new Set(readFileSync(join(c.stateDir('media'), 'audiences', `${id}.txt`), 'utf8').split('\n').filter(Boolean));
    expect(audFile(activate.result.audience.audienceId)).toEqual(joint.userIds);

    const retarget = await run({ kind: 'retargeting', predicate: SEGMENT, minCohort: 10 });
    const rt = expectedSelection(w as World, SEGMENT, (u) => u.consentAds);
    expect(retarget.status).toBe('completed');
    expect(retarget.result.audience.size).toBe(rt.cohort);
    expect(audFile(retarget.result.audience.audienceId)).toEqual(rt.userIds);

    // each reply to media came in several Activate pages, every page but the last acknowledged
    expect(pagesAcked(activate.sessionId)).toBeGreaterThan(1);
    expect(pagesAcked(retarget.sessionId)).toBeGreaterThan(1);
    for (const s of [profile, count, activate, retarget]) expect(verifies(s.sessionId)).toBe(true);
  });

  it('bad input: unknown kind or tag → problem+json, nothing started; unknown media attribute → the session fails naming it', async () => {
    const a = c.nodes.advertiser.admin;
    const refused = async (body: object) => a.request('POST', '/v1/sessions', body).then(() => undefined, (e: unknown) => e as AdminError);
    expect((await refused({ kind: 'teleport' }))?.message).toMatch(/400.*unknown session kind "teleport"/s);
    expect((await refused({ kind: 'retargeting', predicate: { tag: 'loyalty_points', gte: 3 } }))?.message).toMatch(/422.*unknown advertiser tag 'loyalty_points'/s);
    expect((await refused({ kind: 'joint-activate', countSession: 'nope' }))?.message).toMatch(/404.*no joint-count session nope/s);
    const bad = await run({ kind: 'joint-count', predicate: A_PRED, mediaPredicate: { attr: 'gender', eq: 'robot' }, minCohort: 10 }).catch((e: unknown) => e as AdminError);
    expect((bad as AdminError).message).toMatch(/422.*expected one of female, male, unknown for media attribute 'gender'/s);
  });
});
