/**
 * Entry point of the media node (B). The admin API comes up first (liveness, and readiness
 * reporting "preparing" with the start-up stage under way — universe, publication, labels — since
 * when, and the CSV rows read while the universe is prepared), then the universe is prepared or
 * reused (a 'preparing the universe' line every 5 s), then gRPC serves the broker.
 */
import { boot, openNodeStore, startAdmin, startGrpc } from '@cleanroom/shared/service/main.ts';
import { closeOprfWorkers, prepareOprfWorkers } from '@cleanroom/shared/crypto/oprf-pool.ts';
import { openUniverse, type UniverseStatus } from './universe-store.ts';
import { preparationInputs } from './shard-store.ts';
import { openPublication } from './publication-store.ts';
import { openLabels } from './label-store.ts';
import { MediaNode } from './node.ts';
import { PositionHashFile } from './psi-positions.ts';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { nodeMetrics } from '@cleanroom/shared/service/metrics.ts';
import { logMemory } from '@cleanroom/shared/service/memory.ts';
import { applyServingGcPolicy } from '@cleanroom/shared/service/gc-policy.ts';

const b = boot('media');
const store = await openNodeStore(b);
let status: UniverseStatus | undefined;
let node: MediaNode | undefined;
let psi: PositionHashFile | undefined;
/** The PSI position hashes' background warm-up, for the readiness probe's detail (sessions run meanwhile: PSI ones hash their own sets). */
let psiPositions: { state: 'hashing' | 'ready' | 'stopped' | 'failed'; since: string; seconds?: number } = { state: 'hashing', since: new Date().toISOString() };
const preparingSince = new Date().toISOString();
/** The start-up stage under way, for the readiness probe: which one, since when, and its progress. */
let startup: { stage: 'universe' | 'publication' | 'labels'; stageSince: string; rowsRead?: number; waiting?: string } = { stage: 'universe', stageSince: preparingSince };
const stage = (s: (typeof startup)['stage']): void => { startup = { stage: s, stageSince: new Date().toISOString() }; };
const app = await startAdmin(b, {
  sessions: () => node?.sessions,
  ready: () => (status && node
    ? { ready: true, detail: { universe: status, psiPositions } }
    : { ready: false, detail: { universe: { state: 'preparing', since: preparingSince, ...startup } } }),
});
nodeMetrics.universe.preparing();
nodeMetrics.universe.inUse(() => (status ? { epoch: status.epoch, users: status.users } : undefined));
try {
  const inputs = await preparationInputs(b.config);
  const opened = await openUniverse({ stateDir: b.config.stateDir, data: b.config.data!, idTypes: b.config.idTypes, epoch: b.config.universeEpoch, log: b.log, threads: b.config.evalThreads, onRows: (rows) => { startup.rowsRead = rows; }, onWaiting: (why) => { startup.waiting = why; }, storePollMs: b.config.shardStorePollSeconds * 1000, ...inputs }).finally(() => inputs.store?.close());
  logMemory(b.log, 'universe');
  stage('publication');
  const published = await openPublication({ stateDir: b.config.stateDir, universe: opened.universe, log: b.log, threads: b.config.evalThreads });
  logMemory(b.log, 'publication');
  if (b.config.labels) stage('labels');
  const purposes = opened.universe.purposes();
  const lab = b.config.labels
    ? await openLabels({ stateDir: b.config.stateDir, labelsCsv: b.config.labels, share: purposes.share, universeFiles: opened.source.files, universe: opened.universe, publication: published.publication, log: b.log })
    : undefined;
  if (lab) logMemory(b.log, 'labels');
  const labels = lab?.labels;
  // the PSI kinds' position hashes: a file beside the publication, read per session (psi-positions.ts)
  const hashes = new PositionHashFile(join(b.config.stateDir, 'publication', published.publication.version), published.publication.users);
  psi = hashes;
  node = new MediaNode({
    store, purposes,
    quota: { evaluationsPerBroker: b.config.evalQuotaBroker, evaluationsPerAdvertiser: b.config.evalQuota, windowMs: Math.round(b.config.quotaWindowHours * 3_600_000) },
    privacy: { budget: b.config.privacyBudget, refreshMs: Math.round(b.config.budgetRefreshDays * 86_400_000) },
    minCohort: b.config.minCohort,
    identity: b.identity, universe: opened.universe, publication: { ...published.publication, positionHashes: (ps) => hashes.read(ps) }, ...(labels ? { labels } : {}), stateDir: b.config.stateDir, transcriptDir: b.config.transcriptDir,
    deadlineMs: b.config.deadlineMs, maxPaddedCount: b.config.maxPaddedCount, evalThreads: b.config.evalThreads, log: b.log,
  });
  status = { ...opened.status, publication: { version: published.publication.version, reused: published.reused, encryptSeconds: Math.round(published.seconds * 10) / 10, encryptCpuSeconds: Math.round(published.cpuSeconds * 10) / 10, encryptThreads: published.threads, ciphertexts: published.publication.ciphertexts.count } };
  if (lab) status.labels = { version: lab.labels.version, reused: lab.reused, seconds: Math.round(lab.seconds * 100) / 100, cpuSeconds: Math.round(lab.cpuSeconds * 100) / 100, labelled: lab.labelled, bytes: lab.bytes };
  nodeMetrics.universe.prepared(status);
} catch (err) {
  nodeMetrics.universe.failed();
  const what = { universe: `prepare the universe from CLEANROOM_DATA=${b.config.data}`, publication: 'make the publication', labels: `publish the labels of CLEANROOM_LABELS=${b.config.labels}` }[startup.stage];
  // a full state volume said as such, with where to look (the stage's files are left for the next start to remove)
  const full = (err as NodeJS.ErrnoException).code === 'ENOSPC' ? ` — the state volume CLEANROOM_STATE_DIR=${b.config.stateDir} is full: free space or grow it (docs/operations.md, "Sizing")` : '';
  b.log.fatal({ err: (err as Error).message, stage: startup.stage }, `cannot ${what}`);
  process.stderr.write(`cleanroom media: cannot ${what}: ${(err as Error).message}${full}\n`);
  process.exit(2);
}
await prepareOprfWorkers(b.config.evalThreads);
// Start-up is done (it sets media's peak memory under V8's own collection policy): sessions run under the serving policy (service/gc-policy.ts).
applyServingGcPolicy();
await startGrpc(b, 'Media', node.handlers(), app, () => {
  node?.close();
  psi?.close();
  void closeOprfWorkers();
});
// The PSI kinds (retargeting, joint-activate) hash every published position once per publication: in the background once gRPC serves,
// on evalThreads worker threads at the lowest priority, to a file (psi-positions.ts); the log line gives the event loop's worst delay meanwhile.
const warmDelay = monitorEventLoopDelay({ resolution: 10 });
warmDelay.enable();
psiPositions = { state: psi?.ready ? 'ready' : 'hashing', since: new Date().toISOString() };
void psi?.warm(node.publicationForPsi.version, { threads: b.config.evalThreads, nice: 19 }).then((figures) => {
  warmDelay.disable();
  psiPositions = { state: psi?.ready ? 'ready' : 'stopped', since: new Date().toISOString(), ...(figures ? { seconds: Math.round(figures.seconds * 10) / 10 } : {}) };
  if (!figures) return;
  b.log.info({ ...figures, seconds: Math.round(figures.seconds * 10) / 10, eventLoopDelayMaxMs: Math.round(warmDelay.max / 1e6) }, 'publication positions hashed for PSI');
  logMemory(b.log, 'psi-positions');
}).catch((err: unknown) => {
  warmDelay.disable();
  psiPositions = { state: 'failed', since: new Date().toISOString() };
  b.log.error({ err: (err as Error).message }, 'hashing the publication positions failed (PSI sessions hash them themselves)');
});
