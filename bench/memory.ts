/**
 * Peak memory per node for one universe size — the measurements behind the Kubernetes
 * sizing table (docs/operations.md, "Sizing"). Generates a world (universe N, CRM N/10),
 * starts the three nodes as processes (mTLS on loopback), runs one look-alike session and
 * prints, as JSON, each node's peak RSS (its session view's `peakRssBytes`, process maxRSS:
 * universe preparation included for media), the size of each node's state directory
 * (media's prepared universe and publication, the broker's copy of the publication) and the
 * universe preparation time, and each node's memory at its start-up stages (the 'memory' lines
 * it logs: universe, publication, labels, psi-positions for media; sync-tokens,
 * sync-ciphertexts, sync-finish for the broker — RSS, peak RSS, JS heap, ArrayBuffers and
 * SEAL WebAssembly heap, MiB). It also samples /proc/<pid>/status of media and broker every
 * 200 ms and prints each one's peak anonymous resident memory (`peakAnonMiB`: what the process
 * holds — heaps, malloc, stacks) beside its peak file-backed resident pages (`peakFileMiB`:
 * mapped state files and the binary, clean page cache the kernel reclaims): sizing is set by
 * the anonymous peak plus a bounded window of mapped pages, not by maxRSS alone. `session`
 * gives, per node, the resident memory sampled just before the session and the peaks during it
 * (`addedAnonMiB`: what the session itself added on top of what the node held), and the CPU
 * seconds (user + system, all threads: /proc/<pid>/stat) each node spent during the session
 * (`cpuSeconds`) — for paired before/after runs on a loaded machine, where wall time is not a figure.
 *
 * `--kind retargeting` runs a retargeting session instead (a PSI kind: the broker evaluates
 * media's whole consented set, ≈ 0.87 × N elements — the session whose memory follows N).
 *
 * `--crm N` fixes the CRM at N rows whatever the universe (default N/10): the look-alike
 * session's padded size is the size bucket of 10 × its consented seeds, so a fixed CRM measures
 * the universe's memory at a fixed session, and a fixed universe with growing CRMs measures the
 * session's memory as a function of its padded size (printed as `paddedCount`).
 *
 *   node bench/memory.ts --universe 200000 [--crm 20000] [--kind lookalike|retargeting] [--out out/memory]
 */
import { PARTIES } from '../shared/src/common/names.ts';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { startCluster } from '../cli/src/cluster.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';
import { residentSplit } from '../shared/src/service/memory.ts';

/** Bytes of every file under `dir` (0 when it does not exist: the advertiser keeps no state). */
function du(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? du(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return n;
}

/** The 'memory' lines a node logged in this run (service/memory.ts), by stage. */
function stagesOf(logFile: string, from: number): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const line of readFileSync(logFile).subarray(from).toString('utf8').split('\n')) {
    if (!line.includes('"msg":"memory"')) continue;
    const l = JSON.parse(line) as { stage: string; memory: Record<string, number> };
    out[l.stage] = l.memory;
  }
  return out;
}

const p = parseArgs(process.argv.slice(2), { universe: 'string', crm: 'string', out: 'string', kind: 'string' });
const universe = intFlag(p, 'universe', 200_000, 1000, 100_000_000);
/** CRM rows: N/10 unless --crm fixes it (the session's padded size follows the CRM's consented seeds, not the universe). */
const crm = intFlag(p, 'crm', Math.max(1000, Math.round(universe / 10)), 1000, 10_000_000);
const crmFixed = p.flags.crm !== undefined;
const kind = strFlag(p, 'kind', 'lookalike');
/** The session bodies this bench runs (the retargeting predicate is bench/kinds.bench.ts's). */
const SESSION_BODY: Record<string, object> = {
  lookalike: { audienceSize: Math.min(20_000, Math.round(universe / 20)) },
  retargeting: { kind: 'retargeting', predicate: { tag: 'cart_abandoned', eq: true } },
};
const body = SESSION_BODY[kind];
if (!body) throw new RangeError(`expected --kind ${Object.keys(SESSION_BODY).join(' or ')}, got '${kind}'`);
const out = resolve(strFlag(p, 'out', `out/memory-${universe}${crmFixed ? `-crm${crm}` : ''}${kind === 'lookalike' ? '' : `-${kind}`}`));
await generateWorld(join(out, 'world'), { seed: 'memory', universeSize: universe, crmSize: crm });
/** Peak anonymous, file-backed and total resident bytes per node, sampled from /proc (Linux). */
const sampled = { media: { anon: 0, file: 0, rss: 0 }, broker: { anon: 0, file: 0, rss: 0 } };
/** This process's child running `services/<party>/src/main.ts` (the cluster's nodes are spawned children; sampled from before they are ready). */
function childPid(party: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`services/${party}/src/main.ts`)) return Number(d);
    } catch { /* gone */ }
  }
  return undefined;
}
/** From the session's start: each node's resident memory just before it and its peaks during it (the session's own increment). */
const inSession = { media: { anonBefore: 0, rssBefore: 0, anon: 0, rss: 0 }, broker: { anonBefore: 0, rssBefore: 0, anon: 0, rss: 0 } };
let sessionRunning = false;
const pids: Record<string, number | undefined> = {};
const sample = (): void => {
  for (const party of ['media', 'broker'] as const) {
    pids[party] ??= childPid(party);
    const pid = pids[party];
    const r = pid === undefined ? undefined : residentSplit(pid);
    if (!r) continue;
    const m = sampled[party];
    m.anon = Math.max(m.anon, r.anon); m.file = Math.max(m.file, r.file); m.rss = Math.max(m.rss, r.rss);
    if (sessionRunning) {
      const q = inSession[party];
      q.anon = Math.max(q.anon, r.anon); q.rss = Math.max(q.rss, r.rss);
    }
  }
};
/** CPU seconds (user + system, all threads) of process `pid` so far, from /proc/<pid>/stat. */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return 0;
  }
}
const cpuAtStart: Record<string, number> = {};
/** Starts the session's sampling: the current resident memory is the 'before'. */
const sessionStarts = (): void => {
  for (const party of ['media', 'broker'] as const) {
    cpuAtStart[party] = cpuSecondsOf(pids[party]);
    const pid = pids[party];
    const r = pid === undefined ? undefined : residentSplit(pid);
    if (r) inSession[party] = { anonBefore: r.anon, rssBefore: r.rss, anon: r.anon, rss: r.rss };
  }
  sessionRunning = true;
};
const sampler = existsSync('/proc/self/status') ? setInterval(sample, 200) : undefined;
const c = await startCluster({ outDir: out, worldDir: join(out, 'world'), readyTimeoutMs: 4 * 3_600_000 }); // a loaded machine: preparing, publishing and syncing take long
try {
  const ready = await c.nodes.media.admin.request<{ universe: { users: number; preparedSeconds: number } }>('GET', '/readyz');
  const a = c.nodes.advertiser.admin;
  sample();
  sessionStarts();
  // a large CRM's seeds are read and normalised before the node answers: allow for a loaded machine
  const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', body, 30 * 60_000);
  const s = await a.waitSession(sessionId, 30 * 60_000);
  const peak: Record<string, number> = {};
  let progress: Record<string, number> = {};
  for (const party of PARTIES) {
    const v = await c.nodes[party].admin.request<{ metrics: { peakRssBytes: number }; progress?: Record<string, number> }>('GET', `/v1/sessions/${sessionId}`);
    peak[party] = Math.round(v.metrics.peakRssBytes / 2 ** 20);
    if (party === 'broker') progress = v.progress ?? {};
  }
  sample();
  sessionRunning = false;
  const mib = (b: number): number => Math.round(b / 2 ** 20);
  const session = Object.fromEntries((['media', 'broker'] as const).map((party) => {
    const q = inSession[party];
    return [party, { rssBeforeMiB: mib(q.rssBefore), peakRssMiB: mib(q.rss), anonBeforeMiB: mib(q.anonBefore), peakAnonMiB: mib(q.anon), addedAnonMiB: mib(q.anon - q.anonBefore), cpuSeconds: Math.round((cpuSecondsOf(pids[party]) - (cpuAtStart[party] ?? 0)) * 100) / 100 }];
  }));
  const resident = Object.fromEntries((['media', 'broker'] as const).map((party) => [party, { peakAnonMiB: mib(sampled[party].anon), peakFileMiB: mib(sampled[party].file), peakSampledRssMiB: mib(sampled[party].rss) }]));
  const stateMiB = Object.fromEntries(PARTIES.map((party) => [party, Math.round(du(c.stateDir(party)) / 2 ** 20)]));
  const stages = { media: stagesOf(c.nodes.media.logFile, c.nodes.media.logStart), broker: stagesOf(c.nodes.broker.logFile, c.nodes.broker.logStart) };
  process.stdout.write(`${JSON.stringify({ universe, crm, seedCount: progress.seedCount, paddedCount: progress.paddedCount, kind, consentedUsers: ready.universe.users, preparedSeconds: ready.universe.preparedSeconds, status: s.status, peakRssMiB: peak, resident, session, stateMiB, stages }, null, 2)}\n`);
} finally {
  clearInterval(sampler);
  await c.stop();
}
