/**
 * The lookup kind over real gRPC (mutual TLS), three node processes started as `make demo`
 * starts them: media publishes its labels beside the tokens (CLEANROOM_LABELS), the broker
 * syncs them; `POST /v1/sessions {kind: 'lookup'}` returns, as CSV, exactly the ground-truth
 * label of each of A's IDs that is a consenting media user and nothing for the others.
 * Refusals (below the minimum batch, beyond the quota) and bad requests get their documented
 * answers; media's session ends after BLIND with nothing per user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { collectUniverse, readCrm, type CrmRow, type UniverseRow } from '@cleanroom/shared/data/files.ts';
import { readLabels, type LabelRow } from '@cleanroom/shared/data/labels.ts';
import { expectedLabels } from '@cleanroom/shared/testing/labels.ts';
import { AdminError } from '../../cli/src/admin-client.ts';
import { lookupSummary, runLookup } from '../../cli/src/lookup.ts';
import { loadTrustBundle } from '@cleanroom/shared/pki/key-files.ts';
import { verifyPaths } from '@cleanroom/shared/transcript/verify.ts';
import { startCluster, type Cluster } from '../../cli/src/cluster.ts';

describe('lookup kind over gRPC with mutual TLS (three processes)', () => {
  let out: string;
  let c: Cluster;
  let crm: CrmRow[];
  let users: UniverseRow[];
  let labels: Map<string, LabelRow>;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'cleanroom-lookup-'));
    const world = join(out, 'world');
    await generateWorld(world, { seed: 'lookup-grpc', universeSize: 5000, crmSize: 1200 });
    crm = (await readCrm(join(world, 'advertiser/crm.csv'))).rows;
    users = (await collectUniverse(join(world, 'media/universe.csv'))).rows;
    labels = await readLabels(join(world, 'media/labels.csv'));
    c = await startCluster({ outDir: out, worldDir: world, env: {
      broker: { CLEANROOM_LOOKUP_MIN_BATCH: '100', CLEANROOM_LOOKUP_QUOTA: '2000' },
    } });
  }, 300_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('returns the ground-truth labels as CSV; media\'s session ends after BLIND', async () => {
    const a = c.nodes.advertiser.admin;
    const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { kind: 'lookup' });
    const s = await a.waitSession(sessionId, 120_000);
    expect(s.error).toBeUndefined();
    expect(s.status).toBe('completed');
    const { contentType, body } = await a.text(`/v1/sessions/${sessionId}/result?format=csv`);
    expect(contentType).toMatch(/^text\/csv/);
    const truth = expectedLabels(users, labels);
    const lines = body.trim().split('\n').slice(1);
    expect(lines.length).toBeGreaterThan(500);
    let labelled = 0;
    for (const line of lines) {
      const [id, got, score, tier, last, tenure] = line.split(',');
      const want = truth.get(id!);
      if (want) labelled++;
      expect(got).toBe(want ? '1' : '0');
      if (want) expect({ leadsScore: Number(score), tier, lastActive: last, tenure }).toEqual(want);
    }
    expect(labelled).toBeGreaterThan(100);
    const r = await a.request<{ kind: string; labelled: number; ids: { valid: number } }>('GET', `/v1/sessions/${sessionId}/result`);
    expect(r).toMatchObject({ kind: 'lookup', labelled, ids: { valid: lines.length } });
    expect((await c.nodes.media.admin.request<{ status: string }>('GET', `/v1/sessions/${sessionId}`)).status).toBe('completed');
    expect((await c.nodes.broker.admin.request<{ status: string }>('GET', `/v1/sessions/${sessionId}`)).status).toBe('completed');
    // signed transcripts at all three parties; the auditor checks them against the lookup's flow
    const reports = verifyPaths([join(c.transcriptDir, sessionId)], loadTrustBundle(join(out, 'pki/trust-bundle.json')));
    expect(reports[0]!.checks.filter((x) => !x.ok)).toEqual([]);
    expect(reports[0]!.ok).toBe(true);
    // three co-signed checkpoints (after OPEN, BLIND and LOOKUP), each by all three parties
    expect(reports[0]!.checks.find((x) => x.name === 'checkpoints')!.detail).toMatch(/^3 checkpoint/);
    expect(reports[0]!.checks.find((x) => x.name === 'signatures')!.detail).toMatch(/9 checkpoint co-signature/);
  });

  it('below the minimum batch, beyond the quota, and bad requests: the documented answers', async () => {
    const a = c.nodes.advertiser.admin;
    const phones = crm.filter((r) => r.consent).map((r) => r.phone);
    const small = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { kind: 'lookup', ids: phones.slice(0, 50) });
    const s1 = await a.waitSession(small.sessionId, 60_000);
    expect(s1.status).toBe('failed');
    expect(s1.error).toMatch(/FAILED_PRECONDITION: lookup batch too small: \d+ IDs, the minimum batch is 100/);
    // the first test used ≈ 1,100 of the 2,000 IDs of the quota: 1,000 more are refused
    const big = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { kind: 'lookup', ids: phones.slice(0, 1000) });
    const s2 = await a.waitSession(big.sessionId, 60_000);
    expect(s2.status).toBe('failed');
    expect(s2.error).toMatch(/RESOURCE_EXHAUSTED: lookup quota: this advertiser may look up 2000 IDs per 24 h, \d+ used, this lookup has \d+; retry in \d+ s/);
    await expect(a.text(`/v1/sessions/${big.sessionId}/result?format=csv`)).rejects.toThrow(/409|400|has no CSV result: it failed/);
    await expect(a.request('POST', '/v1/sessions', { kind: 'lookup', audienceSize: 10 })).rejects.toThrow(AdminError);
    await expect(a.request('POST', '/v1/sessions', { kind: 'lookup', ids: ['not-a-phone'] })).rejects.toThrow(/expected at least one valid phone ID/);
    await expect(a.request('POST', '/v1/sessions', { kind: 'nope' })).rejects.toThrow(/400/);
  });

  it('the CLI path (session start --kind lookup --ids FILE --csv FILE): the same labels, written as CSV', async () => {
    const idsFile = join(out, 'ids.txt');
    const phones = crm.filter((r) => r.consent).map((r) => r.phone).slice(0, 150);
    writeFileSync(idsFile, phones.join('\n') + '\n');
    const r = await runLookup(c.nodes.advertiser.admin, { idType: 'phone', decoyRatio: 9, idsFile });
    expect(r.status).toBe('completed');
    const csvFile = join(out, 'labels.csv');
    const lines = lookupSummary(r, csvFile);
    expect(lines[0]).toMatch(/^lookup\s+\S+ COMPLETED in/);
    const truth = expectedLabels(users, labels);
    const rows = readFileSync(csvFile, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(rows.length).toBe(r.result?.ids.valid);
    for (const [id, got] of rows) expect(got).toBe(truth.has(id!) ? '1' : '0');
  });
});

