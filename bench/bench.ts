/**
 * `make bench`: the benchmark workload of the core session, on three real node processes
 * talking gRPC over mutual TLS on loopback.
 *
 * Workload (defaults): advertiser ≈5,000 real seed IDs, decoy ratio 9, media universe of
 * 1,000,000 users prepared once, 64 attributes, look-alike audience 50,000.
 * Prints per party and per phase: wall time, CPU time (the node process, all threads),
 * bytes sent, and the phase's floor — the cost of the cryptographic primitives it counted,
 * each primitive measured in this same run (bench/floors.ts; twice, before and after the
 * sessions, the mean used and their drift written as floorDrift) — with the ratio CPU ÷ floor
 * (`floorRatio` on each phase in results.json); each node's peak memory; universe
 * preparation, publication and the broker's sync with their floors too. Writes everything
 * to bench/results.json. No thresholds: this measures, it does not judge.
 *
 * Other session kinds add their figure with one line in KIND_BENCHES below: a module
 * bench/<kind>.bench.ts whose default export (a KindBench, bench/kinds.ts) runs one session
 * of its kind on the running cluster; its phases get floors like W1's, under results.kinds.
 *
 *   node bench/bench.ts [--universe 1000000] [--seeds 5000] [--reuse-universe] [--out out/bench]
 *                       [--kinds none|lookup,...] [--results bench/results.json]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { readPropensity, staleWorld } from '@cleanroom/shared/data/files.ts';
import { measureLift } from '@cleanroom/shared/data/lift.ts';
import { startCluster } from '../cli/src/cluster.ts';
import type { AdminClient } from '../cli/src/admin-client.ts';
import { parseArgs, intFlag, strFlag } from '../cli/src/args.ts';
import { readFileSync } from 'node:fs';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import { floorMs, measurePrimitiveCosts, phaseRatio, ratio, type PrimitiveCosts } from './floors.ts';
import { partyMetrics, type KindBench, type PartyMetrics } from './kinds.ts';

/** One line per session kind: `kind: () => import('./<kind>.bench.ts')`. */
const KIND_BENCHES: Record<string, () => Promise<{ default: KindBench }>> = {
  lookup: () => import('./lookup.bench.ts'),
  ...(await import('./kinds.bench.ts')).APP_KIND_BENCHES,
};

if (process.argv.includes('--help')) {
  process.stdout.write(`usage: node bench/bench.ts [--universe 1000000] [--seeds 5000] [--audience 50000] [--reuse-universe]
                          [--out out/bench] [--kinds none|${Object.keys(KIND_BENCHES).join(',')}] [--results bench/results.json]
  --universe N       media users in the generated world (a world of another size is generated again)
  --seeds N          the advertiser's seeds (the CRM is sized so that ≈ N valid, consented seeds remain)
  --audience N       the look-alike audience size
  --reuse-universe   keep the nodes' state in --out (skips preparation and publication; their figures are then not timed)
  --out DIR          the world, the nodes' state and logs
  --kinds LIST       which session kinds run after W1 (all by default), or none
  --results FILE     where the figures go
`);
  process.exit(0);
}
const p = parseArgs(process.argv.slice(2), { universe: 'string', seeds: 'string', out: 'string', 'reuse-universe': 'boolean', audience: 'string', kinds: 'string', results: 'string' });
// --kinds a,b (or none): which session kinds run after W1 (all by default); --results: where the figures go.
const kindList = strFlag(p, 'kinds', Object.keys(KIND_BENCHES).join(','));
const kindsToRun = kindList === 'none' ? [] : kindList.split(',');
for (const k of kindsToRun) if (!(k in KIND_BENCHES)) throw new RangeError(`--kinds: expected none or a comma list of ${Object.keys(KIND_BENCHES).join(', ')}, got '${k}'`);
const resultsPath = strFlag(p, 'results', 'bench/results.json');
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
// A world of other sizes or from an older generator (no labels, tags or purpose consent) is generated again.
if (staleWorld(worldDir, { seed: 'bench', universeSize: universe, crmSize })) {
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
  const ready = await cluster.nodes.media.admin.request<{ universe: { users: number; reused: boolean; preparedSeconds: number; preparedCpuSeconds: number; computed: number; epoch: string; publication: { encryptSeconds: number; encryptCpuSeconds: number; encryptThreads?: number; ciphertexts: number; reused: boolean }; labels?: { reused: boolean; seconds: number; cpuSeconds: number; labelled: Record<string, number> } } }>('GET', '/readyz');
  const brokerReady = await cluster.nodes.broker.admin.request<{ universe: { users: number; ciphertexts: number; bytesOnDisk: number; syncSeconds: number | null; syncCpuSeconds: number | null; syncThreads: number | null } }>('GET', '/readyz');
  const startupSeconds = (performance.now() - tStart) / 1000;
  // Sessions are measured on a settled node: media's background PSI position hashes (worker
  // threads, services/media/src/psi-positions.ts) would otherwise be in the process CPU of
  // whichever phases overlap them (their primitives are in no phase's floor).
  const psiPositions = await waitPsiPositions(cluster.nodes.media.admin);
  // The floors' primitive costs are measured twice, here (the offline phases just ended, the
  // nodes idle) and after the sessions, and their mean is used: this shared virtual machine's
  // speed drifts by up to 25 % within a run, and one measurement at the end put whole runs'
  // ratios 10–20 % high or low. Their spread is written beside (floorDrift) as the ratios' error bar.
  say('measuring the primitives\' costs (one thread, CPU time) for the floors, before the sessions…');
  const costsBefore = await measurePrimitiveCosts();
  say(`  media's PSI position hashes: ${psiPositions.state}${psiPositions.seconds !== undefined ? ` in ${psiPositions.seconds} s (background, worker threads)` : ''}`);
  say(`  universe: ${ready.universe.users.toLocaleString('en')} consented users, ${ready.universe.reused ? 'reused (run without --reuse-universe to time preparation)' : `prepared in ${ready.universe.preparedSeconds.toFixed(1)} s`}`);

  const a = cluster.nodes.advertiser.admin;
  const tS = performance.now();
  const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: audience, decoyRatio: 9 });
  const status = await a.waitSession(sessionId, 3_600_000);
  const sessionSeconds = (performance.now() - tS) / 1000;
  if (status.status !== 'completed') throw new Error(`session ended ${status.status}: ${status.error ?? ''}`);
  const result = await a.request<any>('GET', `/v1/sessions/${sessionId}/result`);
  const audFile = join(cluster.stateDir('media'), 'audiences', `${result.lookalike.audienceId}.txt`);
  const lift = measureLift(readFileSync(audFile, 'utf8').split('\n').filter(Boolean), readPropensity(worldDir), universe);
  const rawParties = await partyMetrics(cluster, sessionId);

  const kinds: Record<string, { seconds: number; parties: Record<Party, PartyMetrics>; figures: Record<string, unknown> }> = {};
  for (const [kind, load] of Object.entries(KIND_BENCHES).filter(([k]) => kindsToRun.includes(k))) {
    say(`session kind ${kind}…`);
    try {
      const r = await (await load()).default({ cluster, worldDir, say });
      kinds[kind] = { seconds: r.seconds, parties: await partyMetrics(cluster, r.sessionId), figures: r.figures ?? {} };
    } catch (err) {
      // One kind failing is a figure too; the other kinds and the W1 figures are still written.
      say(`  ${kind} failed: ${(err as Error).message}`);
      kinds[kind] = { seconds: Number.NaN, parties: {} as Record<Party, PartyMetrics>, figures: { error: (err as Error).message } };
    }
  }

  say('measuring the primitives\' costs (one thread, CPU time) for the floors, after the sessions…');
  const costsAfter = await measurePrimitiveCosts();
  const costs = Object.fromEntries(Object.keys(costsAfter).map((k) => [k, (costsBefore[k as keyof PrimitiveCosts] + costsAfter[k as keyof PrimitiveCosts]) / 2])) as PrimitiveCosts;
  // after ÷ before per primitive; the largest departure from 1 is the run's drift
  const driftOf = Object.fromEntries(Object.keys(costsAfter).map((k) => [k, Number((costsAfter[k as keyof PrimitiveCosts] / costsBefore[k as keyof PrimitiveCosts]).toFixed(3))]));
  const floorDrift = Math.max(...Object.values(driftOf).map((r) => Math.max(r, 1 / r))) - 1;
  const cores = cpus().length;
  const threads = Math.min(cores, Number(process.env.CLEANROOM_EVAL_THREADS ?? 2));
  const parties = withFloors(rawParties, costs);
  // Offline phases: floor = CPU of their primitives; ratio = the process CPU they took ÷ floor
  // (wall ÷ (floor / threads) as well, meaningful on an otherwise idle machine only).
  const prepFloorCpuMs = ready.universe.computed * (costs.x25519 + costs.hashToGroup);
  const prepFloorWallS = prepFloorCpuMs / threads / 1000;
  // The publication: per ciphertext, batch-encode its 128 users' slots (bfvEncode) and encrypt it (bfvEncrypt).
  const pubFloorS = (ready.universe.publication.ciphertexts * (costs.bfvEncode + costs.bfvEncrypt)) / 1000;
  // The broker's sync: per ciphertext, parse media's untrusted wire form (bfvLoad), transform it
  // into the stored NTT form (bfvNtt) and append that to its file (bfvWriteStored).
  const syncFloorS = (ready.universe.publication.ciphertexts * (costs.bfvLoad + costs.bfvNtt + costs.bfvWriteStored)) / 1000;
  // The label publication (lookup kind): no primitive of floors.ts. The OPRF point of each real
  // box's ID is the one media stored when it prepared the universe (universe-points.ts), so no
  // hash to group or X25519 is left; what remains is symmetric crypto per real box (finalize's
  // SHA-512 check, the label key's SHA-512, an XChaCha20-Poly1305 seal), random bytes per other
  // box and I/O (the CSV join, a pread per point): floor 0, ratios null (seconds and CPU stand alone).
  const labels = ready.universe.labels;
  const realBoxes = labels ? Object.values(labels.labelled).reduce((a, n) => a + n, 0) : 0;
  const sessionFloorCpuMs = Object.values(parties).reduce((s, v) => s + v.floorMs, 0);
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    workload: {
      universe, consentedUsers: ready.universe.users, seedCount: result.seeds.valid, decoyRatio: 9, paddedCount: result.matches.paddedSize,
      attributes: 64, audienceSize: audience, transport: 'gRPC + mutual TLS, loopback',
    },
    primitiveCostsMs: Object.fromEntries(Object.entries(costs).map(([k, v]) => [k, Number(v.toFixed(5))])),
    primitiveCostsMsBefore: Object.fromEntries(Object.entries(costsBefore).map(([k, v]) => [k, Number(v.toFixed(5))])),
    primitiveCostsMsAfter: Object.fromEntries(Object.entries(costsAfter).map(([k, v]) => [k, Number(v.toFixed(5))])),
    /** after ÷ before per primitive, and the largest relative departure of any: every floorRatio is uncertain by about that much. */
    primitiveCostsDrift: driftOf,
    floorDrift: Number(floorDrift.toFixed(3)),
    universePreparation: {
      seconds: ready.universe.reused ? null : Number(ready.universe.preparedSeconds.toFixed(2)), tokensComputed: ready.universe.computed,
      usersPerSecond: ready.universe.reused ? null : Math.round(ready.universe.users / ready.universe.preparedSeconds),
      cpuSeconds: ready.universe.reused ? null : ready.universe.preparedCpuSeconds,
      floorCpuSeconds: Number((prepFloorCpuMs / 1000).toFixed(2)), floorThreads: threads, floorWallSeconds: Number(prepFloorWallS.toFixed(2)),
      floorRatio: ready.universe.reused || ready.universe.computed === 0 ? null : ratio(ready.universe.preparedCpuSeconds * 1000, prepFloorCpuMs),
      wallFloorRatio: ready.universe.reused || ready.universe.computed === 0 ? null : ratio(ready.universe.preparedSeconds, prepFloorWallS),
    },
    publication: {
      encryptSeconds: ready.universe.publication.reused ? null : ready.universe.publication.encryptSeconds, ciphertexts: ready.universe.publication.ciphertexts,
      brokerUsers: brokerReady.universe.users, brokerBytesOnDisk: brokerReady.universe.bytesOnDisk, brokerBytesPerUser: Math.round(brokerReady.universe.bytesOnDisk / brokerReady.universe.users),
      brokerSyncSeconds: brokerReady.universe.syncSeconds,
      encryptCpuSeconds: ready.universe.publication.reused ? null : ready.universe.publication.encryptCpuSeconds,
      encryptFloorSeconds: Number(pubFloorS.toFixed(2)),
      encryptFloorRatio: ready.universe.publication.reused ? null : ratio(ready.universe.publication.encryptCpuSeconds, pubFloorS),
      // the threads that did the work, and wall ÷ (floor / threads): how far the wall is from
      // the floor spread evenly over them (meaningful on an otherwise idle machine only)
      encryptThreads: ready.universe.publication.reused ? null : (ready.universe.publication.encryptThreads ?? null),
      encryptWallFloorRatio: ready.universe.publication.reused || !ready.universe.publication.encryptThreads ? null : ratio(ready.universe.publication.encryptSeconds, pubFloorS / ready.universe.publication.encryptThreads),
      brokerSyncCpuSeconds: brokerReady.universe.syncCpuSeconds,
      brokerSyncFloorSeconds: Number(syncFloorS.toFixed(2)),
      brokerSyncFloorRatio: brokerReady.universe.syncCpuSeconds === null ? null : ratio(brokerReady.universe.syncCpuSeconds, syncFloorS),
      brokerSyncThreads: brokerReady.universe.syncThreads,
      brokerSyncWallFloorRatio: brokerReady.universe.syncSeconds === null || !brokerReady.universe.syncThreads ? null : ratio(brokerReady.universe.syncSeconds, syncFloorS / brokerReady.universe.syncThreads),
      labelRealBoxes: realBoxes,
      labelSeconds: !labels || labels.reused ? null : labels.seconds,
      labelCpuSeconds: !labels || labels.reused ? null : labels.cpuSeconds,
      labelFloorSeconds: 0,
      labelFloorRatio: null,
      labelWallFloorRatio: null,
    },
    worldGenerationSeconds: generated ? Number(genSeconds.toFixed(2)) : null,
    clusterStartupSeconds: Number(startupSeconds.toFixed(2)),
    session: {
      id: sessionId, seconds: Number(sessionSeconds.toFixed(2)), outcome: result.outcome,
      realMatches: result.matches.real, audienceSize: result.lookalike.audienceSize,
      quality: Number(result.lookalike.quality.toFixed(3)), lift: Number(lift.toFixed(3)),
      floorCpuMs: Math.round(sessionFloorCpuMs), floorWallSeconds: Number((sessionFloorCpuMs / cores / 1000).toFixed(2)),
    },
    parties,
    kinds: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, { ...v, parties: withFloors(v.parties, costs) }])),
  };
  mkdirSync(dirname(resolve(resultsPath)), { recursive: true });
  writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');

  const mb = (b: number) => (b / 1e6).toFixed(2);
  say('');
  const x = (r: number | null) => (r === null ? '—' : `${r.toFixed(2)}×`);
  const up = results.universePreparation;
  say(`universe preparation (media, offline, once per epoch): ${up.seconds ?? 'reused'} s wall, ${up.cpuSeconds ?? '—'} s CPU for ${ready.universe.users.toLocaleString('en')} users${up.usersPerSecond ? ` (${up.usersPerSecond.toLocaleString('en')} users/s)` : ''}; floor ${up.floorCpuSeconds} s CPU (${up.tokensComputed.toLocaleString('en')} × (X25519 + hash to group)), ratio ${x(up.floorRatio)} CPU, ${x(up.wallFloorRatio)} wall on ${threads} threads`);
  const pb = results.publication;
  say(`publication: media encrypted ${pb.ciphertexts.toLocaleString('en')} ciphertexts in ${pb.encryptSeconds ?? 'reused'} s wall, ${pb.encryptCpuSeconds ?? '—'} s CPU (floor ${pb.encryptFloorSeconds} s, ${x(pb.encryptFloorRatio)} CPU, ${x(pb.encryptWallFloorRatio)} wall on ${pb.encryptThreads ?? '—'} threads); the broker holds ${mb(pb.brokerBytesOnDisk)} MB (${pb.brokerBytesPerUser} B per user), synced in ${pb.brokerSyncSeconds ?? '—'} s wall, ${pb.brokerSyncCpuSeconds ?? '—'} s CPU (floor ${pb.brokerSyncFloorSeconds} s, ${x(pb.brokerSyncFloorRatio)} CPU, ${x(pb.brokerSyncWallFloorRatio)} wall on ${pb.brokerSyncThreads ?? '—'} threads)`);
  if (labels) say(`label publication (media, offline, once per publication): ${pb.labelSeconds ?? 'reused'} s wall, ${pb.labelCpuSeconds ?? '—'} s CPU for ${realBoxes.toLocaleString('en')} real boxes (stored OPRF points: no primitive of floors.ts, floor 0 — symmetric crypto and I/O)`);
  say(`floors: the primitives' costs measured before and after the sessions, their mean used; the largest drift between the two ${(results.floorDrift * 100).toFixed(1)} % (x25519 ×${driftOf.x25519}, bfvEncrypt ×${driftOf.bfvEncrypt}, bfvReadStored ×${driftOf.bfvReadStored}): every ratio is uncertain by about that much`);
  say(`session: ${results.session.seconds} s end to end (floor: ${results.session.floorCpuMs} ms of primitives' CPU, ${results.session.floorWallSeconds} s on ${cores} cores); n = ${result.seeds.valid} seeds, padded ${result.matches.paddedSize}, real matches ${result.matches.real}, audience ${audience}, lift ${lift.toFixed(2)}`);
  say('');
  printPhases(say, parties);
  for (const [kind, v] of Object.entries(results.kinds)) {
    say('');
    say(`kind ${kind}: ${v.seconds} s end to end ${JSON.stringify(v.figures)}`);
    printPhases(say, v.parties);
  }
  say('');
  say(`figures written to ${resultsPath}`);
} finally {
  await cluster.stop();
}

type Floored = PartyMetrics & { floorMs: number; phases: Record<string, PartyMetrics['phases'][string] & { floorMs: number; floorRatio: number | null }> };

/** Each phase's floor (ms of primitives' CPU) and floorRatio = phase CPU ÷ floor. */
function withFloors(parties: Record<Party, PartyMetrics>, costs: PrimitiveCosts): Record<Party, Floored> {
  const out = {} as Record<Party, Floored>;
  for (const [party, v] of Object.entries(parties) as [Party, PartyMetrics][]) {
    const phases: Floored['phases'] = {};
    let total = 0;
    for (const [phase, m] of Object.entries(v.phases)) {
      const f = floorMs(m.ops, costs);
      total += f;
      phases[phase] = { ...m, floorMs: Math.round(f * 10) / 10, floorRatio: phaseRatio(m.cpuMs, m.ops, costs) };
    }
    out[party] = { ...v, phases, floorMs: Math.round(total) };
  }
  return out;
}

function printPhases(say: (s: string) => void, parties: Record<Party, Floored>): void {
  const mb = (b: number) => (b / 1e6).toFixed(2);
  say('phase wall = time the session spent in that phase at that node (includes waiting for peers); cpu = the node process, all threads;');
  say('floor = CPU of the cryptographic primitives the phase ran, at the costs measured in this run; ratio = cpu ÷ floor');
  say('party       phase        wall ms   cpu ms  floor ms   ratio   sent MB');
  for (const [party, v] of Object.entries(parties)) {
    for (const [phase, p] of Object.entries(v.phases)) {
      const round = { open: 'OPEN', blind: 'BLIND', tokens: 'TOKENS', aggregate: 'AGGREGATE', lookalike: 'LOOKALIKE' }[phase];
      const sent = round ? (v.bytesSent[round] ?? 0) : 0;
      const r = p.floorRatio === null ? '      -' : `${p.floorRatio.toFixed(2)}×`.padStart(7);
      say(`${party.padEnd(11)} ${phase.padEnd(12)} ${String(p.wallMs).padStart(7)}  ${String(p.cpuMs).padStart(7)}  ${p.floorMs.toFixed(0).padStart(8)}  ${r}  ${round ? mb(sent).padStart(8) : '       -'}`);
    }
    say(`${party.padEnd(11)} ${'TOTAL'.padEnd(12)} ${String(v.wallMs).padStart(7)}  ${String(v.cpuMs).padStart(7)}  ${String(v.floorMs).padStart(8)}  ${(ratio(v.cpuMs, v.floorMs) === null ? '-' : `${ratio(v.cpuMs, v.floorMs)!.toFixed(2)}×`).padStart(7)}  ${mb(v.bytesSentTotal).padStart(8)}   peak RSS ${mb(v.peakRssBytes)} MB`);
  }
}

/** Media's readiness detail until its PSI position hashes are no longer being computed (an hour at most). */
async function waitPsiPositions(media: AdminClient): Promise<{ state: string; seconds?: number }> {
  const until = performance.now() + 3_600_000;
  for (;;) {
    const r = await media.request<{ psiPositions?: { state: string; seconds?: number } }>('GET', '/readyz');
    const p = r.psiPositions ?? { state: 'not reported' };
    if (p.state !== 'hashing') return p;
    if (performance.now() > until) throw new Error('media: the PSI position hashes were still being computed after an hour');
    await new Promise((res) => setTimeout(res, 500));
  }
}
