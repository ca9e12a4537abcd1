/**
 * `POST /v1/sessions` per kind (app.inject, a recording start function): a body without
 * `kind` is a look-alike request; each kind's body is typed (an unknown field or kind is a
 * 400 problem+json naming it); a bad predicate is the node's 422 naming the tag; the
 * OpenAPI document lists one body per kind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { buildAdmin, type AdminApp } from '@cleanroom/shared/service/admin.ts';
import { compileAdvertiserPredicate } from '@cleanroom/shared/protocol/predicate-schemas.ts';
import { sessionStartRoute, servedKinds } from './requests.ts';
import type { StartSessionRequest } from './node.ts';

describe('POST /v1/sessions with kind', () => {
  let app: AdminApp;
  const started: StartSessionRequest[] = [];
  beforeAll(async () => {
    app = await buildAdmin({ party: 'advertiser', log: pino({ level: 'silent' }), token: undefined, ready: () => ({ ready: true, detail: {} }), sessions: () => undefined });
    sessionStartRoute(app, (req) => {
      if ('predicate' in req) compileAdvertiserPredicate(req.predicate); // what the node does first
      if (req.kind === 'federated') return { sessionId: req.sessionId };
      started.push(req);
      return { sessionId: `s${started.length}` };
    });
    await app.ready();
  });
  afterAll(() => app.close());
  const post = (body: unknown) => app.inject({ method: 'POST', url: '/v1/sessions', payload: body as object });

  it('a body without kind is a look-alike request, as before', async () => {
    const r = await post({ audienceSize: 300 });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toEqual({ sessionId: 's1', kind: 'lookalike' });
    expect(started.at(-1)).toEqual({ kind: 'lookalike', audienceSize: 300 });
  });

  it('a profile body is accepted with its predicate', async () => {
    const r = await post({ kind: 'profile', predicate: { tag: 'visited_90d', eq: true }, minCohort: 40 });
    expect(r.statusCode).toBe(202);
    expect(started.at(-1)).toEqual({ kind: 'profile', predicate: { tag: 'visited_90d', eq: true }, minCohort: 40 });
  });

  it('an unknown kind, a field of another kind, or a kind\'s missing field: 400 problem+json naming it', async () => {
    const n = started.length;
    for (const [body, detail] of [
      [{ kind: 'teleport' }, new RegExp(`unknown session kind "teleport": this node serves ${servedKinds().join(', ')}; nothing was started`)],
      [{ kind: 7 }, /unknown session kind 7/],
      [{ kind: 'federated' }, /must have required property 'sessionId'/],
      [{ kind: 'profile', predicate: {}, audienceSize: 10 }, /unknown field 'audienceSize'/],
      [{ kind: 'lookalike', predicate: {} }, /unknown field 'predicate'/],
    ] as const) {
      const r = await post(body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(r.json().detail).toMatch(detail);
    }
    expect(started.length).toBe(n);
  });

  it('a predicate naming an unknown tag: 422 problem+json naming the tag', async () => {
    const r = await post({ kind: 'profile', predicate: { all: [{ tag: 'bought_last_week' }] } });
    expect(r.statusCode).toBe(422);
    expect(r.json().detail).toMatch(/unknown advertiser tag 'bought_last_week' at \$\.all\[0\]/);
  });

  it('the OpenAPI document has one body per served kind', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/openapi.json' })).json();
    const body = doc.paths['/v1/sessions'].post.requestBody.content['application/json'].schema;
    const variants = body.oneOf ?? body.anyOf;
    expect(variants.map((v: { properties: { kind: { enum?: string[]; const?: string } } }) => v.properties.kind.enum?.[0] ?? v.properties.kind.const)).toEqual(servedKinds());
  });
});
