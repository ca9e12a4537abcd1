/**
 * The session view's long poll (`GET /v1/sessions/:id?phase=<p>&waitMs=<ms>`, what
 * AdminClient.waitSession uses): held while the session runs in <p>, answered on its next
 * phase change or end, at the latest after waitMs, at once when it is not in <p>, and
 * released when the app closes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { buildAdmin, type AdminApp } from './admin.ts';
import { SessionRegistry } from './sessions.ts';

describe('admin long poll of a session view', () => {
  let app: AdminApp | undefined;
  let reg: SessionRegistry<object> | undefined;
  afterEach(async () => {
    await app?.close();
    reg?.close();
  });

  async function setup(): Promise<{ app: AdminApp; reg: SessionRegistry<object> }> {
    reg = new SessionRegistry<object>(60_000, () => {});
    const r = reg;
    app = await buildAdmin({ party: 'advertiser', log: pino({ level: 'silent' }), token: undefined, ready: () => ({ ready: true, detail: {} }), sessions: () => r });
    return { app, reg: r };
  }

  it('is answered when the session leaves the phase, not before', async () => {
    const { app, reg } = await setup();
    const rec = reg.create('s1', {}, 'blind');
    let answered = false;
    const res = app.inject({ method: 'GET', url: '/v1/sessions/s1?phase=blind&waitMs=20000' }).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toBe(false);
    const t0 = Date.now();
    reg.touch(rec, 'tokens');
    const r = await res;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.statusCode).toBe(200);
    expect(r.json().phase).toBe('tokens');
  });

  it('answers at once when the session is in another phase or ended, and after waitMs otherwise', async () => {
    const { app, reg } = await setup();
    const rec = reg.create('s2', {}, 'blind');
    expect((await app.inject({ method: 'GET', url: '/v1/sessions/s2?phase=open&waitMs=20000' })).json().phase).toBe('blind');
    const t0 = Date.now();
    const r = await app.inject({ method: 'GET', url: '/v1/sessions/s2?phase=blind&waitMs=300' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(r.json().phase).toBe('blind');
    reg.finish(rec, 'completed');
    expect((await app.inject({ method: 'GET', url: '/v1/sessions/s2?phase=done&waitMs=20000' })).json().status).toBe('completed');
  });

  it('ends held polls when the session finishes or the app closes; refuses a wait over the cap', async () => {
    const { app, reg } = await setup();
    const rec = reg.create('s3', {}, 'tokens');
    const held = app.inject({ method: 'GET', url: '/v1/sessions/s3?phase=tokens&waitMs=20000' });
    await new Promise((r) => setTimeout(r, 100));
    reg.finish(rec, 'failed', undefined, 'x');
    expect((await held).json().status).toBe('failed');
    expect((await app.inject({ method: 'GET', url: '/v1/sessions/s3?phase=failed&waitMs=30001' })).statusCode).toBe(400);
    reg.create('s4', {}, 'blind');
    const t0 = Date.now();
    const held2 = app.inject({ method: 'GET', url: '/v1/sessions/s4?phase=blind&waitMs=20000' });
    await new Promise((r) => setTimeout(r, 100));
    await app.close();
    await held2;
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
