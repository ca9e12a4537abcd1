/** Entry point of the advertiser node (A): load the CRM, serve the admin API that starts sessions. */
import { Type } from '@fastify/type-provider-typebox';
import { boot, openNodeStore, serve } from '@cleanroom/shared/service/main.ts';
import { readCrm } from '@cleanroom/shared/data/files.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { AdvertiserNode } from './node.ts';
import { warmAdvertiserPath } from './warm.ts';
import { sessionStartRoute } from './requests.ts';
import { readInsight, renderInsightHtml } from '@cleanroom/shared/report/insight.ts';
import { readFederatedDir } from '@cleanroom/shared/data/federated.ts';
import { loadRoster } from '@cleanroom/shared/service/federation.ts';
import { FederatedParticipant } from './federated.ts';

const b = boot('advertiser');
const store = await openNodeStore(b);
let crm: Awaited<ReturnType<typeof readCrm>> = { rows: [], rejected: [] };
// A federation-only member (CLEANROOM_FEDERATED_DATA without CLEANROOM_DATA) holds no CRM.
if (b.config.data !== undefined) {
  try {
    crm = await readCrm(b.config.data);
  } catch (err) {
    process.stderr.write(`cleanroom advertiser: cannot read CLEANROOM_DATA=${b.config.data}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
/** CLEANROOM_FEDERATED_CRASH_AFTER_ROUND (development, tests): the process dies by SIGKILL before round N + 1's first message. */
function crashAfter(round: number): { round: number; step: 'FED_KEYS'; crash: () => never } {
  return {
    round: round + 1, step: 'FED_KEYS',
    crash: () => {
      process.stderr.write(`cleanroom advertiser: CLEANROOM_FEDERATED_CRASH_AFTER_ROUND=${round}: killing this process (SIGKILL)\n`);
      process.kill(process.pid, 'SIGKILL');
      throw new Error('unreachable: SIGKILL sent to this process');
    },
  };
}

// Federated learning (issue 14): this node is a member of the pinned roster, with its own rows.
let member: FederatedParticipant | undefined;
if (b.config.federation || b.config.federatedData) {
  try {
    if (!b.config.federation || !b.config.federatedData) throw new Error('CLEANROOM_FEDERATION and CLEANROOM_FEDERATED_DATA: set both (the roster and this member\'s rows) or neither');
    member = new FederatedParticipant({
      identity: b.identity, broker: b.peer('Broker', 'broker', b.config.brokerAddr), roster: loadRoster(b.config.federation),
      data: readFederatedDir(b.config.federatedData), transcriptDir: b.config.transcriptDir, deadlineMs: b.config.deadlineMs, log: b.log.child({ kind: 'federated' }),
      ...(b.config.federatedCrashAfterRound !== undefined ? { dropBefore: crashAfter(b.config.federatedCrashAfterRound) } : {}),
    });
  } catch (err) {
    process.stderr.write(`cleanroom advertiser: invalid configuration:\n  - ${(err as Error).message}\n`);
    process.exit(2);
  }
  b.log.info({ member: member.name, index: member.index }, 'federation member');
}
b.log.info({ rows: crm.rows.length, rejectedLines: crm.rejected.length }, 'CRM loaded');
const node = new AdvertiserNode({
  identity: b.identity, broker: b.peer('Broker', 'broker', b.config.brokerAddr), crm: crm.rows, crmRejected: crm.rejected, store,
  transcriptDir: b.config.transcriptDir, deadlineMs: b.config.deadlineMs, sessionDeadlineMs: b.config.sessionDeadlineMs, log: b.log,
});

// The token rounds' code (the per-ID token path, the lookup's label keys, the rounds' messages
// sealed and opened) compiled now, once, rather than in the first session's blind and tokens
// phases (warm.ts): start-up CPU, logged, no session's.
b.log.info({ cpuMs: Math.round(warmAdvertiserPath()) }, 'token path warmed up');

await serve(b, 'Advertiser', node.handlers(), {
  sessions: () => node.sessions,
  ready: () => ({ ready: true, detail: { crmRows: crm.rows.length } }),
}, (app) => {
  sessionStartRoute(app, (req) => {
    if (req.kind !== 'federated') return node.start(req);
    if (!member) throw new ProtocolError('FAILED_PRECONDITION', 'this advertiser is not a federation member (CLEANROOM_FEDERATION, CLEANROOM_FEDERATED_DATA)');
    member.join(req.sessionId);
    return { sessionId: req.sessionId };
  });
  // The privacy budget as the broker last reported it (every result carries it).
  app.get('/v1/budget', async () => {
    const latest = node.sessions.list().filter((r) => r.result && 'privacy' in r.result && r.result.privacy)
      .sort((x, y) => y.updatedAt.localeCompare(x.updatedAt))[0];
    const stored = latest ? undefined : (await store.listSessions('advertiser', 50)).find((r) => (r.result as { privacy?: unknown } | null)?.privacy);
    const from = latest ? { sessionId: latest.sessionId, at: latest.updatedAt, result: latest.result } : stored ? { sessionId: stored.sessionId, at: stored.updatedAt, result: stored.result } : undefined;
    if (!from) throw new ProtocolError('NOT_FOUND', 'no session has reported a privacy budget yet');
    return { asOfSession: from.sessionId, at: from.at, ...(from.result as { privacy: object }).privacy };
  });
  // The advertiser's insight report of a finished session: a self-contained HTML page.
  app.get('/v1/sessions/:id/report', {
    schema: { params: Type.Object({ id: Type.String({ maxLength: 80 }) }) },
  }, async (req, reply) => {
    const rec = node.sessions.get(req.params.id);
    const result = rec ? (rec.status === 'running' ? undefined : rec.result) : (await store.getSession('advertiser', req.params.id))?.result;
    if (!rec && result === undefined) throw new ProtocolError('NOT_FOUND', `unknown session ${req.params.id}`);
    if (rec?.status === 'running') throw new ProtocolError('FAILED_PRECONDITION', `session ${rec.sessionId} is still running (phase ${rec.phase})`);
    if (!result) throw new ProtocolError('FAILED_PRECONDITION', `session ${req.params.id} ended without a result (${rec?.error ?? 'failed'})`);
    return reply.type('text/html; charset=utf-8').send(renderInsightHtml(readInsight(result)));
  });
  app.get('/v1/sessions/:id/result', {
    schema: { params: Type.Object({ id: Type.String({ maxLength: 80 }) }), querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])) }, { additionalProperties: false }) },
  }, async (req, reply) => {
    const fed = member?.result(req.params.id);
    if (fed) {
      if (fed.status === 'running') throw new ProtocolError('FAILED_PRECONDITION', `federated session ${fed.sessionId} is still running (round ${fed.rounds.length})`);
      return fed;
    }
    const rec = node.sessions.get(req.params.id);
    // A lookup's labels as a downloadable CSV (?format=csv or Accept: text/csv): A's own IDs only.
    if (req.query.format === 'csv' || (req.query.format === undefined && /\btext\/csv\b/.test(req.headers.accept ?? ''))) {
      if (!rec) throw new ProtocolError('NOT_FOUND', `unknown session ${req.params.id} (a lookup's labels are kept in memory only, for the run that made them)`);
      if (rec.status === 'running') throw new ProtocolError('FAILED_PRECONDITION', `session ${rec.sessionId} is still running (phase ${rec.phase})`);
      const csv = node.lookupCsv(rec.sessionId);
      if (csv === undefined) throw new ProtocolError('FAILED_PRECONDITION', `session ${rec.sessionId} has no CSV result: ${rec.status === 'failed' ? `it failed (${rec.error ?? 'no reason'})` : 'only a completed lookup has one'}`);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="lookup-${rec.sessionId}.csv"`).send(csv);
    }
    if (!rec) {
      // A session of an earlier run of this node: its outcome is in the state database.
      const stored = await store.getSession('advertiser', req.params.id);
      if (!stored) throw new ProtocolError('NOT_FOUND', `unknown session ${req.params.id}`);
      if (stored.status === 'failed') return { sessionId: stored.sessionId, outcome: 'FAILED', reason: stored.error, lookalike: null };
      return stored.result as object;
    }
    if (rec.status === 'running') throw new ProtocolError('FAILED_PRECONDITION', `session ${rec.sessionId} is still running (phase ${rec.phase})`);
    if (rec.status === 'failed') return { sessionId: rec.sessionId, outcome: 'FAILED', reason: rec.error, lookalike: null };
    return rec.result;
  });
}, () => node.close());
