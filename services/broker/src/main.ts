/** Entry point of the broker node (C): load or sync media's publication, serve the advertiser. */
import { applyGcPolicy, applySyncGcPolicy } from '@cleanroom/shared/service/gc-policy.ts';
import { boot, openNodeStore, serve } from '@cleanroom/shared/service/main.ts';
import { DEFAULT_BROKER_POLICY } from '@cleanroom/shared/protocol/policy.ts';
import { DEFAULT_PRIVACY, profileNoiseScale, validatePrivacy } from '@cleanroom/shared/protocol/privacy.ts';
import { BrokerNode } from './node.ts';
import { nodeMetrics } from '@cleanroom/shared/service/metrics.ts';
import { Type } from '@fastify/type-provider-typebox';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { loadRoster } from '@cleanroom/shared/service/federation.ts';
import { FederationHub, federationOff } from './federated.ts';

applyGcPolicy(); // the universe sync's call buffers (service/gc-policy.ts)
const b = boot('broker');
const store = await openNodeStore(b);
const privacy = validatePrivacy({
  ...DEFAULT_PRIVACY,
  epsilonProfile: b.config.epsilon, epsilonCount: b.config.epsilon / 10, epsilonDifferencing: b.config.epsilon / 4,
  budget: b.config.privacyBudget, refreshMs: Math.round(b.config.budgetRefreshDays * 86_400_000), differencingMin: b.config.differencingMin,
});
const node = new BrokerNode({
  store,
  quota: { evaluationsPerAdvertiser: b.config.evalQuota, windowMs: Math.round(b.config.quotaWindowHours * 3_600_000) },
  lookup: { minBatch: b.config.lookupMinBatch, idsPerAdvertiser: b.config.lookupQuota },
  identity: b.identity,
  media: b.peer('Media', 'media', b.config.mediaAddr),
  advertiser: b.peer('Advertiser', 'advertiser', b.config.advertiserAddr),
  policy: {
    ...DEFAULT_BROKER_POLICY, minDecoyRatio: b.config.minDecoyRatio, minCohort: b.config.minCohort,
    noiseScale: b.config.noiseScale ?? profileNoiseScale(privacy), privacy,
  },
  transcriptDir: b.config.transcriptDir,
  stateDir: b.config.stateDir,
  deadlineMs: b.config.deadlineMs,
  sessionDeadlineMs: b.config.sessionDeadlineMs,
  evalThreads: b.config.evalThreads,
  psiPageItems: b.config.psiPageItems,
  syncGcPolicy: applySyncGcPolicy, // the sync's call buffers, again (service/gc-policy.ts)
  log: b.log,
});
// Federated learning (issue 14): the broker aggregates for the members of the pinned roster.
let hub: FederationHub | undefined;
if (b.config.federation) {
  try {
    hub = new FederationHub({ identity: b.identity, roster: loadRoster(b.config.federation), transcriptDir: b.config.transcriptDir, stepTimeoutMs: b.config.federatedStepMs, log: b.log.child({ kind: 'federated' }) });
  } catch (err) {
    process.stderr.write(`cleanroom broker: invalid configuration:\n  - ${(err as Error).message}\n`);
    process.exit(2);
  }
  b.log.info({ roster: b.config.federation }, 'federated sessions enabled');
}
nodeMetrics.universe.inUse(() => (node.universe ? { epoch: node.universe.epoch, users: node.universe.users } : undefined));
/** The privacy ledger: every charge, and where each (advertiser, media, epoch) stands (admin API and metrics). */
async function ledgerBudgets() {
  const entries = await store.ledger('broker');
  const now = Date.now();
  const keys = new Map<string, { advertiser: string; media: string; epoch: string }>();
  for (const e of entries) keys.set(`${e.advertiser}|${e.media}|${e.epoch}`, { advertiser: e.advertiser, media: e.media, epoch: e.epoch });
  const budgets = await Promise.all([...keys.values()].map(async (k) => {
    const spent = await store.spent('broker', k, now, privacy.refreshMs);
    return { ...k, budget: privacy.budget, epsilonSpent: Math.round(spent * 1e6) / 1e6, epsilonRemaining: Math.round(Math.max(0, privacy.budget - spent) * 1e6) / 1e6 };
  }));
  return { entries, budgets };
}
nodeMetrics.privacyBudgets(async () => (await ledgerBudgets()).budgets);
await serve(b, 'Broker', { ...node.handlers(), ...(hub?.handlers() ?? federationOff()) }, {
  sessions: () => node.sessions,
  ready: () => ({
    // A federation-only broker serves federated sessions without media's publication.
    ready: node.universe !== undefined || hub !== undefined,
    detail: {
      ...(node.universe
        ? { universe: { epoch: node.universe.epoch, version: node.universe.version, users: node.universe.users, ciphertexts: node.universe.ciphertexts.count, bytesOnDisk: node.universe.bytesOnDisk, syncSeconds: node.universe.syncSeconds ?? null, syncCpuSeconds: node.universe.syncCpuSeconds ?? null, syncThreads: node.universe.syncThreads ?? null, syncedAt: node.universe.syncedAt } }
        : { waitingFor: 'media\'s publication (universe sync)' }),
      // why the last sync failed (a full volume, media unreachable, …), until one succeeds
      ...(node.lastSyncError ? { lastSyncError: node.lastSyncError } : {}),
    },
  }),
}, (app) => {
  // Declares a federated session (the members then join it through their own admin API).
  app.post('/v1/sessions', {
    schema: {
      body: Type.Object({
        kind: Type.Literal('federated'),
        rounds: Type.Integer({ minimum: 1, maximum: 10_000 }),
        threshold: Type.Optional(Type.Integer({ minimum: 2, maximum: 64 })),
        convergenceTol: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5 })),
        localEpochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10 })),
        l2: Type.Optional(Type.Number({ minimum: 0, maximum: 10 })),
      }, { additionalProperties: false }),
      response: { 202: Type.Object({ sessionId: Type.String(), members: Type.Array(Type.String()), threshold: Type.Integer() }) },
    },
  }, async (req, reply) => {
    if (!hub) throw new ProtocolError('FAILED_PRECONDITION', 'this broker has no federation roster (CLEANROOM_FEDERATION)');
    const { kind: _kind, ...rest } = req.body;
    const { sessionId } = hub.create(rest);
    const r = hub.result(sessionId)!;
    return reply.code(202).send({ sessionId, members: r.policy.roster, threshold: r.policy.threshold });
  });
  app.get('/v1/sessions/:id/result', { schema: { params: Type.Object({ id: Type.String({ maxLength: 80 }) }) } }, async (req) => {
    const r = hub?.result(req.params.id);
    if (!r) throw new ProtocolError('NOT_FOUND', `unknown federated session ${req.params.id}`);
    return r;
  });
  // The privacy ledger: where each (advertiser, media, epoch) stands, and every charge.
  app.get('/v1/budget', async () => {
    const { entries, budgets } = await ledgerBudgets();
    return {
      policy: { epsilonProfile: privacy.epsilonProfile, epsilonCount: privacy.epsilonCount, epsilonDifferencing: privacy.epsilonDifferencing, budget: privacy.budget, refreshDays: b.config.budgetRefreshDays, differencingMin: privacy.differencingMin },
      budgets,
      charges: entries.map((e) => ({ sessionId: e.sessionId, advertiser: e.advertiser, epoch: e.epoch, reserved: e.reserved, charged: e.charged, at: new Date(e.atMs).toISOString() })),
    };
  });
}, () => {
  hub?.close();
  return node.close();
});

try {
  await node.loadHeld();
} catch (err) {
  b.log.warn({ err: (err as Error).message }, 'the publication held on disk cannot be loaded; syncing it again');
}

// Keep trying to sync until media is up; re-sync periodically to pick up a new epoch.
async function syncLoop(): Promise<void> {
  for (;;) {
    try {
      await node.syncUniverse();
      return;
    } catch (err) {
      b.log.warn({ err: (err as Error).message }, 'universe sync failed; retrying in 2 s');
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}
void syncLoop();
setInterval(() => void node.syncUniverse().catch((err) => b.log.warn({ err: (err as Error).message }, 'periodic universe sync failed')), 10 * 60_000).unref();
