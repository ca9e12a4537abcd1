/**
 * Tracing with OpenTelemetry — OFF unless `CLEANROOM_OTLP_ENDPOINT` is set (or a test passes
 * an exporter). One trace per session across the three nodes:
 *
 *   advertiser: session ─ phase open ─ (gRPC) ─▶ broker: Broker/OpenSession (server span)
 *                                                  └ session ─ phase open ─ (gRPC) ─▶ media: …
 *
 * - `SessionRegistry` opens a session span when a session is created (child of whatever is
 *   active: the incoming RPC's server span at the broker and media, nothing at the
 *   advertiser, where the trace starts), a phase span at each phase change, and ends them
 *   when the session finishes (attribute `cleanroom.outcome`). Both are entered into the
 *   current async context, so the peer calls made during a phase are its children.
 * - The gRPC adapter injects the W3C `traceparent` into the metadata of every peer call and
 *   runs every handler inside a server span continued from the caller's.
 * Spans carry the session id, kind, phase, party and RPC method — never an ID, attribute
 * value, key or payload. Exported by OTLP over HTTP (JSON) in batches; flushed on shutdown.
 * With tracing off every call here is a no-op of the OpenTelemetry API.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace,
  type Context, type ContextManager, type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

/** AsyncLocalStorage context manager that can also enter a context for the rest of an async flow. */
class SessionContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.als.run(ctx, () => fn.apply(thisArg, args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const f = target as unknown as (...a: unknown[]) => unknown;
    const mgr = this;
    return function (this: unknown, ...a: unknown[]) {
      return mgr.with(ctx, () => f.apply(this, a));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.als.disable();
    return this;
  }

  /** Makes `ctx` the active context for the rest of the current synchronous run and what it schedules. */
  enter(ctx: Context): void {
    this.als.enterWith(ctx);
  }
}

let manager: SessionContextManager | undefined;
let provider: TracerProvider | undefined;
let partyName = '';

const tracer = () => trace.getTracer('cleanroom');

export interface TracingOptions {
  /** OTLP/HTTP base URL, e.g. http://otel-collector:4318 (spans go to <url>/v1/traces). */
  endpoint?: string | undefined;
  /** A span exporter instead of OTLP (tests: InMemorySpanExporter); spans are exported at once. */
  exporter?: SpanExporter;
}

/** Turns tracing on for this process (no-op without endpoint or exporter); returns whether it is on. */
export function initTracing(party: string, o: TracingOptions): boolean {
  if (!o.endpoint && !o.exporter) return false;
  if (provider) throw new Error('tracing is already initialised in this process');
  partyName = party;
  const processor = o.exporter
    ? new SimpleSpanProcessor({ exporter: o.exporter })
    : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${o.endpoint!.replace(/\/$/, '')}/v1/traces` }), scheduledDelayMillis: 2000 });
  provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': `cleanroom-${party}`, 'cleanroom.party': party }), spanProcessors: [processor] });
  manager = new SessionContextManager();
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return true;
}

/** Exports what is buffered and stops tracing (graceful shutdown, tests). */
export async function shutdownTracing(): Promise<void> {
  const p = provider;
  provider = undefined;
  manager = undefined;
  if (!p) return;
  await p.forceFlush().catch(() => undefined);
  await p.shutdown().catch(() => undefined);
  trace.disable();
  context.disable();
  propagation.disable();
}

function enter(span: Span): void {
  manager?.enter(trace.setSpan(context.active(), span));
}

/** A session's spans (kept on the SessionRecord). */
export interface SessionTrace {
  session: Span;
  phase: Span | undefined;
}

export function startSessionTrace(sessionId: string, kind: string, phase: string): SessionTrace | undefined {
  if (!provider) return undefined;
  const session = tracer().startSpan(`session ${kind}`, { attributes: { 'cleanroom.session_id': sessionId, 'cleanroom.kind': kind, 'cleanroom.party': partyName } });
  const t: SessionTrace = { session, phase: undefined };
  enter(session);
  phaseTrace(t, phase);
  return t;
}

/** Ends the current phase span and starts (and enters) the next one. */
export function phaseTrace(t: SessionTrace | undefined, phase: string): void {
  if (!t) return;
  t.phase?.end();
  t.phase = undefined;
  if (phase === 'done' || phase === 'failed') return;
  const ctx = trace.setSpan(context.active(), t.session);
  t.phase = tracer().startSpan(`phase ${phase}`, { attributes: { 'cleanroom.phase': phase, 'cleanroom.party': partyName } }, ctx);
  enter(t.phase);
}

export function failTrace(t: SessionTrace | undefined, reason: string): void {
  if (!t) return;
  const s = t.phase ?? t.session;
  s.setStatus({ code: SpanStatusCode.ERROR, message: reason });
}

export function endSessionTrace(t: SessionTrace | undefined, outcome: string, error?: string): void {
  if (!t) return;
  if (error) failTrace(t, error);
  t.phase?.end();
  t.phase = undefined;
  t.session.setAttribute('cleanroom.outcome', outcome);
  if (outcome === 'failed') t.session.setStatus({ code: SpanStatusCode.ERROR, message: error ?? 'failed' });
  t.session.end();
}

/** Writes the active trace context into outgoing gRPC metadata (`set(key, value)`). */
export function injectTrace(set: (key: string, value: string) => void): void {
  if (!provider) return;
  propagation.inject(context.active(), undefined, { set: (_c, k, v) => set(k, v) });
}

/** Runs an RPC handler in a server span continued from the caller's trace context (`get(key)`). */
export function withServerSpan<T>(get: (key: string) => string | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (!provider) return fn();
  const parent = propagation.extract(ROOT_CONTEXT, undefined, { get: (_c, k) => get(k), keys: () => ['traceparent', 'tracestate'] });
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.method': name, 'cleanroom.party': partyName } }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}
