/**
 * Bench figure of the lookup kind (docs/protocol.md §8): ONE lookup of the advertiser's
 * consented CRM phones (≈ 5,000 at the W1 workload) against media's universe, on a running
 * three-process cluster (gRPC, mutual TLS, loopback), plus the offline cost of the labels:
 * media's label publication time and the bytes of sealed labels media and the broker store.
 *
 * As a KindBench it runs inside `make bench` (one line in bench.ts's KIND_BENCHES). It also
 * runs alone, starting its own cluster on its own world:
 *
 *   node bench/lookup.bench.ts [--universe 1000000] [--ids 5000] [--out out/bench-lookup]
 *
 * and writes <out>/results.json. No thresholds: it measures.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { readCrm, readTruth } from '@cleanroom/shared/data/files.ts';
import { startCluster } from '../cli/src/cluster.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';
import { partyMetrics, type KindBench } from './kinds.ts';

interface MediaReady { universe: { users: number; labels?: { version: string; reused: boolean; seconds: number; labelled: Record<string, number>; bytes: number } } }
interface BrokerReady { universe: { users: number; bytesOnDisk: number } }

const lookupBench: KindBench = async ({ cluster, worldDir, say }) => {
  const media = await cluster.nodes.media.admin.request<MediaReady>('GET', '/readyz');
  const labels = media.universe.labels;
  if (!labels) throw new Error('media publishes no labels (the world has no media/labels.csv): regenerate the world');
  const broker = await cluster.nodes.broker.admin.request<BrokerReady>('GET', '/readyz');
  const crm = (await readCrm(join(worldDir, 'advertiser/crm.csv'))).rows;
  const ids = crm.filter((r) => r.consent).map((r) => r.phone);
  const a = cluster.nodes.advertiser.admin;
  const t0 = performance.now();
  const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { kind: 'lookup', ids });
  const status = await a.waitSession(sessionId, 3_600_000);
  const seconds = (performance.now() - t0) / 1000;
  if (status.status !== 'completed') throw new Error(`lookup ended ${status.status}: ${status.error ?? ''}`);
  const r = await a.request<{ ids: { valid: number }; paddedSize: number; labelled: number }>('GET', `/v1/sessions/${sessionId}/result`);
  const csv = await a.text(`/v1/sessions/${sessionId}/result?format=csv`);
  say(`  lookup: ${r.ids.valid} IDs, padded ${r.paddedSize}, ${r.labelled} labelled, ${seconds.toFixed(2)} s; CSV ${csv.body.length} B`);
  say(`  labels: published in ${labels.reused ? '(reused)' : `${labels.seconds} s`} (${JSON.stringify(labels.labelled)} real boxes), ${labels.bytes} B sealed at media and at the broker`);
  return {
    sessionId, seconds,
    figures: {
      ids: r.ids.valid, paddedSize: r.paddedSize, labelled: r.labelled, csvBytes: csv.body.length,
      labelPublication: { seconds: labels.reused ? null : labels.seconds, realBoxes: labels.labelled, bytes: labels.bytes, bytesPerPublishedToken: 56 },
      brokerUniverse: { users: broker.universe.users, bytesOnDiskWithLabels: broker.universe.bytesOnDisk, labelBytes: labels.bytes, labelShare: Number((labels.bytes / broker.universe.bytesOnDisk).toFixed(4)) },
    },
  };
};
export default lookupBench;

// Standalone: its own world and cluster.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const p = parseArgs(process.argv.slice(2), { universe: 'string', ids: 'string', out: 'string' });
  const universe = intFlag(p, 'universe', 1_000_000, 1000);
  const nIds = intFlag(p, 'ids', 5000, 100);
  const out = resolve(strFlag(p, 'out', 'out/bench-lookup'));
  const worldDir = join(out, 'world');
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const crmSize = Math.floor(nIds / 0.975);
  if (!existsSync(join(worldDir, 'media/labels.csv')) || readTruth(worldDir).universeSize !== universe || readTruth(worldDir).options.crmSize !== crmSize) {
    say(`generating the world: ${universe.toLocaleString('en')} media users, ${crmSize} advertiser customers…`);
    rmSync(worldDir, { recursive: true, force: true });
    await generateWorld(worldDir, { seed: 'bench', universeSize: universe, crmSize, purchaserShare: 1, overlap: 0.6 });
  }
  rmSync(join(out, 'state'), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  say('starting the three nodes; media prepares and publishes its universe and labels…');
  const cluster = await startCluster({ outDir: out, worldDir, readyTimeoutMs: 3_600_000, env: { broker: { CLEANROOM_LOOKUP_QUOTA: String(10 * nIds) } } });
  try {
    const r = await lookupBench({ cluster, worldDir, say });
    const parties = await partyMetrics(cluster, r.sessionId);
    for (const [party, m] of Object.entries(parties)) {
      say(`  ${party.padEnd(10)} wall ${m.wallMs.toFixed(0)} ms, CPU ${m.cpuMs.toFixed(0)} ms, sent ${m.bytesSentTotal} B, peak RSS ${(m.peakRssBytes / 1e6).toFixed(0)} MB; ${Object.entries(m.phases).map(([k, v]) => `${k} ${v.cpuMs.toFixed(0)} ms CPU`).join(', ')}`);
    }
    const results = {
      date: new Date().toISOString(), machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
      workload: { universe, ids: nIds, transport: 'gRPC + mutual TLS, loopback' }, seconds: Number(r.seconds.toFixed(2)), figures: r.figures, parties,
    };
    writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    say(`results: ${join(out, 'results.json')}`);
  } finally {
    await cluster.stop();
  }
}
