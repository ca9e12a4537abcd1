/**
 * OpenTelemetry tracing across three real node processes (gRPC with mutual TLS on loopback):
 * with CLEANROOM_OTLP_ENDPOINT pointing at a small OTLP/HTTP (JSON) receiver run by this
 * test, one session gives ONE connected trace — the advertiser's session span is the root,
 * the broker's and media's session spans descend from it through the gRPC server spans
 * (W3C traceparent in the metadata), every phase has a span — and the spans carry no ID,
 * attribute value or key material. A second session gets a different trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { startCluster, type Cluster } from '../../cli/src/cluster.ts';

interface OtlpSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, string>;
}

describe('tracing across the three node processes (OTLP/HTTP)', () => {
  let receiver: Server;
  let c: Cluster;
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        contentTypes.add(`${req.method} ${req.url} ${req.headers['content-type']}`);
        const doc = JSON.parse(body);
        for (const rs of doc.resourceSpans ?? []) {
          const service = rs.resource.attributes.find((a: any) => a.key === 'service.name')?.value.stringValue;
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name,
                attributes: Object.fromEntries((s.attributes ?? []).map((a: any) => [a.key, String(Object.values(a.value)[0])])),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    const out = mkdtempSync(join(tmpdir(), 'cleanroom-tracing-'));
    await generateWorld(join(out, 'world'), { seed: 'tracing-test', universeSize: 3000, crmSize: 800 });
    const env = { CLEANROOM_OTLP_ENDPOINT: endpoint };
    c = await startCluster({ outDir: out, worldDir: join(out, 'world'), env: { advertiser: env, media: env, broker: { ...env, CLEANROOM_MIN_COHORT: '10', CLEANROOM_DIFFERENCING_MIN: '0', CLEANROOM_NOISE_SCALE: '0' } } });
  }, 300_000);
  afterAll(async () => {
    await c?.stop();
    receiver?.close();
  });

  it('one session = one connected trace over all three nodes; spans hold no data values', async () => {
    const a = c.nodes.advertiser.admin;
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: 200, minCohort: 10 });
      expect((await a.waitSession(sessionId, 120_000)).status).toBe('completed');
      ids.push(sessionId);
    }
    await c.stop(); // graceful shutdown flushes every node's spans
    expect([...contentTypes].every((t) => t.startsWith('POST /v1/traces application/json'))).toBe(true);

    const traces = ids.map((id) => {
      const sessionSpans = spans.filter((s) => s.attributes['cleanroom.session_id'] === id);
      expect(sessionSpans.map((s) => s.service).sort()).toEqual(['cleanroom-advertiser', 'cleanroom-broker', 'cleanroom-media']);
      const traceIds = new Set(sessionSpans.map((s) => s.traceId));
      expect(traceIds.size).toBe(1); // all three nodes' session spans in one trace
      return [...traceIds][0]!;
    });
    expect(traces[0]).not.toBe(traces[1]);

    for (const traceId of traces) {
      const t = spans.filter((s) => s.traceId === traceId);
      const byId = new Map(t.map((s) => [s.spanId, s]));
      // connected: exactly one root (the advertiser's session span); every other parent is in the trace
      const roots = t.filter((s) => !s.parentSpanId);
      expect(roots.map((s) => `${s.service} ${s.name}`)).toEqual(['cleanroom-advertiser session lookalike']);
      for (const s of t) if (s.parentSpanId) expect(byId.has(s.parentSpanId), `${s.service} ${s.name}: parent missing`).toBe(true);
      // the broker's session span descends from the advertiser's session through the Broker/OpenSession server span
      const chain = (s: OtlpSpan): string[] => (s.parentSpanId ? [...chain(byId.get(s.parentSpanId)!), `${s.service.replace('cleanroom-', '')}:${s.name}`] : [`${s.service.replace('cleanroom-', '')}:${s.name}`]);
      const brokerSession = t.find((s) => s.service === 'cleanroom-broker' && s.name === 'session lookalike')!;
      expect(chain(brokerSession)).toEqual(['advertiser:session lookalike', 'advertiser:phase open', 'broker:Broker/OpenSession', 'broker:session lookalike']);
      const mediaSession = t.find((s) => s.service === 'cleanroom-media' && s.name === 'session lookalike')!;
      expect(chain(mediaSession)).toEqual(['advertiser:session lookalike', 'advertiser:phase open', 'broker:Broker/OpenSession', 'broker:session lookalike', 'broker:phase open', 'media:Media/PrepareSession', 'media:session lookalike']);
      // a span per phase on every node, and the server spans of the rounds
      const names = (svc: string) => new Set(t.filter((s) => s.service === svc).map((s) => s.name));
      for (const p of ['phase open', 'phase blind', 'phase tokens']) expect(names('cleanroom-advertiser')).toContain(p);
      for (const p of ['phase open', 'phase blind', 'phase tokens', 'phase match', 'phase aggregate', 'phase lookalike', 'Broker/OpenSession', 'Broker/Blind', 'Broker/SubmitTokens']) expect(names('cleanroom-broker')).toContain(p);
      for (const p of ['phase open', 'phase blind', 'phase lookalike', 'Media/PrepareSession', 'Media/Evaluate', 'Media/BuildLookalike']) expect(names('cleanroom-media')).toContain(p);
      expect(t.filter((s) => s.name === 'session lookalike').every((s) => s.attributes['cleanroom.outcome'] === 'completed')).toBe(true);
    }
    // nothing but names, ids, phases and methods in span attributes
    const keys = new Set(spans.flatMap((s) => Object.keys(s.attributes)));
    expect([...keys].sort()).toEqual(['cleanroom.kind', 'cleanroom.outcome', 'cleanroom.party', 'cleanroom.phase', 'cleanroom.session_id', 'rpc.method', 'rpc.system']);
  });
});
