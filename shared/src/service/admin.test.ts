/**
 * The admin API answers every error as RFC 9457 problem+json — issue 9, item 8: also the
 * ones raised before a route runs (malformed URL 400, a too long path parameter 414, too
 * large request line or headers 431, a request that is not HTTP), over a real socket.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { connect } from 'node:net';
import { pino } from 'pino';
import { buildAdmin, type AdminApp } from './admin.ts';

describe('admin API errors before routing are problem+json', () => {
  let app: AdminApp;
  let port: number;
  beforeAll(async () => {
    app = await buildAdmin({ party: 'broker', log: pino({ level: 'silent' }), token: undefined, ready: () => ({ ready: true, detail: {} }), sessions: () => undefined });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(() => app.close());

  /** Sends raw bytes, returns status, content type and parsed body of the reply. */
  const raw = (text: string) => new Promise<{ status: number; type: string; body: Record<string, unknown> }>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(text));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('error', reject);
    s.on('close', () => {
      const [head, body] = [out.slice(0, out.indexOf('\r\n\r\n')), out.slice(out.indexOf('\r\n\r\n') + 4)];
      resolve({ status: Number(head.split(' ')[1]), type: /content-type: *([^\r\n]*)/i.exec(head)?.[1] ?? '', body: JSON.parse(body) });
    });
  });
  const get = (target: string, headers = '') => raw(`GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`);

  it.each([
    ['a malformed URL (bad percent-encoding)', () => get('/v1/sessions/%E0%A4%A'), 400, /malformed/],
    ['a path parameter over maxParamLength', () => get(`/v1/sessions/${'a'.repeat(200)}`), 414, /path parameter is longer/],
    ['header fields too large', () => get('/healthz', `X-Big: ${'a'.repeat(20_000)}\r\n`), 431, /exceed the size/],
    ['a request line too long', () => get(`/${'a'.repeat(20_000)}`), 431, /exceed the size/],
    ['bytes that are not HTTP', () => raw('GARBAGE\r\n\r\n'), 400, /not valid HTTP/],
  ] as const)('%s → %s application/problem+json', async (_name, send, status, detail) => {
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.body).toEqual({ type: 'about:blank', title: expect.any(String), status, detail: expect.stringMatching(detail) });
  });

  it('routed errors stay problem+json (404)', async () => {
    const r = await get('/nope');
    expect(r.status).toBe(404);
    expect(r.type).toMatch(/^application\/problem\+json/);
  });
});

describe('admin API logging', () => {
  it('logs no line per request and builds without a deprecation warning', async () => {
    const lines: string[] = [];
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => { warnings.push(`${w.code ?? ''} ${w.message}`); };
    process.on('warning', onWarning);
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
    const app = await buildAdmin({ party: 'media', log, token: undefined, ready: () => ({ ready: true, detail: {} }), sessions: () => undefined });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as { port: number };
      for (const path of ['/healthz', '/nope']) await (await fetch(`http://127.0.0.1:${port}${path}`)).arrayBuffer();
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
      expect(warnings.filter((w) => /deprecat/i.test(w))).toEqual([]);
      expect(lines.filter((l) => /incoming request|request completed/.test(l))).toEqual([]);
      expect(lines.some((l) => l.includes('Server listening'))).toBe(true); // the logger is live: the test can fail
    } finally {
      process.off('warning', onWarning);
      await app.close();
    }
  });
});
