/**
 * The privacy ledger across a real crash: three node processes (gRPC, mutual TLS), the
 * broker killed with SIGKILL while a session it has charged is still in BLIND, restarted
 * on the same state database. The charge is neither lost nor doubled, the budget runs out
 * and stays out, and the auditor's budget check over the transcripts agrees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { loadTrustBundle } from '@cleanroom/shared/pki/key-files.ts';
import { groupTranscripts } from '@cleanroom/shared/transcript/verify.ts';
import { verifyBudget } from '@cleanroom/shared/transcript/budget.ts';
import { startCluster, type Cluster } from '../../cli/src/cluster.ts';

describe('privacy budget across a broker kill -9 (three processes)', () => {
  let out: string;
  let c: Cluster;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'cleanroom-budget-'));
    const world = join(out, 'world');
    await generateWorld(world, { seed: 'budget-test', universeSize: 5000, crmSize: 1500 });
    // 3.4 ε: a first release (1.1) and one more reservation (1.35) fit; a third (1.35) does not
    c = await startCluster({ outDir: out, worldDir: world, env: {
      broker: { CLEANROOM_PRIVACY_BUDGET: '3.4' },
    } });
  }, 300_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('a charged session killed mid-BLIND keeps its charge exactly once; the budget is then exhausted and stays so', async () => {
    const a = c.nodes.advertiser.admin;
    const first = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 200, seed: 'purchasers' });
    expect((await a.waitSession(first.sessionId, 120_000)).status).toBe('completed');

    // A large padded set keeps the session in BLIND for a while; kill the broker there.
    const second = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 200, seed: 'all', decoyRatio: 99 });
    let view: { phase: string; status?: string; error?: string } = { phase: '' };
    for (let i = 0; i < 600 && view.phase !== 'blind' && view.status !== 'failed'; i++) {
      view = await c.nodes.broker.admin.request<typeof view>('GET', `/v1/sessions/${second.sessionId}`).catch(() => ({ phase: '' }));
      if (view.phase !== 'blind') await new Promise((r) => setTimeout(r, 50));
    }
    expect(view.phase, JSON.stringify(view)).toBe('blind');
    c.nodes.broker.proc.kill('SIGKILL');
    await c.nodes.broker.exited;
    expect((await a.waitSession(second.sessionId, 120_000)).status).toBe('failed');
    await c.restart('broker');

    const budget = await c.nodes.broker.admin.request<{ charges: { sessionId: string; reserved: number; charged: number | null }[]; budgets: { epsilonSpent: number }[] }>('GET', '/v1/budget');
    expect(budget.charges.map((x) => [x.sessionId, x.reserved, x.charged])).toEqual([
      [first.sessionId, 1.35, 1.1],
      [second.sessionId, 1.35, null], // reserved at OPEN, never settled: the whole reservation counts
    ]);
    expect(budget.budgets[0]!.epsilonSpent).toBe(2.45);

    const third = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 200, seed: 'purchasers' });
    const s3 = await a.waitSession(third.sessionId, 120_000);
    expect(s3.status).toBe('refused');
    const r3 = await a.request<{ outcome: string; reason: string; matches: unknown; privacy: { epsilonRemaining: number } }>('GET', `/v1/sessions/${third.sessionId}/result`);
    expect(r3.outcome).toBe('BUDGET_EXHAUSTED');
    expect(r3.matches).toBeNull();
    expect(r3.reason).toMatch(/privacy budget exhausted: 2\.45 of 3\.4 ε spent/);
    expect(r3.privacy.epsilonRemaining).toBeCloseTo(0.95, 9);
    // media never saw the refused session
    expect(await c.nodes.media.admin.request('GET', `/v1/sessions/${third.sessionId}`).then(() => 'found', () => 'not found')).toBe('not found');

    // The auditor, from the transcripts alone: the broker's signed charges add up within its budget.
    const report = verifyBudget(groupTranscripts([c.transcriptDir]), loadTrustBundle(join(out, 'pki/trust-bundle.json')));
    expect(report.problems).toEqual([]);
    expect(report.keys.map((k) => [k.charged, k.budget])).toEqual([[2.45, 3.4]]);
  });
});
