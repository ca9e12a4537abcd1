/**
 * `make bench`: the benchmark workload of the core session, on three real node processes
 * talking gRPC over mutual TLS on loopback.
 *
 * Workload (defaults): advertiser ≈5,000 real seed IDs, decoy ratio 9, media universe of
 * 1,000,000 users prepared once, 64 attributes, look-alike audience 50,000.
 * Prints per party and per phase: wall time, CPU time (the node process, all threads),
 * bytes sent; each node's peak memory; universe preparation timed separately. Writes
 * everything to bench/results.json. No thresholds: this measures, it does not judge.
 *
 *   node bench/bench.ts [--universe 1000000] [--seeds 5000] [--reuse-universe] [--out out/bench]
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { readTruth, readPropensity } from '@cleanroom/shared/data/files.ts';
import { measureLift } from '@cleanroom/shared/data/lift.ts';
import { startCluster } from '../cli/src/cluster.ts';
import { parseArgs, intFlag, strFlag } from '../cli/src/args.ts';
import { readFileSync } from 'node:fs';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';

const p = parseArgs(process.argv.slice(2), { universe: 'string', seeds: 'string', out: 'string', 'reuse-universe': 'boolean', audience: 'string' });
const universe = intFlag(p, 'universe', 1_000_000, 1000);
const seeds = intFlag(p, 'seeds', 5000, 100);
const audience = intFlag(p, 'audience', 50_000);
const out = resolve(strFlag(p, 'out', 'out/bench'));
const worldDir = join(out, 'world');
const say = (s: string) => process.stdout.write(`${s}\n`);

// ~3% of customers lack consent and a few rows are malformed: size the CRM so that the
// valid, consented seeds come out just under `seeds` (padded size = bucket(seeds·10)).
const crmSize = Math.floor(seeds / 0.975);
const t0 = performance.now();
let generated = false;
if (!existsSync(join(worldDir, 'truth/truth.json')) || readTruth(worldDir).universeSize !== universe || readTruth(worldDir).options.crmSize !== crmSize) {
  say(`generating the benchmark world: ${universe.toLocaleString('en')} media users, ${crmSize} advertiser customers (all purchasers)…`);
  rmSync(worldDir, { recursive: true, force: true });
  await generateWorld(worldDir, { seed: 'bench', universeSize: universe, crmSize, purchaserShare: 1, overlap: 0.6 });
  generated = true;
}
const genSeconds = (performance.now() - t0) / 1000;
if (!p.flags['reuse-universe']) rmSync(join(out, 'state'), { recursive: true, force: true });
mkdirSync(out, { recursive: true });

say('starting the three nodes (gRPC, mutual TLS, loopback); media prepares its universe…');
const tStart = performance.now();
const cluster = await startCluster({ outDir: out, worldDir, readyTimeoutMs: 3_600_000 });
try {
  const ready = await cluster.nodes.media.admin.request<{ universe: { users: number; reused: boolean; preparedSeconds: number; computed: number; epoch: string; publication: { encryptSeconds: number; ciphertexts: number; reused: boolean } } }>('GET', '/readyz');
  const brokerReady = await cluster.nodes.broker.admin.request<{ universe: { users: number; ciphertexts: number; bytesOnDisk: number; syncSeconds: number | null } }>('GET', '/readyz');
  const startupSeconds = (performance.now() - tStart) / 1000;
  say(`  universe: ${ready.universe.users.toLocaleString('en')} consented users, ${ready.universe.reused ? 'reused (run without --reuse-universe to time preparation)' : `prepared in ${ready.universe.preparedSeconds.toFixed(1)} s`}`);

  const a = cluster.nodes.advertiser.admin;
  const tS = performance.now();
  const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: audience, decoyRatio: 9 });
  const status = await a.waitSession(sessionId, 3_600_000);
  const sessionSeconds = (performance.now() - tS) / 1000;
  if (status.status !== 'completed') throw new Error(`session ended ${status.status}: ${status.error ?? ''}`);
  const result = await a.request<any>('GET', `/v1/sessions/${sessionId}/result`);
  const views = {} as Record<Party, any>;
  for (const party of ['advertiser', 'broker', 'media'] as const) views[party] = await cluster.nodes[party].admin.request('GET', `/v1/sessions/${sessionId}`);
  const audFile = join(cluster.stateDir('media'), 'audiences', `${result.lookalike.audienceId}.txt`);
  const lift = measureLift(readFileSync(audFile, 'utf8').split('\n').filter(Boolean), readPropensity(worldDir), universe);

  const parties = Object.fromEntries((['advertiser', 'broker', 'media'] as const).map((party) => {
    const m = views[party].metrics;
    return [party, {
      phases: m.phases,
      wallMs: Object.values<any>(m.phases).reduce((s, x) => s + x.wallMs, 0),
      cpuMs: Object.values<any>(m.phases).reduce((s, x) => s + x.cpuMs, 0),
      bytesSent: m.bytes.sent,
      bytesSentTotal: Object.values<number>(m.bytes.sent).reduce((s, x) => s + x, 0),
      bytesReceivedTotal: Object.values<number>(m.bytes.received).reduce((s, x) => s + x, 0),
      peakRssBytes: m.peakRssBytes,
    }];
  }));
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    workload: {
      universe, consentedUsers: ready.universe.users, seedCount: result.seeds.valid, decoyRatio: 9, paddedCount: result.matches.paddedSize,
      attributes: 64, audienceSize: audience, transport: 'gRPC + mutual TLS, loopback',
    },
    universePreparation: { seconds: ready.universe.reused ? null : Number(ready.universe.preparedSeconds.toFixed(2)), tokensComputed: ready.universe.computed, usersPerSecond: ready.universe.reused ? null : Math.round(ready.universe.users / ready.universe.preparedSeconds) },
    publication: {
      encryptSeconds: ready.universe.publication.reused ? null : ready.universe.publication.encryptSeconds, ciphertexts: ready.universe.publication.ciphertexts,
      brokerUsers: brokerReady.universe.users, brokerBytesOnDisk: brokerReady.universe.bytesOnDisk, brokerBytesPerUser: Math.round(brokerReady.universe.bytesOnDisk / brokerReady.universe.users),
      brokerSyncSeconds: brokerReady.universe.syncSeconds,
    },
    worldGenerationSeconds: generated ? Number(genSeconds.toFixed(2)) : null,
    clusterStartupSeconds: Number(startupSeconds.toFixed(2)),
    session: {
      id: sessionId, seconds: Number(sessionSeconds.toFixed(2)), outcome: result.outcome,
      realMatches: result.matches.real, audienceSize: result.lookalike.audienceSize,
      quality: Number(result.lookalike.quality.toFixed(3)), lift: Number(lift.toFixed(3)),
    },
    parties,
  };
  mkdirSync('bench', { recursive: true });
  writeFileSync('bench/results.json', JSON.stringify(results, null, 2) + '\n');

  const mb = (b: number) => (b / 1e6).toFixed(2);
  say('');
  say(`universe preparation (media, offline, once per epoch): ${results.universePreparation.seconds ?? 'reused'} s for ${ready.universe.users.toLocaleString('en')} users${results.universePreparation.usersPerSecond ? ` (${results.universePreparation.usersPerSecond.toLocaleString('en')} users/s)` : ''}`);
  say(`publication: media encrypted ${results.publication.ciphertexts.toLocaleString('en')} ciphertexts in ${results.publication.encryptSeconds ?? 'reused'} s; the broker holds ${mb(results.publication.brokerBytesOnDisk)} MB (${results.publication.brokerBytesPerUser} B per user), synced in ${results.publication.brokerSyncSeconds ?? '—'} s`);
  say(`session: ${results.session.seconds} s end to end; n = ${result.seeds.valid} seeds, padded ${result.matches.paddedSize}, real matches ${result.matches.real}, audience ${audience}, lift ${lift.toFixed(2)}`);
  say('');
  say('phase wall = time the session spent in that phase at that node (includes waiting for peers); cpu = the node process, all threads');
  say('party       phase        wall ms   cpu ms   sent MB');
  for (const [party, v] of Object.entries(parties)) {
    for (const [phase, x] of Object.entries<any>(v.phases)) {
      const round = { open: 'OPEN', blind: 'BLIND', tokens: 'TOKENS', aggregate: 'AGGREGATE', lookalike: 'LOOKALIKE' }[phase as string];
      const sent = round ? (v.bytesSent[round] ?? 0) : 0;
      say(`${party.padEnd(11)} ${phase.padEnd(12)} ${String(x.wallMs).padStart(7)}  ${String(x.cpuMs).padStart(7)}  ${round ? mb(sent).padStart(8) : '       -'}`);
    }
    say(`${party.padEnd(11)} ${'TOTAL'.padEnd(12)} ${String(v.wallMs).padStart(7)}  ${String(v.cpuMs).padStart(7)}  ${mb(v.bytesSentTotal).padStart(8)}   peak RSS ${mb(v.peakRssBytes)} MB`);
  }
  say('');
  say('figures written to bench/results.json');
} finally {
  await cluster.stop();
}
