/**
 * Media's PSI position-hash warm-up (services/media/src/psi-positions.ts) on one prepared
 * world: starts the three nodes on an --out directory that `node bench/bench.ts --out DIR`
 * prepared (media reuses its universe and publication), then `--runs` times removes media's
 * psi-positions.bin and (re)starts media, which warms it again after start-up. Prints, per
 * run, from media's 'publication positions hashed for PSI' log line: the warm-up's wall
 * seconds and the event loop's worst delay while it ran (`eventLoopDelayMaxMs`: perf_hooks
 * monitorEventLoopDelay in media); measured here: media's slowest /healthz answer meanwhile
 * (polled every 200 ms: the symptom an orchestrator sees), and media's process CPU from
 * ready to the line (user + system, all threads: /proc/<pid>/stat) per slot hashed or drawn.
 *
 *   node bench/psi-warm.ts --out out/bench [--runs 2] [--media-root DIR]
 *
 * --media-root runs media from another checkout (its services/media/src/main.ts; it must log
 * the same line), for paired runs of two versions of the code on the same world and machine.
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startCluster, type Cluster } from '../cli/src/cluster.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';

const p = parseArgs(process.argv.slice(2), { out: 'string', runs: 'string', 'media-root': 'string' });
const out = resolve(strFlag(p, 'out', 'out/bench'));
const runs = intFlag(p, 'runs', 2, 1);
const mediaRoot = strFlag(p, 'media-root', '');
if (!existsSync(join(out, 'state', 'media'))) throw new RangeError(`expected a world prepared by 'node bench/bench.ts --out ${out}', found no ${join(out, 'state', 'media')}`);

const pubs = join(out, 'state', 'media', 'publication');

/** The publication directories (by version). */
function versions(): string[] {
  return existsSync(pubs) ? readdirSync(pubs, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
}

/** Removes every publication's psi-positions.bin (and any file written aside), so media warms again. */
function removeHashes(): void {
  for (const v of versions()) {
    for (const f of readdirSync(join(pubs, v))) if (f.startsWith('psi-positions.bin')) rmSync(join(pubs, v, f), { force: true });
  }
}

/** Slots in the position-hash files written (32 bytes each). */
function slotsWritten(): number {
  let n = 0;
  for (const v of versions()) if (existsSync(join(pubs, v, 'psi-positions.bin'))) n += statSync(join(pubs, v, 'psi-positions.bin')).size / 32;
  return n;
}

/** CPU seconds (user + system, all threads) of process `pid` so far. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime: clock ticks (USER_HZ = 100)
}

/** Polls media's /healthz every 200 ms until `done`; the slowest answer in ms. */
async function slowestHealthz(port: number, done: () => boolean): Promise<number> {
  let worst = 0;
  while (!done()) {
    const t = performance.now();
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(60_000) });
    } catch {
      // a timeout counts as its 60 s
    }
    worst = Math.max(worst, performance.now() - t);
    await new Promise((r) => setTimeout(r, 200));
  }
  return worst;
}

/** Waits for media's warm-up line in this run's log; its fields. */
async function warmLine(c: Cluster): Promise<Record<string, number>> {
  const n = c.nodes.media;
  for (;;) {
    const log = readFileSync(n.logFile).subarray(n.logStart).toString('utf8');
    const line = log.split('\n').find((l) => l.includes('publication positions hashed for PSI'));
    if (line) return JSON.parse(line) as Record<string, number>;
    if (log.includes('hashing the publication positions failed')) throw new Error(`media's warm-up failed (see ${n.logFile})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

removeHashes();
const worldDir = join(out, 'world');
const cluster = await startCluster({ outDir: out, worldDir, readyTimeoutMs: 3_600_000, ...(mediaRoot ? { roots: { media: resolve(mediaRoot) } } : {}) });
try {
  for (let r = 0; r < runs; r++) {
    if (r > 0) await cluster.restart('media', removeHashes);
    const media = cluster.nodes.media;
    const cpu0 = cpuSeconds(media.proc.pid!);
    let finished = false;
    const healthz = slowestHealthz(media.adminPort, () => finished);
    const line = await warmLine(cluster);
    const cpu = cpuSeconds(media.proc.pid!) - cpu0;
    finished = true;
    const slots = slotsWritten();
    process.stdout.write(`${JSON.stringify({
      run: r + 1, media: mediaRoot || 'this checkout', seconds: line.seconds, eventLoopDelayMaxMs: line.eventLoopDelayMaxMs,
      healthzSlowestMs: Math.round(await healthz), mediaCpuSeconds: Math.round(cpu * 10) / 10,
      slots, threads: line.threads, nice: line.nice, cpuMicrosPerSlot: Math.round((cpu * 1e6) / slots),
      loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    })}\n`);
  }
} finally {
  await cluster.stop();
}
