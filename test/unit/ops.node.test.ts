/**
 * What operators see around three real node processes (gRPC with mutual TLS on loopback,
 * started as `make demo` starts them): Prometheus `GET /metrics` after sessions, checked
 * against each node's own session view and readiness (not against constants), the admin
 * token rule on /metrics, and grpc.health.v1 on the peer port (mTLS) and on the plaintext
 * health port (CLEANROOM_HEALTH_LISTEN).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { checkHealth } from '@cleanroom/shared/service/health.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/crypto/group.ts';
import { buildAdmin } from '@cleanroom/shared/service/admin.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import { ROOT, startCluster, type Cluster } from '../../cli/src/cluster.ts';
import { spawnSync } from 'node:child_process';

/** Prometheus text format → samples (name, labels, value); comments skipped. */
function parseProm(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

type Samples = ReturnType<typeof parseProm>;
function sum(s: Samples, name: string, where: Record<string, string> = {}): number {
  return s.filter((x) => x.name === name && Object.entries(where).every(([k, v]) => x.labels[k] === v)).reduce((a, x) => a + x.value, 0);
}

describe('operations: metrics and gRPC health on real node processes', () => {
  let out: string;
  let c: Cluster;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'cleanroom-ops-'));
    const world = join(out, 'world');
    await generateWorld(world, { seed: 'ops-test', universeSize: 4000, crmSize: 1000 });
    // The plaintext health port on port 0: the node binds whatever the OS gives (no race with
    // other tests for a pre-picked port) and logs it; healthPortOf reads it from the log.
    const health = { CLEANROOM_HEALTH_LISTEN: '127.0.0.1:0' };
    c = await startCluster({ outDir: out, worldDir: world, env: { advertiser: health, media: health, broker: { ...health, CLEANROOM_NOISE_SCALE: '0', CLEANROOM_DIFFERENCING_MIN: '0' } } });
  }, 300_000);
  afterAll(async () => {
    await c?.stop();
  });

  /** The plaintext health port a node bound, from its "plaintext gRPC health service listening" log line. */
  const healthPortOf = (p: Party): number => {
    for (const line of readFileSync(c.nodes[p].logFile, 'utf8').split('\n').reverse()) {
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line) as { msg?: string; port?: number };
      if (j.msg === 'plaintext gRPC health service listening' && typeof j.port === 'number') return j.port;
    }
    throw new Error(`${p}: no health port in its log`);
  };

  const scrape = async (p: Party): Promise<{ text: string; samples: Samples; contentType: string }> => {
    const res = await fetch(`${c.nodes[p].admin.base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    return { text, samples: parseProm(text), contentType: res.headers.get('content-type') ?? '' };
  };

  it('after a completed and a refused session, /metrics agrees with every node\'s own session views', async () => {
    const a = c.nodes.advertiser.admin;
    const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 300 });
    expect((await a.waitSession(sessionId, 120_000)).status).toBe('completed');
    // the admin API serves the advertiser's insight report of the finished session
    const page = await fetch(`${a.base}/v1/sessions/${sessionId}/report`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain(sessionId);
    expect(html).toMatch(/<svg[\s>]/);
    // a minimum cohort above the broker's floor: refused by the privacy controls, nothing released
    const probe = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 300, minCohort: 1_000_000 });
    expect((await a.waitSession(probe.sessionId, 120_000)).status).not.toBe('completed');
    // media and the broker record the end of a session as they answer; wait until none is running
    for (const p of ['media', 'broker'] as const) {
      for (let i = 0; i < 200 && (await c.nodes[p].admin.request<{ status: string }[]>('GET', '/v1/sessions')).some((x) => x.status === 'running'); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    for (const p of ['advertiser', 'media', 'broker'] as const) {
      const { samples, contentType, text } = await scrape(p);
      expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      // every series carries the node's party; the default process metrics are there
      expect(samples.every((s) => s.labels.party === p)).toBe(true);
      expect(text).toContain('cleanroom_process_cpu_user_seconds_total');
      // sessions started and ended by outcome: exactly what this node lists
      const views = await c.nodes[p].admin.request<any[]>('GET', '/v1/sessions');
      expect(views.length).toBeGreaterThan(0);
      expect(sum(samples, 'cleanroom_sessions_started_total', { kind: 'lookalike' })).toBe(views.length);
      for (const outcome of ['completed', 'cohort-too-small', 'refused', 'failed']) {
        expect(sum(samples, 'cleanroom_sessions_ended_total', { kind: 'lookalike', outcome }), `${p} ${outcome}`).toBe(views.filter((v) => v.status === outcome).length);
      }
      expect(views.filter((v) => v.status === 'completed')).toHaveLength(1);

      // bytes and phase times: the sum over the sessions of what each node's session view says
      const rounds = new Set<string>();
      for (const v of views) for (const d of ['sent', 'received']) for (const r of Object.keys(v.metrics.bytes[d])) rounds.add(r);
      expect(rounds.size).toBeGreaterThan(2);
      for (const round of rounds) {
        for (const d of ['sent', 'received'] as const) {
          const fromViews = views.reduce((acc, v) => acc + (v.metrics.bytes[d][round] ?? 0), 0);
          expect(sum(samples, 'cleanroom_session_bytes_total', { direction: d, round }), `${p} ${d} ${round}`).toBe(fromViews);
        }
      }
      const phases = new Set<string>(views.flatMap((v) => Object.keys(v.metrics.phases)).filter((ph) => ph !== 'done' && ph !== 'failed'));
      for (const ph of phases) {
        const count = sum(samples, 'cleanroom_session_phase_seconds_count', { phase: ph });
        expect(count, `${p} phase ${ph}`).toBeGreaterThanOrEqual(views.filter((v) => v.metrics.phases[ph]).length);
        const ms = views.reduce((acc, v) => acc + (v.metrics.phases[ph]?.wallMs ?? 0), 0); // each view rounds to whole ms
        expect(Math.abs(sum(samples, 'cleanroom_session_phase_seconds_sum', { phase: ph }) * 1000 - ms), `${p} phase ${ph}`).toBeLessThanOrEqual(views.length * 0.5 + 1e-6);
      }
    }

    // media: one OPRF evaluation per padded element of each session (its own view)
    const m = (await scrape('media')).samples;
    const mv = await c.nodes.media.admin.request<any>('GET', `/v1/sessions/${sessionId}`);
    expect(mv.progress.evaluated).toBeGreaterThan(0);
    const mediaViews = await c.nodes.media.admin.request<any[]>('GET', '/v1/sessions');
    expect(sum(m, 'cleanroom_oprf_evaluations_total')).toBe(mediaViews.reduce((acc, v) => acc + (v.progress.evaluated ?? 0), 0));
    // BFV: media encrypted its publication once (its readiness says how many ciphertexts) and
    // decrypted one profile (the completed session; the refused one released none)
    const mr = await c.nodes.media.admin.request<any>('GET', '/readyz');
    expect(mr.universe.publication.ciphertexts).toBeGreaterThan(0);
    expect(sum(m, 'cleanroom_bfv_ciphertexts_total', { op: 'encrypt' })).toBe(mr.universe.publication.reused ? 0 : mr.universe.publication.ciphertexts);
    expect(sum(m, 'cleanroom_bfv_ciphertexts_total', { op: 'decrypt' })).toBe(1);
    // the broker aggregated only ciphertexts holding the completed session's real matches; the advertiser did no BFV work
    const bv = await c.nodes.broker.admin.request<any>('GET', `/v1/sessions/${sessionId}`);
    const aggregated = sum((await scrape('broker')).samples, 'cleanroom_bfv_ciphertexts_total', { op: 'aggregate' });
    expect(aggregated).toBeGreaterThan(0);
    expect(aggregated).toBeLessThanOrEqual(Math.min(bv.progress.realMatches, mr.universe.publication.ciphertexts));
    expect(sum((await scrape('advertiser')).samples, 'cleanroom_bfv_ciphertexts_total')).toBe(0);

    // universe: size and epoch as media's and the broker's readiness report them
    expect(sum(m, 'cleanroom_universe_users')).toBe(mr.universe.users);
    expect(m.find((s) => s.name === 'cleanroom_universe_epoch_info')?.labels.epoch).toBe(mr.universe.epoch);
    expect(sum(m, 'cleanroom_universe_preparation_state', { state: 'prepared' })).toBe(1);
    expect(sum(m, 'cleanroom_universe_preparation_rows')).toBe(4000);
    const b = (await scrape('broker')).samples;
    const br = await c.nodes.broker.admin.request<any>('GET', '/readyz');
    expect(sum(b, 'cleanroom_universe_users')).toBe(br.universe.users);
    expect(b.find((s) => s.name === 'cleanroom_universe_epoch_info')?.labels.epoch).toBe(mr.universe.epoch);
    // every node: the bytes available on its state volume (statfs), as the operating system says
    for (const [p, samples] of [['media', m], ['broker', b]] as const) {
      const room = sum(samples, 'cleanroom_state_volume_available_bytes');
      const fs = statfsSync(c.stateDir(p));
      expect(room, p).toBeGreaterThan(0);
      expect(Math.abs(room - fs.bavail * fs.bsize), p).toBeLessThan(2 ** 30); // other writers on the machine meanwhile
    }
    // the privacy budget: what the broker's ledger says (GET /v1/budget), per advertiser, media and epoch
    const ledger = await c.nodes.broker.admin.request<any>('GET', '/v1/budget');
    expect(ledger.budgets.length).toBeGreaterThan(0);
    for (const k of ledger.budgets) {
      const where = { advertiser: k.advertiser, media: k.media, epoch: k.epoch };
      expect(sum(b, 'cleanroom_privacy_epsilon_remaining', where)).toBe(k.epsilonRemaining);
      expect(sum(b, 'cleanroom_privacy_epsilon_spent', where)).toBe(k.epsilonSpent);
      expect(k.epsilonSpent).toBeGreaterThan(0);
    }
    const completed = await a.request<any>('GET', `/v1/sessions/${sessionId}/result`);
    expect(completed.privacy.epsilonSpent).toBeLessThanOrEqual(ledger.budgets[0].epsilonSpent);
    // the broker's universe sync is on the wire too (round UNIVERSE, received from media)
    expect(sum(b, 'cleanroom_session_bytes_total', { direction: 'received', peer: 'media', round: 'UNIVERSE' })).toBeGreaterThan(br.universe.users * TOKEN_BYTES);
  });

  it('cleanroom report insight --session fetches the result from the advertiser\'s admin API', async () => {
    const a = c.nodes.advertiser.admin;
    const sessions = await a.request<{ sessionId: string; status: string }[]>('GET', '/v1/sessions');
    const done = sessions.find((s) => s.status === 'completed')!;
    const file = join(out, 'insight.html');
    const r = spawnSync(process.execPath, [join(ROOT, 'cli/src/main.ts'), 'report', 'insight', '--session', done.sessionId, '--admin', a.base, '--out', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain(done.sessionId);
    expect(html).toContain('Outcome: <strong>COMPLETED</strong>');
    const missing = spawnSync(process.execPath, [join(ROOT, 'cli/src/main.ts'), 'report', 'insight', '--session', 'no-such-session', '--admin', a.base], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/404 unknown session no-such-session/);
  });

  it('grpc.health.v1: SERVING on each peer port behind mutual TLS and on the plaintext health port', async () => {
    const pki = join(out, 'pki');
    const read = (f: string) => readFileSync(join(pki, f));
    const withCert = grpc.credentials.createSsl(read('trust-ca.pem'), read('broker.key.pem'), read('broker.crt.pem'));
    const service = { advertiser: 'cleanroom.v1.Advertiser', media: 'cleanroom.v1.Media', broker: 'cleanroom.v1.Broker' } as const;
    for (const p of ['advertiser', 'media', 'broker'] as const) {
      const n = c.nodes[p];
      expect(await checkHealth(`localhost:${n.grpcPort}`, service[p], withCert), p).toBe('SERVING');
      expect(await checkHealth(`localhost:${n.grpcPort}`, '', withCert), p).toBe('SERVING');
      expect(await checkHealth(`127.0.0.1:${healthPortOf(p)}`, service[p], grpc.credentials.createInsecure()), p).toBe('SERVING');
    }
    // the peer port answers nobody without a client certificate, not even health
    const noCert = grpc.credentials.createSsl(read('trust-ca.pem'));
    await expect(checkHealth(`localhost:${c.nodes.media.grpcPort}`, '', noCert, 3000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    // and the plaintext health port serves nothing but health: a peer method is UNIMPLEMENTED there
    const client = new grpc.Client(`127.0.0.1:${healthPortOf('media')}`, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/cleanroom.v1.Media/Evaluate', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), { deadline: Date.now() + 3000 }, (e) => resolve(e));
    });
    client.close();
    expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});

describe('GET /metrics follows the admin token rule', () => {
  it('401 without the bearer token, 200 with it; /healthz stays open', async () => {
    const app = await buildAdmin({ party: 'broker', log: pino({ level: 'silent' }), token: 't'.repeat(24), ready: () => ({ ready: true, detail: {} }), sessions: () => undefined });
    try {
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
      const ok = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${'t'.repeat(24)}` } });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('# TYPE cleanroom_sessions_started_total counter');
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
