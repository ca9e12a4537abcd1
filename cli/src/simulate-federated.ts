/**
 * `cleanroom simulate --kind federated`: generates the federated world (one private dataset and
 * held-out test set per advertiser, data/federated.ts), gives every advertiser its own identity
 * (an Ed25519 transcript key and a TLS certificate from the advertiser CA, pinned in the
 * federation roster), starts the broker and N advertiser processes talking gRPC over mutual TLS
 * on loopback, declares a federated session at the broker and has every advertiser join it.
 * Prints the loss of each round as the broker aggregates it, then each advertiser's test metrics
 * (federated model vs a model on its own rows alone) and, as a reference only the simulator can
 * compute, a model trained on the pooled rows. Writes model.json and result.json, and audits
 * every link's transcripts with the roster's keys.
 * Exit codes: 0 completed, 1 failed, 2 a node refused its configuration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { issueNodeCert } from '@cleanroom/shared/pki/pki.ts';
import { loadTrustBundle, saveSigningKey } from '@cleanroom/shared/pki/key-files.ts';
import { freePort } from '@cleanroom/shared/common/free-port.ts';
import { SigningKey } from '@cleanroom/shared/crypto/dsse.ts';
import { FEDERATED_FEATURES, generateFederatedWorld, poolDatasets, writeFederatedWorld } from '@cleanroom/shared/data/federated.ts';
import { evaluate, train, zeroModel } from '@cleanroom/shared/protocol/fedavg.ts';
import { linkTrust } from '@cleanroom/shared/rpc/federated-link.ts';
import { writeRoster } from '@cleanroom/shared/service/federation.ts';
import { verifyPaths } from '@cleanroom/shared/transcript/verify.ts';
import { readTranscript } from '@cleanroom/shared/transcript/writer.ts';
import { AdminClient, AdminError } from './admin-client.ts';
import { ensurePki, ROOT } from './cluster.ts';
import { UsageError } from './args.ts';

export interface FederatedSimulateOptions {
  out: string;
  seed: string;
  advertisers: number;
  rounds: number;
  threshold: number | undefined;
  /** Seconds a step waits for a silent member (dropout) before going on without it. */
  stepSeconds: number;
  plaintext: boolean;
  json?: boolean;
  /** Print nothing (tests read result.json). */
  quiet?: boolean;
  /** This advertiser's process (1-based) dies (SIGKILL, by itself) after finishing round `afterRound`: a dropout. */
  dropout?: { member: number; afterRound: number };
}

interface Proc {
  name: string;
  proc: ChildProcess;
  admin: AdminClient;
  exited: Promise<number | null>;
  log: string;
}

/** What a member reports (GET /v1/sessions/:id/result at the advertiser). */
interface MemberResult {
  member: string;
  status: string;
  error?: string;
  trainRows: number;
  rounds: { round: number; loss: number }[];
  test: { rows: number; positives: number; federated: { auc: number; logLoss: number } | null; ownModel: { auc: number; logLoss: number } } | null;
  model: { weights: number[]; bias: number } | null;
}

interface BrokerResult {
  status: 'running' | 'completed' | 'failed';
  error?: string;
  policy: { roster: string[]; threshold: number; rounds: number; localEpochs: number; learningRate: number; l2: number };
  rounds: { round: number; loss: number; rows: number; contributors: number; dropped: number[] }[];
  model: { weights: number[]; bias: number };
  transcripts: string[];
}

type World = ReturnType<typeof generateFederatedWorld>;
type Say = (s: string) => void;
/** A federation member's identity: its name, transcript key and PKI directory. */
type RosterEntry = { name: string; signingKey: Uint8Array; pki: string };

export async function simulateFederated(o: FederatedSimulateOptions): Promise<number> {
  const out = resolve(o.out);
  const say: Say = (s) => {
    if (!o.json && !o.quiet) process.stdout.write(`${s}\n`);
  };
  if (o.dropout && o.dropout.member > o.advertisers) throw new UsageError(`--dropout: expected a member 1…${o.advertisers}, got ${o.dropout.member}`);
  mkdirSync(out, { recursive: true });
  const world = generateFederatedWorld({ seed: o.seed, advertisers: o.advertisers });
  const worldDir = join(out, 'world');
  rmSync(worldDir, { recursive: true, force: true });
  const dataDirs = writeFederatedWorld(worldDir, world);
  const pkiDir = join(out, 'pki');
  const { roster, rosterFile } = setUpIdentities(pkiDir, world);
  const transcriptDir = join(out, 'transcripts');
  rmSync(transcriptDir, { recursive: true, force: true });
  const logDir = join(out, 'logs');
  mkdirSync(logDir, { recursive: true });
  const brokerGrpc = await freePort();
  const procs = new Processes(out, logDir, {
    CLEANROOM_TRANSCRIPT_DIR: transcriptDir, CLEANROOM_FEDERATION: rosterFile, CLEANROOM_DEV_PLAINTEXT: o.plaintext ? '1' : '0',
  });
  try {
    say(`starting the broker and ${o.advertisers} advertiser processes (gRPC over ${o.plaintext ? 'PLAINTEXT (dev)' : 'mutual TLS'} on loopback)…`);
    const broker = await procs.start('broker', 'broker', {
      CLEANROOM_GRPC_LISTEN: `127.0.0.1:${brokerGrpc}`, CLEANROOM_PKI_DIR: pkiDir, CLEANROOM_FEDERATED_STEP_MS: String(o.stepSeconds * 1000),
      // No media in a federated simulation: its address is a free port nobody listens on.
      CLEANROOM_MEDIA_ADDR: `localhost:${await freePort()}`, CLEANROOM_LOG_LEVEL: 'error',
    });
    const members: Proc[] = [];
    for (const [i, m] of roster.entries()) {
      members.push(await procs.start(m.name, 'advertiser', {
        CLEANROOM_GRPC_LISTEN: `127.0.0.1:${await freePort()}`, CLEANROOM_PKI_DIR: m.pki, CLEANROOM_BROKER_ADDR: `localhost:${brokerGrpc}`,
        CLEANROOM_FEDERATED_DATA: dataDirs[i]!,
        // --dropout: that member's process kills itself after its round, at that exact point
        // (a kill from here, after polling the broker, could come after the session ended)
        ...(o.dropout?.member === i + 1 ? { CLEANROOM_FEDERATED_CRASH_AFTER_ROUND: String(o.dropout.afterRound) } : {}),
      }));
    }
    await procs.allReady();
    const { sid, b, seconds } = await runSession(o, broker, members, say);
    const results = await memberResults(members, sid, world);
    // the reference only the simulator can compute: a model on the pooled rows
    const pooled = train(zeroModel(), poolDatasets(world.advertisers.map((a) => a.train)), { localEpochs: 5000, learningRate: 0.5, l2: 1e-3 });
    const fedModel = { weights: Float64Array.from(b.model.weights), bias: b.model.bias };
    const allTest = poolDatasets(world.advertisers.map((a) => a.test));
    const summary = {
      fedAuc: evaluate(fedModel, allTest).auc,
      pooledAuc: evaluate(pooled, allTest).auc,
    };
    const rounds = Math.max(1, b.rounds.length);
    const bytesPerRound = bytesPerRoundOf(b, transcriptDir, rounds);
    const { reports, audited, killed, mustVerify } = auditLinks(b, transcriptDir, pkiDir, roster, members);

    say('');
    say(`${b.status === 'completed' ? 'completed' : 'FAILED'}: ${b.rounds.length} rounds in ${seconds.toFixed(1)} s (${(seconds / rounds).toFixed(2)} s per round)${b.error ? ` — ${b.error}` : ''}`);
    say('test AUC (each advertiser\'s own held-out test set):');
    say(`  ${'advertiser'.padEnd(14)} ${'train rows'.padStart(10)} ${'own model'.padStart(10)} ${'federated'.padStart(10)} ${'pooled'.padStart(10)}`);
    for (const [i, r] of results.entries()) {
      const pooledAuc = evaluate(pooled, world.advertisers[i]!.test).auc;
      say(`  ${r.member.padEnd(14)} ${String(r.trainRows).padStart(10)} ${fmt(r.test?.ownModel.auc)} ${fmt(r.test?.federated?.auc)} ${fmt(pooledAuc)}${r.status !== 'completed' ? `  (${r.status}${r.error ? `: ${r.error}` : ''})` : ''}`);
    }
    say(`  ${'all test sets'.padEnd(14)} ${''.padStart(10)} ${''.padStart(10)} ${fmt(summary.fedAuc)} ${fmt(summary.pooledAuc)}`);
    say(`bytes per training round (all ${o.advertisers} links, payloads): ${Object.entries(bytesPerRound).filter(([r]) => r !== 'FED_JOIN').map(([r, n]) => `${r} ${n}`).join(', ')}`);
    say(`transcripts: ${audited} of ${reports.length} links verified (roster keys)${killed.size ? `; the killed member's link: ${reports[[...killed][0]! - 1]?.outcome.state}` : ''} in ${transcriptDir}`);
    const model = { features: FEDERATED_FEATURES, weights: b.model.weights, bias: b.model.bias, rounds: b.rounds.length, sessionId: sid };
    writeFileSync(join(out, 'model.json'), `${JSON.stringify(model, null, 2)}\n`);
    const result = {
      kind: 'federated', sessionId: sid, status: b.status, error: b.error ?? null, seed: o.seed, seconds,
      policy: b.policy, rounds: b.rounds,
      advertisers: results.map((r, i) => ({
        name: r.member, status: r.status, trainRows: r.trainRows, testRows: r.test?.rows ?? null,
        ownModelAuc: r.test?.ownModel.auc ?? null, federatedAuc: r.test?.federated?.auc ?? null, pooledAuc: evaluate(pooled, world.advertisers[i]!.test).auc,
      })),
      allTestSets: summary, bytesPerRound,
      audit: { links: reports.length, verified: audited, perLink: reports.map((r, i) => ({ link: b.transcripts[i], ok: r.ok, outcome: r.outcome.state })) },
      model: 'model.json',
    };
    writeFileSync(join(out, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else say(`wrote ${join(out, 'model.json')} and ${join(out, 'result.json')}`);
    return b.status === 'completed' && mustVerify.every((r) => r.ok) ? 0 : 1;
  } catch (err) {
    if (err instanceof NodeDied) {
      process.stderr.write(`${err.message}\n`);
      return err.code === 2 ? 2 : 1;
    }
    throw err;
  } finally {
    await procs.stopAll();
  }
}

/** The broker's PKI, and per advertiser its own certificate and transcript key (kept if present), written as the roster. */
function setUpIdentities(pkiDir: string, world: World): { roster: RosterEntry[]; rosterFile: string } {
  ensurePki(pkiDir);
  const roster = world.advertisers.map((a) => {
    const dir = join(pkiDir, 'members', a.name);
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, 'advertiser.signing.json'))) {
      issueNodeCert(pkiDir, 'advertiser', { cert: join(dir, 'advertiser.crt.pem'), key: join(dir, 'advertiser.key.pem') });
      saveSigningKey(join(dir, 'advertiser.signing.json'), SigningKey.generate(), 'advertiser');
    }
    for (const f of ['trust-ca.pem', 'trust-bundle.json']) copyFileSync(join(pkiDir, f), join(dir, f));
    const key = JSON.parse(readFileSync(join(dir, 'advertiser.signing.json'), 'utf8')) as { publicKey: string };
    return { name: a.name, signingKey: new Uint8Array(Buffer.from(key.publicKey, 'base64')), pki: dir };
  });
  const rosterFile = join(pkiDir, 'federation.json');
  writeRoster(rosterFile, roster);
  return { roster, rosterFile };
}

/** The node processes of the simulation: started with the shared settings, each logging to its file; all stopped at the end. */
class Processes {
  private readonly procs: Proc[] = [];
  private readonly out: string;
  private readonly logDir: string;
  private readonly common: Record<string, string>;

  constructor(out: string, logDir: string, common: Record<string, string>) {
    this.out = out;
    this.logDir = logDir;
    this.common = common;
  }

  async start(name: string, party: 'broker' | 'advertiser', env: Record<string, string>): Promise<Proc> {
    const adminPort = await freePort();
    const log = join(this.logDir, `${name}.log`);
    const stream = createWriteStream(log);
    const proc = spawn(process.execPath, [join(ROOT, `services/${party}/src/main.ts`)], {
      env: { ...process.env, ...this.common, CLEANROOM_ADMIN_LISTEN: `127.0.0.1:${adminPort}`, CLEANROOM_STATE_DIR: join(this.out, 'state', name), ...env },
      stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT,
    });
    proc.stdout!.pipe(stream, { end: false });
    proc.stderr!.pipe(stream, { end: false });
    const exited = new Promise<number | null>((r) => proc.once('close', (code) => stream.end(() => r(code))));
    const p = { name, proc, admin: new AdminClient(`http://127.0.0.1:${adminPort}`), exited, log };
    this.procs.push(p);
    return p;
  }

  /** Every process ready, or NodeDied with the tail of the log of one that exited first. */
  async allReady(): Promise<void> {
    await Promise.all(this.procs.map(async (p) => {
      const died = p.exited.then((code) => {
        throw new NodeDied(p.name, code, readFileSync(p.log, 'utf8').split('\n').slice(-15).join('\n'));
      });
      await Promise.race([p.admin.waitReady(120_000), died]);
    }));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map(async (p) => {
      if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
      p.proc.kill('SIGTERM');
      const t = setTimeout(() => p.proc.kill('SIGKILL'), 5000);
      await p.exited;
      clearTimeout(t);
    }));
  }
}

/**
 * The session: declared at the broker, joined by every advertiser; polls the broker, printing each
 * aggregated round (and the --dropout member's death: its process kills itself after its round,
 * CLEANROOM_FEDERATED_CRASH_AFTER_ROUND), until the session ends.
 */
async function runSession(o: FederatedSimulateOptions, broker: Proc, members: Proc[], say: Say): Promise<{ sid: string; b: BrokerResult; seconds: number }> {
  const t0 = performance.now();
  const created = await broker.admin.request<{ sessionId: string; threshold: number }>('POST', '/v1/sessions', {
    kind: 'federated', rounds: o.rounds, ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
  });
  const sid = created.sessionId;
  say(`federated session ${sid}: ${o.advertisers} advertisers, threshold t = ${created.threshold}, ${o.rounds} rounds declared`);
  for (const m of members) await m.admin.request('POST', '/v1/sessions', { kind: 'federated', sessionId: sid });
  let printed = 0;
  let saidKilled = false;
  let b: BrokerResult;
  for (;;) {
    b = await broker.admin.request<BrokerResult>('GET', `/v1/sessions/${sid}/result`);
    for (; printed < b.rounds.length; printed++) {
      const r = b.rounds[printed]!;
      say(`  round ${String(r.round).padStart(3)}  loss ${r.loss.toFixed(5)}  contributors ${r.contributors}  rows ${r.rows}${r.dropped.length ? `  dropped: ${r.dropped.join(',')}` : ''}`);
    }
    const d = o.dropout;
    const victim = d ? members[d.member - 1] : undefined;
    if (d && victim && !saidKilled && victim.proc.signalCode !== null) {
      saidKilled = true;
      say(`  -- ${victim.name}'s process was killed after round ${d.afterRound} (${victim.proc.signalCode}: a dropout; the broker goes on after ${o.stepSeconds} s without it)`);
    }
    if (b.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return { sid, b, seconds: (performance.now() - t0) / 1000 };
}

/** Each member's result (waiting while it is still running); a killed member's is its train rows alone. */
async function memberResults(members: Proc[], sid: string, world: World): Promise<MemberResult[]> {
  const results: MemberResult[] = [];
  for (const m of members) {
    if (m.proc.signalCode !== null) {
      results.push({ member: m.name, status: 'killed', trainRows: world.advertisers[members.indexOf(m)]!.train.rows, rounds: [], test: null, model: null });
      continue;
    }
    for (;;) {
      try {
        results.push(await m.admin.request<MemberResult>('GET', `/v1/sessions/${sid}/result`));
        break;
      } catch (err) {
        if (!(err instanceof AdminError) || err.status !== 409) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  return results;
}

/** Costs per round, from the broker's transcripts: payload bytes all links carried, by round (FED_JOIN once, the others per training round). */
function bytesPerRoundOf(b: BrokerResult, transcriptDir: string, rounds: number): Record<string, number> {
  const perRound = new Map<string, number>();
  for (const link of b.transcripts) {
    const t = readTranscript(join(transcriptDir, link, 'broker.jsonl'));
    for (const { entry } of t.entries) if (!entry.kind) perRound.set(entry.statement.round, (perRound.get(entry.statement.round) ?? 0) + entry.statement.payloadSize);
  }
  return Object.fromEntries([...perRound].map(([r, n]) => [r, r === 'FED_JOIN' ? n : Math.round(n / rounds)]));
}

/** The audit of every link with the roster's keys; a member killed on purpose (--dropout) leaves its link incomplete, every other link must verify. */
function auditLinks(b: BrokerResult, transcriptDir: string, pkiDir: string, roster: RosterEntry[], members: Proc[]) {
  const trust = loadTrustBundle(join(pkiDir, 'trust-bundle.json'));
  const reports = verifyPaths(b.transcripts.map((l) => join(transcriptDir, l)), trust, linkTrust(trust, roster));
  const audited = reports.filter((r) => r.ok).length;
  const killed = new Set(members.filter((m) => m.proc.signalCode !== null).map((m) => roster.findIndex((r) => r.name === m.name) + 1));
  const mustVerify = reports.filter((_, i) => !killed.has(i + 1));
  return { reports, audited, killed, mustVerify };
}

class NodeDied extends Error {
  readonly code: number | null;
  constructor(name: string, code: number | null, tail: string) {
    super(`${name} exited with code ${code} before it was ready; its log:\n${tail}`);
    this.code = code;
  }
}

function fmt(v: number | undefined | null): string {
  return (v === undefined || v === null ? '—' : v.toFixed(4)).padStart(10);
}

