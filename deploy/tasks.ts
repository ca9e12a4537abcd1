// deploy/tasks.ts — the docker-compose one-shots that are deployment glue, not product CLI:
//
//   node deploy/tasks.ts pki <out-root>
//     Runs `scripts/gen-pki.ts` into a private temporary directory and hands each party ONLY
//     its own material: <out-root>/<party>/ receives `<party>.*` (certificate, TLS key,
//     signing key) plus the public `trust-*` files (CA certificate, trust bundle). Anything
//     else gen-pki writes (e.g. a CA private key) is discarded with the temporary directory,
//     so no node's volume holds another party's secrets. Idempotent: when every party's
//     directory already has its trust bundle, nothing is regenerated (restarts keep keys).
//
//   node deploy/tasks.ts run-session
//     The compose `runner`: waits (bounded) until the advertiser, media and broker admin APIs
//     answer GET /readyz with 200, POSTs one session to the advertiser, polls it until it
//     leaves "running", and prints ONE line of JSON on stdout:
//       { sessionId, status, phase, error?, elapsedSeconds, result? }
//     Progress goes to stderr. Exit 0 only when status is "completed"; 1 for any other
//     outcome (failed, cohort-too-small, timeout); 2 when the API could not be driven at all.
//     Settings (environment): CLEANROOM_ADVERTISER_URL (http://advertiser:8081),
//     CLEANROOM_MEDIA_URL (http://media:8082), CLEANROOM_BROKER_URL (http://broker:8083) —
//     set one to "" to skip its readiness wait; CLEANROOM_ADMIN_TOKEN (bearer token);
//     SESSION_AUDIENCE_SIZE (20000), SESSION_ID_TYPE (phone), SESSION_DECOY_RATIO (9),
//     SESSION_MIN_COHORT (50); RUNNER_READY_TIMEOUT_S (600), RUNNER_TIMEOUT_S (1800).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PARTIES } from '../shared/src/common/names.ts';


function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString()}] ${msg}\n`);
}

function pki(outRoot: string | undefined): number {
  if (!outRoot) {
    log('usage: node deploy/tasks.ts pki <out-root>');
    return 2;
  }
  if (PARTIES.every((p) => existsSync(join(outRoot, p, 'trust-bundle.json')))) {
    log(`pki: ${outRoot}/{${PARTIES.join(',')}} already populated, keeping the existing keys`);
    return 0;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'pki-'));
  try {
    const gen = spawnSync(process.execPath, ['scripts/gen-pki.ts', '--out', tmp], { stdio: 'inherit' });
    if (gen.status !== 0) {
      log(`pki: scripts/gen-pki.ts failed (exit ${gen.status ?? gen.signal})`);
      return gen.status ?? 1;
    }
    const files = readdirSync(tmp).filter((f) => statSync(join(tmp, f)).isFile());
    const shared = files.filter((f) => f.startsWith('trust-'));
    if (shared.length === 0) {
      log(`pki: gen-pki wrote no trust-* files (got: ${files.join(', ')})`);
      return 1;
    }
    const handedOut: Record<string, string[]> = {};
    for (const party of PARTIES) {
      const own = files.filter((f) => f.startsWith(`${party}.`));
      if (own.length === 0) {
        log(`pki: gen-pki wrote nothing for ${party} (got: ${files.join(', ')})`);
        return 1;
      }
      const dir = join(outRoot, party);
      mkdirSync(dir, { recursive: true });
      for (const f of [...own, ...shared]) {
        copyFileSync(join(tmp, f), join(dir, f));
        chmodSync(join(dir, f), statSync(join(tmp, f)).mode & 0o777);
      }
      handedOut[party] = [...own, ...shared];
    }
    const kept = files.filter((f) => !Object.values(handedOut).some((l) => l.includes(f)));
    process.stdout.write(JSON.stringify({ pki: handedOut, discarded: kept }) + '\n');
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runSession(): Promise<number> {
  const started = Date.now();
  const env = process.env;
  const advertiser = env.CLEANROOM_ADVERTISER_URL ?? 'http://advertiser:8081';
  const peers: Record<string, string> = {
    advertiser,
    media: env.CLEANROOM_MEDIA_URL ?? 'http://media:8082',
    broker: env.CLEANROOM_BROKER_URL ?? 'http://broker:8083',
  };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (env.CLEANROOM_ADMIN_TOKEN) headers.authorization = `Bearer ${env.CLEANROOM_ADMIN_TOKEN}`;
  const readyDeadline = started + envInt('RUNNER_READY_TIMEOUT_S', 600) * 1000;
  const doneDeadline = started + envInt('RUNNER_TIMEOUT_S', 1800) * 1000;
  const body = {
    audienceSize: envInt('SESSION_AUDIENCE_SIZE', 20000),
    idType: env.SESSION_ID_TYPE || 'phone',
    decoyRatio: envInt('SESSION_DECOY_RATIO', 9),
    minCohort: envInt('SESSION_MIN_COHORT', 50),
  };
  const get = async (url: string): Promise<{ status: number; json: any }> => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { raw: text };
    }
    return { status: res.status, json };
  };
  const out = (o: Record<string, unknown>): void => {
    process.stdout.write(JSON.stringify({ ...o, elapsedSeconds: Math.round((Date.now() - started) / 100) / 10 }) + '\n');
  };

  // 1. readiness of every configured node
  for (const [party, url] of Object.entries(peers)) {
    if (!url) continue;
    let last = 'no answer';
    let lastLog = 0;
    for (;;) {
      try {
        const r = await get(`${url}/readyz`);
        if (r.status === 200) break;
        last = `HTTP ${r.status} ${JSON.stringify(r.json)}`;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > readyDeadline) {
        out({ status: 'runner-error', error: `${party} not ready at ${url}/readyz: ${last}` });
        return 2;
      }
      if (Date.now() - lastLog > 10_000) {
        log(`waiting for ${party} (${url}/readyz): ${last}`);
        lastLog = Date.now();
      }
      await sleep(1000);
    }
    log(`${party} ready`);
  }

  // 2. start the session
  let sessionId: string;
  try {
    const res = await fetch(`${advertiser}/v1/sessions`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const json: any = await res.json().catch(() => null);
    if (res.status !== 202 || typeof json?.sessionId !== 'string') {
      out({ status: 'runner-error', error: `POST /v1/sessions answered HTTP ${res.status}`, response: json });
      return 2;
    }
    sessionId = json.sessionId;
  } catch (e) {
    out({ status: 'runner-error', error: `POST /v1/sessions: ${(e as Error).message}` });
    return 2;
  }
  log(`session ${sessionId} started: ${JSON.stringify(body)}`);

  // 3. poll until it leaves "running"
  let view: any = null;
  let lastPhase = '';
  for (;;) {
    try {
      const r = await get(`${advertiser}/v1/sessions/${sessionId}`);
      if (r.status === 200) view = r.json;
      else log(`GET /v1/sessions/${sessionId}: HTTP ${r.status}`);
    } catch (e) {
      log(`GET /v1/sessions/${sessionId}: ${(e as Error).message}`);
    }
    if (view && view.phase !== lastPhase) {
      lastPhase = view.phase;
      log(`phase ${view.phase} (${view.status}${view.progress !== undefined ? `, progress ${JSON.stringify(view.progress)}` : ''})`);
    }
    if (view && view.status !== 'running') break;
    if (Date.now() > doneDeadline) {
      out({ sessionId, status: 'timeout', phase: view?.phase, error: `still running after ${envInt('RUNNER_TIMEOUT_S', 1800)}s` });
      return 1;
    }
    await sleep(1000);
  }

  // 4. the outcome, with the result document when there is one
  let result: unknown;
  try {
    const r = await get(`${advertiser}/v1/sessions/${sessionId}/result`);
    if (r.status === 200) result = r.json;
  } catch (e) {
    log(`GET result: ${(e as Error).message}`);
  }
  out({ sessionId, status: view.status, phase: view.phase, ...(view.error !== undefined ? { error: view.error } : {}), result });
  return view.status === 'completed' ? 0 : 1;
}

const [cmd, ...args] = process.argv.slice(2);
let code: number;
if (cmd === 'pki') code = pki(args[0]);
else if (cmd === 'run-session') code = await runSession();
else {
  log('usage: node deploy/tasks.ts pki <out-root> | run-session');
  code = 2;
}
process.exitCode = code;
