/**
 * The `cleanroom` command line.
 *
 *   cleanroom gen-data --out DIR [--universe N] [--crm N] [--seed S]
 *   cleanroom simulate [--out DIR] [--universe N] [--crm N] [--audience N] [--seed S] [--plaintext] [--kind K[,K…]|all]
 *   cleanroom session start  [--admin URL] [--kind K] [--audience N] [--decoy-ratio N] [--min-cohort N] [--id-type phone|email]
 *                            [--predicate JSON] [--media-predicate JSON] [--count-session ID]
 *   cleanroom session status ID [--admin URL]
 *   cleanroom session result ID [--admin URL]
 *   cleanroom universe prepare [--shard I --shards N]
 *   cleanroom audit verify [--trust FILE] PATH...
 *   cleanroom audit show PATH...
 *   cleanroom report insight RESULT.json|--session ID [--admin URL] [--out FILE]
 *   cleanroom report audit PATH... [--trust FILE] [--out FILE]
 *
 * Every command answers `--help` (exit 0).
 * Exit codes: 0 success, 1 failure (or a verification that does not hold), 2 usage or
 * configuration error (also a node's, in `simulate`), 3 a session that ended without a
 * look-alike (e.g. cohort too small).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { parseArgs, intFlag, strFlag, UsageError } from './args.ts';
import { AdminClient, AdminError } from './admin-client.ts';
import { simulate } from './simulate.ts';
import { lookupSummary, runLookup } from './lookup.ts';
import { simulateFederated } from './simulate-federated.ts';
import { audit } from './audit.ts';
import { ROOT } from './cluster.ts';
import { isSessionKind, type SessionKind } from '@cleanroom/shared/common/names.ts';
import { SIMULATED_KINDS } from './kinds.ts';
import { writeUniverseKeyFile } from '../../services/media/src/universe-key.ts';

/** `--kind a,b` or `--kind all` (every kind the simulator runs, the look-alike first). */
function kindsFlag(v: string | boolean | undefined): SessionKind[] | undefined {
  if (v === undefined) return undefined;
  const list = String(v) === 'all' ? [...SIMULATED_KINDS] : String(v).split(',');
  for (const k of list) {
    if (!isSessionKind(k) || !SIMULATED_KINDS.includes(k)) throw new UsageError(`--kind: expected one of ${SIMULATED_KINDS.join(', ')} or all, got '${k}'`);
  }
  return list as SessionKind[];
}

function jsonFlag(p: ReturnType<typeof parseArgs>, name: string): unknown {
  const v = p.flags[name];
  if (v === undefined) return undefined;
  try {
    return JSON.parse(String(v));
  } catch (err) {
    throw new UsageError(`--${name}: expected JSON, got ${(err as Error).message}`);
  }
}

const HELP = `cleanroom — a three-party data clean room (advertiser, media, broker)

usage:
  cleanroom gen-data --out DIR [--universe 200000] [--crm 20000] [--seed cleanroom]
  cleanroom simulate [--out out/demo] [--universe 200000] [--crm 20000] [--audience 20000]
                     [--decoy-ratio 9] [--min-cohort 50] [--epsilon 1] [--noise SCALE] [--seed cleanroom]
                     [--plaintext] [--keep-ledger] [--json] [--kind lookalike|profile|…[,…]|all]
  cleanroom simulate --kind federated [--advertisers 3] [--rounds 20] [--threshold T] [--step-seconds 30]
                     [--dropout MEMBER:ROUND] [--out out/federated] [--seed cleanroom] [--plaintext] [--json]
  cleanroom session start [--admin http://127.0.0.1:8081] [--kind lookalike] [--audience 20000] [--decoy-ratio 9]
                          [--min-cohort 50] [--id-type phone] [--predicate JSON] [--media-predicate JSON]
                          [--count-session ID] [--wait]
  cleanroom session start --kind lookup [--ids FILE] [--csv FILE] [--id-type phone] [--decoy-ratio 9]
                          (waits; the labels CSV goes to FILE, or stdout)
  cleanroom session status ID [--admin URL]
  cleanroom session result ID [--admin URL]
  cleanroom budget [--admin http://127.0.0.1:8081]      the privacy budget (advertiser's view)
  cleanroom universe prepare [--shard I --shards N]   media's universe preparation (the Job), from the
                         media settings in the environment (CLEANROOM_DATA, CLEANROOM_STATE_DIR, …);
                         sharded: shard I of N only (I defaults to JOB_COMPLETION_INDEX), merged by the node
  cleanroom universe key --epoch E --out FILE   a new OPRF key for epoch E (CLEANROOM_UNIVERSE_KEY_FILE; mode
                         0600, never overwritten): shards that share no volume (CLEANROOM_SHARD_STORE) all read it
  cleanroom audit verify [--trust out/demo/pki/trust-bundle.json] [--roster FEDERATION.json] [--json] PATH...  (also adds up
                         the privacy charges across sessions against the declared budget)
  cleanroom audit show PATH...
  cleanroom report insight RESULT.json|--session ID [--admin http://127.0.0.1:8081] [--out report-insight.html]
  cleanroom report audit PATH... [--trust out/demo/pki/trust-bundle.json] [--out report-audit.html]

The admin token, when the node requires one, is read from CLEANROOM_ADMIN_TOKEN.
`;

/** Each command's lines of HELP (with their continuation lines), for `cleanroom CMD --help`. */
function usageOf(cmd: string): string | undefined {
  const out: string[] = [];
  let mine = false;
  for (const line of HELP.split('\n')) {
    const m = /^ {2}cleanroom (\S+)/.exec(line);
    if (m) mine = m[1] === cmd;
    else if (!/^ {3,}\S/.test(line)) mine = false;
    if (mine) out.push(line);
  }
  if (out.length === 0) return undefined;
  const token = cmd === 'session' ? '\nThe admin token, when the node requires one, is read from CLEANROOM_ADMIN_TOKEN.\n' : '';
  return `usage:\n${out.join('\n')}\n${token}`;
}

/** `--dropout 3:2`: kill advertiser 3's process after round 2. */
function dropoutFlag(v: string): { member: number; afterRound: number } {
  const m = /^(\d{1,2}):(\d{1,5})$/.exec(v);
  if (!m || Number(m[1]) < 1) throw new UsageError(`--dropout: expected MEMBER:ROUND (e.g. 3:2), got '${v}'`);
  return { member: Number(m[1]), afterRound: Number(m[2]) };
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // Every command answers --help (or -h), wherever it stands among its arguments, with exit 0.
  if (cmd !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    const usage = usageOf(cmd);
    if (!usage) throw new UsageError(`unknown command '${cmd}'`);
    process.stdout.write(usage);
    return 0;
  }
  switch (cmd) {
    case 'gen-data': {
      const p = parseArgs(rest, { out: 'string', universe: 'string', crm: 'string', seed: 'string' });
      if (!p.flags.out) throw new UsageError('gen-data needs --out DIR');
      const s = await generateWorld(resolve(strFlag(p, 'out', '')), {
        seed: strFlag(p, 'seed', 'cleanroom'), universeSize: intFlag(p, 'universe', 200_000, 1000, 100_000_000), crmSize: intFlag(p, 'crm', 20_000, 100, 10_000_000),
      });
      process.stdout.write(`${JSON.stringify({ ...s, seconds: Number(s.seconds.toFixed(2)) }, null, 2)}\n`);
      return 0;
    }
    case 'simulate': {
      const p = parseArgs(rest, { out: 'string', universe: 'string', crm: 'string', audience: 'string', seed: 'string', 'decoy-ratio': 'string', 'min-cohort': 'string', noise: 'string', epsilon: 'string', plaintext: 'boolean', 'keep-ledger': 'boolean', json: 'boolean', kind: 'string', advertisers: 'string', rounds: 'string', threshold: 'string', 'step-seconds': 'string', dropout: 'string' });
      const kind = strFlag(p, 'kind', 'lookalike');
      if (kind === 'federated') {
        for (const f of ['universe', 'crm', 'audience', 'decoy-ratio', 'min-cohort', 'noise', 'epsilon', 'keep-ledger']) if (p.flags[f] !== undefined) throw new UsageError(`--${f} does not apply to --kind federated`);
        return simulateFederated({
          out: strFlag(p, 'out', 'out/federated'), seed: strFlag(p, 'seed', 'cleanroom'), advertisers: intFlag(p, 'advertisers', 3, 3, 64),
          rounds: intFlag(p, 'rounds', 20, 1, 10_000), threshold: p.flags.threshold === undefined ? undefined : intFlag(p, 'threshold', 2, 2, 64),
          stepSeconds: intFlag(p, 'step-seconds', 30, 1, 3600), plaintext: p.flags.plaintext === true, json: p.flags.json === true,
          ...(p.flags.dropout !== undefined ? { dropout: dropoutFlag(String(p.flags.dropout)) } : {}),
        });
      }
      for (const f of ['advertisers', 'rounds', 'threshold', 'step-seconds', 'dropout']) if (p.flags[f] !== undefined) throw new UsageError(`--${f} applies to --kind federated only`);
      const noise = p.flags.noise === undefined ? undefined : Number(p.flags.noise);
      if (noise !== undefined && (!Number.isFinite(noise) || noise < 0)) throw new UsageError(`--noise: expected a number ≥ 0, got '${String(p.flags.noise)}'`);
      const epsilon = p.flags.epsilon === undefined ? undefined : Number(p.flags.epsilon);
      if (epsilon !== undefined && !(epsilon > 0)) throw new UsageError(`--epsilon: expected a number > 0, got '${String(p.flags.epsilon)}'`);
      return simulate({
        out: strFlag(p, 'out', 'out/demo'), seed: strFlag(p, 'seed', 'cleanroom'),
        universe: intFlag(p, 'universe', 200_000, 1000, 100_000_000), crm: intFlag(p, 'crm', 20_000, 100, 10_000_000),
        audience: intFlag(p, 'audience', 20_000), decoyRatio: intFlag(p, 'decoy-ratio', 9, 1, 99), minCohort: intFlag(p, 'min-cohort', 50),
        noiseScale: noise, epsilon, plaintext: p.flags.plaintext === true, keepLedger: p.flags['keep-ledger'] === true, json: p.flags.json === true,
        ...(p.flags.kind !== undefined ? { kinds: kindsFlag(p.flags.kind) } : {}),
      });
    }
    case 'session': {
      const [sub, ...args] = rest;
      const p = parseArgs(args, { admin: 'string', audience: 'string', 'decoy-ratio': 'string', 'min-cohort': 'string', 'id-type': 'string', wait: 'boolean', kind: 'string', predicate: 'string', 'media-predicate': 'string', 'count-session': 'string', ids: 'string', csv: 'string' });
      const client = new AdminClient(strFlag(p, 'admin', 'http://127.0.0.1:8081'), process.env.CLEANROOM_ADMIN_TOKEN);
      const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
      if (sub === 'start') {
        const idType = strFlag(p, 'id-type', 'phone');
        if (!['phone', 'email', 'device'].includes(idType)) throw new UsageError(`--id-type: expected phone, email or device, got '${idType}'`);
        const kind = strFlag(p, 'kind', 'lookalike');
        if (kind === 'lookup') {
          // A lookup's result is its labels CSV: waits, writes it to --csv FILE or stdout (cli/src/lookup.ts).
          const idsFile = p.flags.ids === undefined ? undefined : strFlag(p, 'ids', '');
          const r = await runLookup(client, { idType, decoyRatio: intFlag(p, 'decoy-ratio', 9, 1, 99), ...(idsFile ? { idsFile } : {}) });
          const csvFile = p.flags.csv === undefined ? undefined : strFlag(p, 'csv', '');
          if (r.status === 'completed' && !csvFile) process.stdout.write(r.csv ?? '');
          for (const line of lookupSummary(r, csvFile)) process.stderr.write(`${line}\n`);
          return r.status === 'completed' ? 0 : 1;
        }
        // The node validates the kind and its body (problem+json naming what is wrong).
        const body: Record<string, unknown> = kind === 'joint-activate'
          ? { kind, countSession: strFlag(p, 'count-session', '') }
          : { kind, idType, decoyRatio: intFlag(p, 'decoy-ratio', 9, 1, 99), minCohort: intFlag(p, 'min-cohort', 50) };
        if (kind === 'lookalike') body.audienceSize = intFlag(p, 'audience', 20_000);
        const predicate = jsonFlag(p, 'predicate');
        const mediaPredicate = jsonFlag(p, 'media-predicate');
        if (predicate !== undefined) body.predicate = predicate;
        if (mediaPredicate !== undefined) body.mediaPredicate = mediaPredicate;
        const r = await client.request<{ sessionId: string }>('POST', '/v1/sessions', body);
        if (!p.flags.wait) {
          print(r);
          return 0;
        }
        const s = await client.waitSession(r.sessionId, 30 * 60_000);
        print(s.status === 'failed' ? s : await client.request('GET', `/v1/sessions/${r.sessionId}/result`));
        return s.status === 'completed' ? 0 : s.status === 'failed' ? 1 : 3;
      }
      const id = p.positionals[0];
      if ((sub === 'status' || sub === 'result') && !id) throw new UsageError(`session ${sub} needs a session ID`);
      if (sub === 'status') {
        print(await client.request('GET', `/v1/sessions/${id}`));
        return 0;
      }
      if (sub === 'result') {
        print(await client.request('GET', `/v1/sessions/${id}/result`));
        return 0;
      }
      throw new UsageError(`unknown session command '${sub ?? ''}' (start, status, result)`);
    }
    case 'audit':
      return audit(rest);
    case 'report':
      // loaded on use: the charts library costs every other command ≈ 1 s of start-up
      return (await import('./report/command.ts')).report(rest);
    case 'universe': {
      const [sub, ...args] = rest;
      if (sub === 'key') {
        const p = parseArgs(args, { epoch: 'string', out: 'string' });
        const epoch = strFlag(p, 'epoch', '');
        const out = strFlag(p, 'out', '');
        if (!/^[a-z0-9-]{1,64}$/.test(epoch)) throw new UsageError(`universe key: --epoch: expected [a-z0-9-]{1,64} (CLEANROOM_UNIVERSE_EPOCH), got '${epoch}'`);
        if (out === '') throw new UsageError('universe key: --out FILE is required');
        try {
          const fingerprint = writeUniverseKeyFile(out, epoch);
          process.stdout.write(`wrote the OPRF key of epoch ${epoch} to ${out} (fingerprint ${fingerprint}); keep it secret: mount it as CLEANROOM_UNIVERSE_KEY_FILE for every shard and the media node\n`);
          return 0;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`universe key: ${out} exists: a key file is never overwritten (an epoch under two keys would never match)`);
          throw err;
        }
      }
      if (sub !== 'prepare') throw new UsageError(`universe: expected 'prepare' or 'key', got '${sub ?? ''}'`);
      // The media one-shot itself (services/media/src/prepare.ts), with its exit code.
      const r = spawnSync(process.execPath, [join(ROOT, 'services/media/src/prepare.ts'), ...args], { stdio: 'inherit' });
      return r.status ?? 1;
    }
    case 'budget': {
      const p = parseArgs(rest, { admin: 'string', json: 'boolean' });
      const client = new AdminClient(strFlag(p, 'admin', 'http://127.0.0.1:8081'), process.env.CLEANROOM_ADMIN_TOKEN);
      const v = await client.request<Record<string, unknown>>('GET', '/v1/budget');
      if (p.flags.json) process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
      else if ('epsilonRemaining' in v) process.stdout.write(`privacy budget: ${String(v.epsilonSpent)} of ${String(v.budget)} ε spent, ${String(v.epsilonRemaining)} left (as of session ${String(v.asOfSession)}, ${String(v.at)})\n`);
      else process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`cleanroom: ${err.message}\n\n${HELP}`);
      process.exit(2);
    }
    if (err instanceof AdminError) {
      process.stderr.write(`cleanroom: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`cleanroom: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
