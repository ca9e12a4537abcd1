/** Entry point of the broker node (C): load or sync media's publication, serve the advertiser. */
import { boot, serve } from '@cleanroom/shared/service/main.ts';
import { DEFAULT_BROKER_POLICY } from '@cleanroom/shared/protocol/policy.ts';
import { BrokerNode } from './node.ts';
import { nodeMetrics } from '@cleanroom/shared/service/metrics.ts';

const b = boot('broker');
const node = new BrokerNode({
  identity: b.identity,
  media: b.peer('Media', 'media', b.config.mediaAddr),
  advertiser: b.peer('Advertiser', 'advertiser', b.config.advertiserAddr),
  policy: { ...DEFAULT_BROKER_POLICY, minDecoyRatio: b.config.minDecoyRatio, minCohort: b.config.minCohort, noiseScale: b.config.noiseScale },
  transcriptDir: b.config.transcriptDir,
  stateDir: b.config.stateDir,
  deadlineMs: b.config.deadlineMs,
  log: b.log,
});
nodeMetrics.universe.inUse(() => (node.universe ? { epoch: node.universe.epoch, users: node.universe.users } : undefined));
await serve(b, 'Broker', node.handlers(), {
  sessions: () => node.sessions as never,
  ready: () => ({
    ready: node.universe !== undefined,
    detail: node.universe
      ? { universe: { epoch: node.universe.epoch, version: node.universe.version, users: node.universe.users, ciphertexts: node.universe.ciphertexts.count, bytesOnDisk: node.universe.bytesOnDisk, syncSeconds: node.universe.syncSeconds ?? null, syncedAt: node.universe.syncedAt } }
      : { waitingFor: 'media\'s publication (universe sync)' },
  }),
}, undefined, () => node.close());

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
