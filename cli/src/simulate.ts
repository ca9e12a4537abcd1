/**
 * `cleanroom simulate`: generate a world (unless present), start the three nodes as
 * separate processes talking gRPC over mutual TLS on loopback, run one look-alike session
 * through the advertiser's admin API, measure the look-alike lift against the planted
 * ground truth (which only the simulator reads), print a summary, write result.json.
 * Exit codes: 0 completed, 3 no look-alike, 1 failed, 2 a node refused its configuration
 * (its own message and log lines of this run are printed).
 */
import { PARTIES } from '@cleanroom/shared/common/names.ts';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { readPropensity, readTruth, staleWorld } from '@cleanroom/shared/data/files.ts';
import { measureLift } from '@cleanroom/shared/data/lift.ts';
import { NodeExitedError, startCluster, type Cluster } from './cluster.ts';
import type { SessionKind } from '@cleanroom/shared/common/names.ts';
import { demoRequest, summaryLine } from './kinds.ts';
import { writeLookupCsv } from './lookup.ts';

export interface SimulateOptions {
  out: string;
  seed: string;
  universe: number;
  crm: number;
  audience: number;
  decoyRatio: number;
  minCohort: number;
  /** Overrides the ε-derived noise scale (0 = no noise: development only). */
  noiseScale: number | undefined;
  epsilon: number | undefined;
  plaintext: boolean;
  /** Keep the nodes' state databases (privacy ledger, released cohorts, quotas) from earlier runs. */
  keepLedger: boolean;
  /** Print only the result document (JSON) on stdout: for scripts. */
  json?: boolean;
  /**
   * The session kinds to run, in order (default: the look-alike alone). The look-alike gets the
   * full summary; every other kind one line (cli/src/kinds.ts), its result in result-<kind>.json.
   */
  kinds?: SessionKind[];
}

export async function simulate(o: SimulateOptions): Promise<number> {
  const out = resolve(o.out);
  const worldDir = join(out, 'world');
  mkdirSync(out, { recursive: true });
  // The summary goes to stdout (the result JSON instead with --json); progress goes to stderr,
  // and only on a terminal: quiet in pipes and CI logs.
  const say = (s: string) => {
    if (!o.json) process.stdout.write(`${s}\n`);
  };
  const progress = (s: string) => {
    if (!o.json && process.stderr.isTTY) process.stderr.write(`${s}\n`);
  };
  const t0 = performance.now();
  const stale = staleWorld(worldDir, { seed: o.seed, universeSize: o.universe, crmSize: o.crm });
  if (stale) {
    if (stale !== 'no world there yet') progress(`the world in ${relative(process.cwd(), worldDir)} is not reused: ${stale}`);
    progress(`generating a world: ${o.universe.toLocaleString('en')} media users, ${o.crm.toLocaleString('en')} advertiser customers (seed '${o.seed}')`);
    const g = await generateWorld(worldDir, { seed: o.seed, universeSize: o.universe, crmSize: o.crm });
    progress(`  ${g.purchasers} purchasers (${g.purchasersInMedia} of them media users), ${g.malformed} malformed and ${g.duplicates} duplicate CRM rows, in ${g.seconds.toFixed(1)} s`);
  } else {
    progress(`reusing the world in ${relative(process.cwd(), worldDir)}`);
  }
  if (!o.keepLedger) {
    // A simulation starts with a fresh privacy ledger: a second run of the same cohort would
    // otherwise be refused by the differencing rule and charged against the same budget.
    let removed = 0;
    for (const party of PARTIES) {
      const dir = join(out, 'state', party);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) if (f.startsWith('cleanroom.db')) (rmSync(join(dir, f)), removed++);
    }
    // The transcripts of earlier runs carry charges against the ledger just reset: an auditor
    // adding them up would (rightly) flag the reset. A fresh run keeps only its own.
    const tx = join(out, 'transcripts');
    if (existsSync(tx)) rmSync(tx, { recursive: true, force: true });
    if (removed > 0) progress('  fresh privacy ledger and transcripts for this run (the nodes\' state databases were reset; --keep-ledger keeps both)');
  }
  progress(`starting advertiser, media and broker as three processes (gRPC over ${o.plaintext ? 'PLAINTEXT (dev)' : 'mutual TLS'} on loopback)…`);
  const brokerEnv: Record<string, string> = { CLEANROOM_MIN_COHORT: String(o.minCohort) };
  if (o.noiseScale !== undefined) brokerEnv.CLEANROOM_NOISE_SCALE = String(o.noiseScale);
  if (o.epsilon !== undefined) brokerEnv.CLEANROOM_EPSILON = String(o.epsilon);
  let cluster;
  try {
    cluster = await startCluster({ outDir: out, worldDir, devPlaintext: o.plaintext, env: { broker: brokerEnv } });
  } catch (err) {
    // A node that refuses its configuration exits 2; so does simulate, with the node's words.
    if (err instanceof NodeExitedError) {
      process.stderr.write(`cleanroom simulate: ${err.message}\n`);
      return err.code === 2 ? 2 : 1;
    }
    throw err;
  }
  try {
    const ready = await cluster.nodes.media.admin.request<{ universe: { users: number; reused: boolean; preparedSeconds: number; epoch: string } }>('GET', '/readyz');
    progress(`  media universe: ${ready.universe.users.toLocaleString('en')} consented users, epoch ${ready.universe.epoch}, ${ready.universe.reused ? 'reused from disk' : `prepared in ${ready.universe.preparedSeconds.toFixed(1)} s`}`);
    const kinds = o.kinds ?? ['lookalike'];
    let code = 0;
    if (kinds.includes('lookalike')) code = await lookalike(cluster, o, worldDir, out, t0, say, progress);
    const others = kinds.filter((k) => k !== 'lookalike');
    if (others.length > 0) {
      say('');
      say('other session kinds (noise as configured; docs/protocol.md has one section per kind)');
    }
    let count: { sessionId: string; code: number } | undefined;
    for (const kind of others) {
      // An activation confirms a completed count: run the count first if it did not run.
      if (kind === 'joint-activate') count ??= await runKind(cluster, 'joint-count', o, undefined, out, say, progress);
      if (kind === 'joint-activate' && count?.code !== 0) {
        say(`${kind.padEnd(18)} not run: the joint-count it would confirm did not complete`);
        if (code === 0) code = 3;
        continue;
      }
      const r = await runKind(cluster, kind, o, count?.sessionId, out, say, progress);
      if (kind === 'joint-count') count = r;
      if (r.code !== 0 && code === 0) code = r.code;
    }
    return code;
  } finally {
    await cluster.stop();
  }
}

/** Runs one session of `kind` through the admin API and prints its one-line summary. */
async function runKind(cluster: Cluster, kind: SessionKind, o: SimulateOptions, countSession: string | undefined, out: string, say: (s: string) => void, progress: (s: string) => void): Promise<{ sessionId: string; code: number }> {
  const a = cluster.nodes.advertiser.admin;
  const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', demoRequest(kind, { ...o, ...(countSession ? { countSession } : {}) }));
  progress(`${kind} session ${sessionId}`);
  const ts = performance.now();
  const status = await a.waitSession(sessionId, 30 * 60_000, (s) => progress(`  phase ${s.phase}`));
  const seconds = ((performance.now() - ts) / 1000).toFixed(2);
  if (status.status === 'failed') {
    say(`${kind.padEnd(18)} FAILED: ${status.error}`);
    writeFileSync(join(out, `result-${kind}.json`), JSON.stringify({ sessionId, kind, outcome: 'FAILED', error: status.error }, null, 2) + '\n');
    return { sessionId, code: 1 };
  }
  const result = await a.request<Record<string, any>>('GET', `/v1/sessions/${sessionId}/result`);
  writeFileSync(join(out, `result-${kind}.json`), JSON.stringify({ ...result, seconds: Number(seconds) }, null, 2) + '\n');
  if (kind === 'lookup') result.csv = await writeLookupCsv(a, sessionId, join(out, 'lookup.csv'));
  if (o.json) process.stdout.write(`${JSON.stringify({ ...result, seconds: Number(seconds) }, null, 2)}\n`);
  say(`${kind.padEnd(18)} ${summaryLine(kind, result)} — ${seconds} s, ε ${result.privacy?.epsilonCharged ?? 0} charged`);
  return { sessionId, code: result.outcome === 'COMPLETED' ? 0 : 3 };
}

/** The look-alike session with its full summary (the default `simulate`). */
async function lookalike(cluster: Cluster, o: SimulateOptions, worldDir: string, out: string, t0: number, say: (s: string) => void, progress: (s: string) => void): Promise<number> {
  const a = cluster.nodes.advertiser.admin;
  const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', {
    idType: 'phone', audienceSize: o.audience, decoyRatio: o.decoyRatio, minCohort: o.minCohort,
  });
  progress(`session ${sessionId}`);
  const ts = performance.now();
  const status = await a.waitSession(sessionId, 30 * 60_000, (s) => progress(`  phase ${s.phase}`));
  const seconds = (performance.now() - ts) / 1000;
  if (status.status === 'failed') {
    process.stderr.write(`session FAILED: ${status.error}\n`);
    if (o.json) process.stdout.write(`${JSON.stringify({ sessionId, outcome: 'FAILED', error: status.error }, null, 2)}\n`);
    writeFileSync(join(out, 'result.json'), JSON.stringify({ sessionId, outcome: 'FAILED', error: status.error }, null, 2));
    return 1;
  }
  const result = await a.request<Record<string, any>>('GET', `/v1/sessions/${sessionId}/result`);
  let lift: number | null = null;
  if (result.lookalike) {
    const audFile = join(cluster.stateDir('media'), 'audiences', `${result.lookalike.audienceId}.txt`);
    const ids = readFileSync(audFile, 'utf8').split('\n').filter(Boolean);
    lift = measureLift(ids, readPropensity(worldDir), readTruth(worldDir).universeSize);
  }
  const doc = {
    sessionId,
    outcome: result.outcome,
    seconds: Number(seconds.toFixed(2)),
    seeds: result.seeds,
    matches: result.matches,
    policy: result.policy,
    privacy: result.privacy,
    lookalike: result.lookalike ? { ...result.lookalike, lift: Number(lift!.toFixed(3)) } : null,
    cohortSize: result.cohortSize,
    insight: result.insight,
    transcripts: join(cluster.transcriptDir, sessionId),
    logs: join(out, 'logs'),
  };
  writeFileSync(join(out, 'result.json'), JSON.stringify(doc, null, 2) + '\n');
  if (o.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  say('');
  say(`outcome            ${doc.outcome} in ${doc.seconds} s (whole run ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  say(`seeds              ${result.seeds.valid} valid of ${result.seeds.rows} rows (${result.seeds.rejected} rejected, ${result.seeds.duplicates} duplicates, ${result.seeds.notConsented} without consent; ${result.seeds.csvRejected ?? 0} CRM lines rejected by the CSV reader)`);
  const pol = result.policy as { asked: { decoyRatio: number; minCohort: number }; effective: { decoyRatio: number; minCohort: number }; raised: string[] } | null;
  if (pol) {
    const note = (k: 'decoyRatio' | 'minCohort') => (pol.raised.includes(k) ? ` (asked ${pol.asked[k]}, raised by the broker's policy)` : '');
    say(`policy             decoy ratio ${pol.effective.decoyRatio}${note('decoyRatio')}, minimum cohort ${pol.effective.minCohort}${note('minCohort')}`);
  }
  if (result.matches) {
    say(`padded set         ${result.matches.paddedSize}`);
    say(`matches            ${result.matches.real} real (noised); media received no list of users`);
  }
  if (result.privacy) {
    say(`privacy budget     ε ${result.privacy.epsilonCharged} charged; ${result.privacy.epsilonSpent} of ${result.privacy.budget} spent, ${result.privacy.epsilonRemaining} left`);
  }
  if (doc.lookalike) {
    say(`look-alike         ${doc.lookalike.audienceId}: ${doc.lookalike.audienceSize} users, quality ${doc.lookalike.quality.toFixed(2)}, lift on the planted propensity ${doc.lookalike.lift.toFixed(2)}`);
    const top = [...result.insight].sort((x: any, y: any) => y.share / Math.max(1e-9, y.universeShare) - x.share / Math.max(1e-9, x.universeShare)).slice(0, 5);
    say(`cohort insight     ${top.map((t: any) => `${t.name} ${(100 * t.share).toFixed(0)}% (vs ${(100 * t.universeShare).toFixed(0)}%)`).join(', ')}`);
  } else {
    say(`look-alike         none: ${result.reason}`);
  }
  say(`transcripts        ${relative(process.cwd(), doc.transcripts)}`);
  say(`result             ${relative(process.cwd(), join(out, 'result.json'))}`);
  return doc.outcome === 'COMPLETED' ? 0 : 3;
}
