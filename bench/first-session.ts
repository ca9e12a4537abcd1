/**
 * The bench's first session (W1) against later ones, for paired before/after runs (issue 13):
 * the advertiser's blind and tokens and the broker's open, which cost more in W1 than the same
 * work in later session kinds of one `make bench`.
 *
 * As in `make bench`, the broker syncs media's publication afresh just before W1 (its state
 * starts empty each run) and every node process is fresh; media's prepared state is made once
 * and kept in `<world>/../snapshot-media` (restored before every run), so each run costs a
 * sync, not a preparation. Then W1 (look-alike, audience 50,000) and the kinds asked for, each
 * followed by the token primitives' costs measured in this process right then (bench/floors.ts
 * measureTokenCosts: on a shared machine they drift, so each session gets its own). Prints per
 * session the phases' process CPU, their main-thread CPU (the rest is V8's background GC and
 * compiler threads) and CPU ÷ floor. Two checkouts run alternately on one world give the paired
 * figures (`--world` shared, `--root` per checkout).
 *
 *   node bench/first-session.ts [--universe 200000] [--seeds 5000] [--kinds lookup,profile]
 *                               [--world out/first-session/world] [--root out/first-session/run]
 *
 * Measures; judges nothing.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { staleWorld } from '@cleanroom/shared/data/files.ts';
import { startCluster } from '../cli/src/cluster.ts';
import { parseArgs, intFlag, strFlag } from '../cli/src/args.ts';
import { partyMetrics, type KindBench } from './kinds.ts';
import { APP_KIND_BENCHES } from './kinds.bench.ts';
import { measureTokenCosts } from './floors.ts';

const p = parseArgs(process.argv.slice(2), { universe: 'string', seeds: 'string', root: 'string', kinds: 'string', world: 'string' });
const universe = intFlag(p, 'universe', 200_000, 1000);
const seeds = intFlag(p, 'seeds', 5000, 100);
const worldDir = resolve(strFlag(p, 'world', 'out/first-session/world'));
const root = resolve(strFlag(p, 'root', 'out/first-session/run'));
const kinds = strFlag(p, 'kinds', 'lookup,profile').split(',').filter(Boolean);
for (const k of kinds) if (k !== 'lookup' && !(k in APP_KIND_BENCHES)) throw new RangeError(`--kinds: expected a comma list of lookup, ${Object.keys(APP_KIND_BENCHES).join(', ')}, got '${k}'`);
const snapshot = join(worldDir, '..', 'snapshot-media');
const pkiDir = join(worldDir, '..', 'pki');
const say = (s: string) => process.stdout.write(`${s}\n`);

const crmSize = Math.floor(seeds / 0.975);
if (staleWorld(worldDir, { seed: 'bench', universeSize: universe, crmSize })) {
  say(`generating the world: ${universe} media users, ${crmSize} advertiser customers…`);
  rmSync(worldDir, { recursive: true, force: true });
  rmSync(snapshot, { recursive: true, force: true });
  await generateWorld(worldDir, { seed: 'bench', universeSize: universe, crmSize, purchaserShare: 1, overlap: 0.6 });
}
if (!existsSync(snapshot)) {
  say('preparing media\'s universe once (kept in the snapshot)…');
  const tmp = join(worldDir, '..', 'prep');
  rmSync(tmp, { recursive: true, force: true });
  const c = await startCluster({ outDir: tmp, worldDir, pkiDir, readyTimeoutMs: 3_600_000 });
  await c.stop();
  cpSync(join(tmp, 'state', 'media'), snapshot, { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
}
rmSync(join(root, 'state'), { recursive: true, force: true });
rmSync(join(root, 'transcripts'), { recursive: true, force: true });
cpSync(snapshot, join(root, 'state', 'media'), { recursive: true });

const cluster = await startCluster({ outDir: root, worldDir, pkiDir, readyTimeoutMs: 3_600_000 });
try {
  say('session   phase        cpu ms  main-thread ms  floor ms   ratio');
  const a = cluster.nodes.advertiser.admin;
  const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', { audienceSize: Math.min(50_000, Math.floor(universe / 4)), decoyRatio: 9 });
  const st = await a.waitSession(sessionId, 3_600_000);
  if (st.status !== 'completed') throw new Error(`W1 ended ${st.status}: ${st.error ?? ''}`);
  await show('W1', sessionId);
  for (const kind of kinds) {
    const bench: KindBench = kind === 'lookup' ? (await import('./lookup.bench.ts')).default : (await APP_KIND_BENCHES[kind]!()).default;
    await show(kind, (await bench({ cluster, worldDir, say: () => {} })).sessionId);
  }
} finally {
  await cluster.stop();
}

/** One session's advertiser blind / tokens and broker open against floors priced right now. */
async function show(label: string, id: string): Promise<void> {
  const m = await partyMetrics(cluster, id);
  const c = measureTokenCosts();
  for (const [party, phase] of [['advertiser', 'blind'], ['advertiser', 'tokens'], ['broker', 'open']] as const) {
    const ph = m[party].phases[phase];
    if (!ph) continue;
    const ops = ph.ops as Record<string, number>;
    const floor = (ops.x25519 ?? 0) * c.x25519 + (ops.x25519Base ?? 0) * c.x25519Base + (ops.hashToGroup ?? 0) * c.hashToGroup;
    const name = `${party === 'advertiser' ? 'A' : 'B'}.${phase}`;
    say(`${label.padEnd(9)} ${name.padEnd(10)} ${String(ph.cpuMs).padStart(8)}  ${String(ph.mainThreadCpuMs ?? '—').padStart(14)}  ${floor.toFixed(0).padStart(8)}  ${floor > 0 ? `${(ph.cpuMs / floor).toFixed(2)}×`.padStart(6) : '     -'}`);
  }
}
