/**
 * The three nodes as three OS processes talking gRPC over mutual TLS on loopback, started
 * exactly as `make demo` starts them (cli/src/cluster.ts). Proves: a session completes
 * over the wire with transcripts the auditor verifies; a cohort below the minimum ends
 * cleanly everywhere; a broker that dies mid-session leaves the advertiser and media with
 * a clear failed status and nothing released; bad input at the admin API gets problem+json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { loadTrustBundle } from '@cleanroom/shared/pki/key-files.ts';
import { verifyPaths } from '@cleanroom/shared/transcript/verify.ts';
import { startCluster, type Cluster } from '../../cli/src/cluster.ts';

const MEDIA_IDLE_MS = 15_000;

describe('three nodes over gRPC with mutual TLS', () => {
  let out: string;
  let world: string;
  let c: Cluster;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'cleanroom-grpc-'));
    world = join(out, 'world');
    await generateWorld(world, { seed: 'grpc-test', universeSize: 5000, crmSize: 1200 });
    c = await startCluster({ outDir: out, worldDir: world, env: {
      // noise and the differencing rule off: exact values, and the same cohort may run again
      broker: { CLEANROOM_NOISE_SCALE: '0', CLEANROOM_DIFFERENCING_MIN: '0' },
      // media's idle limit, short enough to wait for below (a dead broker); the broker's and the
      // advertiser's RPC deadlines stay at their default, so a loaded machine never times out a step
      media: { CLEANROOM_DEADLINE_MS: String(MEDIA_IDLE_MS) },
    } });
  }, 300_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('runs a session to completion and the transcripts verify', async () => {
    const a = c.nodes.advertiser.admin;
    const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 500 });
    const s = await a.waitSession(sessionId, 120_000);
    expect(s.error).toBeUndefined();
    expect(s.status).toBe('completed');
    const r = await a.request<any>('GET', `/v1/sessions/${sessionId}/result`);
    expect(r.lookalike.audienceSize).toBe(500);
    expect(r.matches.paddedSize).toBeGreaterThan(r.matches.real);
    expect(r.insight).toHaveLength(64);
    expect((await c.nodes.media.admin.request<any>('GET', `/v1/sessions/${sessionId}`)).status).toBe('completed');
    expect((await c.nodes.broker.admin.request<any>('GET', `/v1/sessions/${sessionId}`)).status).toBe('completed');
    const reports = verifyPaths([join(c.transcriptDir, sessionId)], loadTrustBundle(join(out, 'pki/trust-bundle.json')));
    expect(reports).toHaveLength(1);
    expect(reports[0]!.checks.filter((x) => !x.ok)).toEqual([]);
    expect(reports[0]!.ok).toBe(true);
    // three co-signed checkpoints (after OPEN, BLIND, LOOKALIKE), each signed by all three parties
    expect(reports[0]!.checks.find((x) => x.name === 'checkpoints')!.detail).toMatch(/^3 checkpoint/);
    expect(reports[0]!.checks.find((x) => x.name === 'signatures')!.detail).toMatch(/9 checkpoint co-signature/);
  });

  it('a minimum cohort above the broker\'s floor is refused (a threshold probe): nothing is released, the error says why', async () => {
    const a = c.nodes.advertiser.admin;
    const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 500, minCohort: 1_000_000 });
    const s = await a.waitSession(sessionId, 120_000);
    expect(s.status).toBe('failed');
    expect(s.error).toMatch(/expected a minimum cohort ≤ the policy floor 50/);
    const r = await a.request<any>('GET', `/v1/sessions/${sessionId}/result`);
    expect(r.lookalike).toBeNull();
  });

  it('bad requests get RFC 9457 problems', async () => {
    const res = await fetch(`${c.nodes.advertiser.admin.base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ audienceSize: -3 }) });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    // an unknown field is an error naming it, never silently dropped
    const unknown = await fetch(`${c.nodes.advertiser.admin.base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ audienceSize: 10, min_cohort: 5 }) });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await unknown.json()) as { detail: string }).detail).toMatch(/unknown field 'min_cohort' in body/);
    const nf = await fetch(`${c.nodes.advertiser.admin.base}/v1/sessions/nope`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { detail: string }).detail).toMatch(/unknown session/);
  });

  it('a broker that dies mid-session fails the session at advertiser and media; a new session works after restart', async () => {
    const a = c.nodes.advertiser.admin;
    const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 500 });
    // wait until media has the session (the broker has reached media), then kill the broker
    for (let i = 0; i < 400; i++) {
      const sessions = await c.nodes.media.admin.request<any[]>('GET', '/v1/sessions');
      if (sessions.some((x) => x.sessionId === sessionId)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    c.nodes.broker.proc.kill('SIGKILL');
    await c.nodes.broker.exited;
    const s = await a.waitSession(sessionId, 120_000);
    expect(s.status).toBe('failed');
    expect(s.error).toMatch(/UNAVAILABLE|broker|ABORTED|INTERNAL/);
    const r = await a.request<any>('GET', `/v1/sessions/${sessionId}/result`);
    expect(r.lookalike).toBeNull();
    // media hears nothing more from the broker: after the deadline it fails the session itself
    let mediaView: any;
    for (const end = Date.now() + 4 * MEDIA_IDLE_MS; Date.now() < end; ) {
      mediaView = await c.nodes.media.admin.request<any>('GET', `/v1/sessions/${sessionId}`);
      if (mediaView.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(mediaView.status).toBe('failed');
    expect(mediaView.error).toMatch(/no message from the broker/);
    await c.restart('broker');
    const again = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 500 });
    const s2 = await a.waitSession(again.sessionId, 120_000);
    expect(s2.error).toBeUndefined();
    expect(s2.status).toBe('completed');
  });
});
