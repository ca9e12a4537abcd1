/**
 * The advertiser's session phases alone, against their floors: a smaller, repeatable cut of
 * `make bench` for paired before/after runs (issue 13).
 *
 * Starts the three real node processes (gRPC, mutual TLS, loopback) on a small benchmark
 * world whose prepared state is kept in `<out>/snapshot` and restored before every run (so
 * media prepares once, and the broker's ledger and differencing history start empty each
 * run: every run sees the same world). Then runs one session of each kind asked for, in the
 * order of `make bench` (W1 look-alike first, on a cold advertiser process), and prints the
 * advertiser's open / blind / tokens phases: wall, CPU of the node process, the phase's floor
 * (its counted X25519 and hash-to-group calls at the costs measured in this process, as in
 * bench/floors.ts) and the ratio. Before the sessions it also measures what the idle advertiser
 * process costs per second with nobody asking it anything, and the CPU one admin status poll
 * (`GET /v1/sessions/:id`, what `waitSession` does) costs it — both are charged to whatever
 * phase a session is in while they happen.
 *
 *   node bench/advertiser.ts [--universe 20000] [--seeds 5000] [--kinds lookalike,lookup,profile,joint-count,joint-activate,retargeting]
 *                            [--out out/bench-advertiser] [--cpu-prof <dir>]
 *
 * --cpu-prof writes the advertiser process's V8 CPU profile to <dir> when it exits.
 * Linux only (reads /proc/<pid>/stat for the idle figures). Measures; judges nothing.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { staleWorld } from '@cleanroom/shared/data/files.ts';
import { startCluster, type Cluster } from '../cli/src/cluster.ts';
import { parseArgs, intFlag, strFlag } from '../cli/src/args.ts';
import { floorMs, measureTokenCosts, ratio, type PrimitiveCosts } from './floors.ts';
import { partyMetrics, type KindBench } from './kinds.ts';
import { APP_KIND_BENCHES } from './kinds.bench.ts';

const KINDS = ['lookalike', 'lookup', 'profile', 'joint-count', 'joint-activate', 'retargeting'];
const p = parseArgs(process.argv.slice(2), { universe: 'string', seeds: 'string', out: 'string', kinds: 'string', 'cpu-prof': 'string' });
const universe = intFlag(p, 'universe', 20_000, 1000);
const seeds = intFlag(p, 'seeds', 5000, 100);
const kinds = strFlag(p, 'kinds', KINDS.join(',')).split(',');
for (const k of kinds) if (!KINDS.includes(k)) throw new RangeError(`--kinds: expected a comma list of ${KINDS.join(', ')}, got '${k}'`);
const out = resolve(strFlag(p, 'out', 'out/bench-advertiser'));
const prof = typeof p.flags['cpu-prof'] === 'string' ? resolve(p.flags['cpu-prof']) : undefined;
const worldDir = join(out, 'world');
const snapshot = join(out, 'snapshot');
const say = (s: string) => process.stdout.write(`${s}\n`);

const crmSize = Math.floor(seeds / 0.975);
if (staleWorld(worldDir, { seed: 'bench', universeSize: universe, crmSize })) {
  say(`generating the world: ${universe} media users, ${crmSize} advertiser customers…`);
  rmSync(out, { recursive: true, force: true });
  await generateWorld(worldDir, { seed: 'bench', universeSize: universe, crmSize, purchaserShare: 1, overlap: 0.6 });
}
if (!existsSync(snapshot)) {
  say('preparing the universe once (kept in the snapshot)…');
  rmSync(join(out, 'state'), { recursive: true, force: true });
  const c = await startCluster({ outDir: out, worldDir, readyTimeoutMs: 3_600_000 });
  await c.stop();
  cpSync(join(out, 'state'), snapshot, { recursive: true });
}
rmSync(join(out, 'state'), { recursive: true, force: true });
cpSync(snapshot, join(out, 'state'), { recursive: true });

const cluster = await startCluster({
  outDir: out, worldDir, readyTimeoutMs: 3_600_000,
  ...(prof ? { env: { advertiser: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${prof}` } } } : {}),
});
try {
  const a = cluster.nodes.advertiser;
  const pid = a.proc.pid ?? 0;
  // What the process costs with nobody calling it, and what one status poll costs it.
  const idleSeconds = 10;
  const c0 = procCpuMs(pid);
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const idleMsPerS = (procCpuMs(pid) - c0) / idleSeconds;
  say(`advertiser process idle: ${idleMsPerS.toFixed(2)} ms CPU per s`);

  const rows: { kind: string; phase: string; wallMs: number; cpuMs: number; mainMs: number; ops: Record<string, number> }[] = [];
  for (const kind of kinds) {
    const sessionId = await runKind(kind, cluster);
    if (kind === kinds[0]) {
      const polls = 100;
      const c1 = procCpuMs(pid);
      for (let i = 0; i < polls; i++) await a.admin.request('GET', `/v1/sessions/${sessionId}`);
      say(`one admin status poll (GET /v1/sessions/:id, as waitSession): ${((procCpuMs(pid) - c1) / polls).toFixed(2)} ms CPU of the advertiser (${polls} polls)`);
    }
    const m = (await partyMetrics(cluster, sessionId)).advertiser;
    for (const [phase, ph] of Object.entries(m.phases)) {
      if (phase !== 'new' && phase !== 'done') rows.push({ kind, phase, wallMs: ph.wallMs, cpuMs: ph.cpuMs, mainMs: ph.mainThreadCpuMs ?? NaN, ops: ph.ops as Record<string, number> });
    }
  }
  const costs = { ...measureTokenCosts() } as PrimitiveCosts;
  say(`primitive costs (this process, one thread): x25519 ${costs.x25519.toFixed(4)} ms, hashToGroup ${costs.hashToGroup.toFixed(4)} ms`);
  say('kind            phase    wall ms   cpu ms  main ms  floor ms   ratio');
  for (const r of rows) {
    // the token primitives only (measureTokenCosts): a signature's floor (0.03–0.07 ms) is left out
    const f = floorMs(Object.fromEntries(Object.entries(r.ops).filter(([k]) => k in costs)), costs);
    const x = ratio(r.cpuMs, f);
    say(`${r.kind.padEnd(15)} ${r.phase.padEnd(7)} ${String(Math.round(r.wallMs)).padStart(8)} ${String(Math.round(r.cpuMs)).padStart(8)} ${String(Math.round(r.mainMs)).padStart(8)} ${f.toFixed(1).padStart(9)} ${x === null ? '      -' : `${x.toFixed(2)}×`.padStart(7)}`);
  }
} finally {
  await cluster.stop();
}

async function runKind(kind: string, c: Cluster): Promise<string> {
  const ctx = { cluster: c, worldDir, say };
  let bench: KindBench;
  if (kind === 'lookalike') {
    bench = async () => {
      const { sessionId } = await c.nodes.advertiser.admin.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: Math.min(2000, Math.floor(universe / 10)), decoyRatio: 9 });
      const s = await c.nodes.advertiser.admin.waitSession(sessionId, 3_600_000);
      if (s.status !== 'completed') throw new Error(`lookalike ended ${s.status}: ${s.error ?? ''}`);
      return { sessionId, seconds: 0 };
    };
  } else if (kind === 'lookup') {
    bench = (await import('./lookup.bench.ts')).default;
  } else {
    bench = (await APP_KIND_BENCHES[kind]!()).default;
  }
  return (await bench(ctx)).sessionId;
}

/** User + system CPU of a process, ms (Linux /proc; clock ticks of 10 ms). */
function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) * 10;
}
