/**
 * The admin HTTP API every node serves (fastify): liveness, readiness, session views,
 * OpenAPI document, RFC 9457 problem+json errors — for every error, including those raised
 * before routing (malformed URL 400, 414, 431) — and an optional bearer token.
 *
 * The app is built here and routes are added by each node as a plugin; only the entry
 * point listens. Every route declares TypeBox schemas; 5xx messages are not leaked.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import { Type, type Static, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Party } from '../protocol/messages.ts';
import { ProtocolError } from '../protocol/messages.ts';
import type { Logger } from './log.ts';
import type { SessionList, SessionRecord } from './sessions.ts';
import { nodeMetrics } from './metrics.ts';

export type AdminApp = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

export const Problem = Type.Object({
  type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String(),
});

export const SessionView = Type.Object({
  sessionId: Type.String(), phase: Type.String(), status: Type.String(), startedAt: Type.String(), updatedAt: Type.String(),
  progress: Type.Record(Type.String(), Type.Number()), error: Type.Optional(Type.String()),
  metrics: Type.Optional(Type.Object({
    phases: Type.Record(Type.String(), Type.Object({
      wallMs: Type.Number(), cpuMs: Type.Number(),
      /** CPU of the main (event-loop) thread alone; cpuMs − this = V8's background threads (GC, compilers) and worker threads. */
      mainThreadCpuMs: Type.Optional(Type.Number()),
      /** Cryptographic primitives counted in the phase (common/op-counts.ts): the phase's floor in `make bench`. */
      ops: Type.Optional(Type.Record(Type.String(), Type.Number())),
    })),
    bytes: Type.Object({ sent: Type.Record(Type.String(), Type.Number()), received: Type.Record(Type.String(), Type.Number()) }),
    peakRssBytes: Type.Number(),
  })),
});

/** The public view of a session (admin API). */
export function sessionView(rec: SessionRecord<unknown>): Static<typeof SessionView> {
  return {
    sessionId: rec.sessionId, phase: rec.phase, status: rec.status, startedAt: rec.startedAt,
    updatedAt: rec.updatedAt, progress: rec.progress, ...(rec.error ? { error: rec.error } : {}),
    metrics: {
      phases: Object.fromEntries(Object.entries(rec.metrics).map(([k, v]) => [k, { wallMs: Math.round(v.wallMs), cpuMs: Math.round(v.cpuMs), mainThreadCpuMs: Math.round(v.mainThreadCpuMs), ops: v.ops }])),
      bytes: rec.bytes?.() ?? { sent: {}, received: {} },
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    },
  };
}

const HTTP_OF: Record<ProtocolError['code'], number> = {
  INVALID_ARGUMENT: 422, FAILED_PRECONDITION: 409, RESOURCE_EXHAUSTED: 429, NOT_FOUND: 404, PERMISSION_DENIED: 403,
  ALREADY_EXISTS: 409, DEADLINE_EXCEEDED: 504, UNAVAILABLE: 503, INTERNAL: 500, ABORTED: 409,
};

/** The longest an admin long poll (`GET /v1/sessions/:id?phase=…&waitMs=…`) is held. */
export const MAX_WAIT_MS = 30_000;

export interface AdminOptions {
  party: Party;
  log: Logger;
  token: string | undefined;
  ready: () => { ready: boolean; detail: Record<string, unknown> };
  /** The node's sessions; undefined while the node is still starting (e.g. media preparing). */
  sessions: () => SessionList | undefined;
}

/** An RFC 9457 problem document; `title` is the status's reason phrase. */
export function problem(status: number, detail: string): { type: string; title: string; status: number; detail: string } {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail };
}

/**
 * Errors raised before a request reaches a route, answered as problem+json like every other:
 * the HTTP parser's (431 header fields too large — a too long request line included —, 400
 * malformed request), written to the socket directly, and fastify's own URL errors (400
 * malformed URL, 414 a path parameter longer than maxParamLength).
 */
function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'HPE_URI_TOO_LONG' ? 414 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const detail = status === 431 ? 'the request line or header fields exceed the size this server accepts'
    : status === 408 ? 'the request was not received in time' : 'the request is not valid HTTP/1.1';
  const body = JSON.stringify(problem(status, detail));
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export async function buildAdmin(o: AdminOptions): Promise<AdminApp> {
  const app = Fastify({
    // no line per request (fastify's LogController: its top-level disableRequestLogging is deprecated)
    loggerInstance: o.log.child({ component: 'admin' }), logController: new LogController({ disableRequestLogging: true }), bodyLimit: 1024 * 1024,
    // removeAdditional: false — an unknown field is an error naming it, never silently dropped.
    ajv: { customOptions: { removeAdditional: false, allErrors: true, discriminator: true } },
    clientErrorHandler,
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : (err as { statusCode?: number }).statusCode ?? 400;
      const detail = err.code === 'FST_ERR_BAD_URL' ? 'the URL is malformed (invalid percent-encoding?)'
        : err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is longer than this server accepts' : 'the request cannot be routed';
      reply.code(status).type('application/problem+json').send(problem(status, detail));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(swagger, {
    openapi: { info: { title: `cleanroom ${o.party} admin API`, version: '1' }, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } },
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err instanceof ProtocolError ? HTTP_OF[err.code] : err.validation ? 400 : (err.statusCode ?? 500);
    if (status >= 500 && !(err instanceof ProtocolError)) req.log.error({ err }, 'admin request failed');
    reply.code(status).type('application/problem+json').send({
      type: 'about:blank',
      title: err instanceof ProtocolError ? err.code : status >= 500 ? 'Internal Server Error' : 'Bad Request',
      status,
      detail: status >= 500 && !(err instanceof ProtocolError) ? 'internal error (see the node\'s log)' : validationDetail(err) ?? err.message,
    });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).type('application/problem+json').send({ type: 'about:blank', title: 'Not Found', status: 404, detail: `no route ${req.method} ${req.url}` });
  });

  if (o.token) {
    const expected = Buffer.from(`Bearer ${o.token}`);
    app.addHook('onRequest', async (req, reply) => {
      if (req.url === '/healthz') return;
      const got = Buffer.from(req.headers.authorization ?? '');
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
        return reply.code(401).type('application/problem+json').send({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'expected Authorization: Bearer <CLEANROOM_ADMIN_TOKEN>' });
      }
    });
  }

  app.get('/healthz', { schema: { response: { 200: Type.Object({ status: Type.String(), party: Type.String() }) } } }, async () => ({ status: 'ok', party: o.party }));
  app.get('/readyz', { schema: { response: { 200: Type.Object({ ready: Type.Boolean() }, { additionalProperties: true }), 503: Type.Object({ ready: Type.Boolean() }, { additionalProperties: true }) } } }, async (_req, reply) => {
    const r = o.ready();
    return reply.code(r.ready ? 200 : 503).send({ ready: r.ready, party: o.party, ...r.detail } as { ready: boolean });
  });
  app.get('/v1/sessions', { schema: { response: { 200: Type.Array(SessionView) } } }, async () => (o.sessions()?.list() ?? []).map((r) => sessionView(r)));
  // Long polls end when the app closes, so a held request never delays a shutdown.
  let closing = (): void => {};
  const closed = new Promise<void>((resolve) => (closing = resolve));
  app.addHook('preClose', async () => closing());
  // ?phase=<p>&waitMs=<ms>: a long poll — answered when the session is no longer running in
  // phase <p> (or at once if it is not), at the latest after waitMs (≤ 30 s). Watching a
  // session this way costs its node one request per phase instead of one per poll interval.
  app.get('/v1/sessions/:id', {
    schema: {
      params: Type.Object({ id: Type.String({ maxLength: 80 }) }),
      querystring: Type.Object({ phase: Type.Optional(Type.String({ maxLength: 40 })), waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_MS })) }, { additionalProperties: false }),
      response: { 200: SessionView, 404: Problem },
    },
  }, async (req) => {
    const list = o.sessions();
    let rec = list?.get(req.params.id);
    if (!rec) throw new ProtocolError('NOT_FOUND', `unknown session ${req.params.id}`);
    const { phase, waitMs } = req.query;
    if (list && phase !== undefined && waitMs && rec.status === 'running' && rec.phase === phase) {
      await Promise.race([list.changed(rec.sessionId, waitMs), closed]);
      rec = list.get(req.params.id) ?? rec;
    }
    return sessionView(rec);
  });
  app.get('/metrics', { schema: { description: 'Prometheus metrics (docs/operations.md, "Metrics")', response: { 200: Type.String() } } }, async (_req, reply) => {
    const m = await nodeMetrics.scrape();
    return reply.type(m.contentType).send(m.body);
  });
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** Names unknown fields ("unknown field 'min_cohort' in body") instead of ajv's generic wording. */
function validationDetail(err: { validation?: unknown; validationContext?: string }): string | undefined {
  if (!Array.isArray(err.validation)) return undefined;
  const unknown = (err.validation as { keyword?: string; params?: { additionalProperty?: string }; instancePath?: string }[])
    .filter((v) => v.keyword === 'additionalProperties' && v.params?.additionalProperty)
    .map((v) => `'${v.instancePath ? `${v.instancePath.slice(1).replaceAll('/', '.')}.` : ''}${v.params!.additionalProperty}'`);
  if (unknown.length === 0) return undefined;
  return `unknown field${unknown.length > 1 ? 's' : ''} ${[...new Set(unknown)].join(', ')} in ${err.validationContext ?? 'request'}; nothing was started`;
}

export async function listen(app: AdminApp, address: string): Promise<void> {
  const i = address.lastIndexOf(':');
  await app.listen({ host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) });
}
