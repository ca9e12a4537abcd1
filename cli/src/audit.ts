/**
 * `cleanroom audit verify|show`: the auditor's tools over transcripts alone (no payloads,
 * no plaintext). `verify` exits 0 only when every check of every session holds, and
 * otherwise names the first failing entry (file, line, reason). The default trust bundle
 * is the demo's (out/demo/pki/trust-bundle.json).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadTrustBundle } from '@cleanroom/shared/pki/key-files.ts';
import { formatReport, groupTranscripts, timeline, verifyPaths } from '@cleanroom/shared/transcript/verify.ts';
import { formatBudget, verifyBudget } from '@cleanroom/shared/transcript/budget.ts';
import { parseArgs, strFlag, UsageError } from './args.ts';
import { loadRoster } from '@cleanroom/shared/service/federation.ts';
import { linkTrust } from '@cleanroom/shared/rpc/federated-link.ts';

export function audit(argv: string[]): number {
  const [sub, ...rest] = argv;
  const p = parseArgs(rest, { trust: 'string', json: 'boolean', roster: 'string' });
  if (p.positionals.length === 0) throw new UsageError(`audit ${sub ?? ''} needs at least one transcript directory or file`);
  for (const path of p.positionals) if (!existsSync(path)) throw new UsageError(`no such file or directory: ${path}`);
  if (sub === 'show') {
    for (const files of groupTranscripts(p.positionals.map((x) => resolve(x))).values()) process.stdout.write(`${timeline(files)}\n`);
    return 0;
  }
  if (sub !== 'verify') throw new UsageError(`unknown audit command '${sub ?? ''}' (verify, show)`);
  const trustPath = resolve(strFlag(p, 'trust', 'out/demo/pki/trust-bundle.json'));
  if (!existsSync(trustPath)) throw new UsageError(`trust bundle not found: ${trustPath} (pass --trust FILE)`);
  const trust = loadTrustBundle(trustPath);
  // Federated sessions: each link is verified with its member's key from the federation roster.
  const rosterPath = typeof p.flags.roster === 'string' ? resolve(p.flags.roster) : undefined;
  if (rosterPath && !existsSync(rosterPath)) throw new UsageError(`federation roster not found: ${rosterPath}`);
  const trustFor = rosterPath ? linkTrust(trust, loadRoster(rosterPath)) : undefined;
  const reports = verifyPaths(p.positionals.map((x) => resolve(x)), trust, trustFor);
  if (reports.length === 0) {
    process.stderr.write('cleanroom audit: no transcripts found\n');
    return 1;
  }
  const json = p.flags.json === true;
  if (!json) for (const r of reports) process.stdout.write(`${formatReport(r)}\n`);
  const bad = reports.filter((r) => !r.ok);
  // Across sessions: the privacy charges the broker signed never exceed its declared budget.
  const budget = verifyBudget(groupTranscripts(p.positionals.map((x) => resolve(x))), trust);
  if (json) {
    // For scripts: every session's checks and outcome, and the budget check, as one document.
    process.stdout.write(`${JSON.stringify({ ok: bad.length === 0 && budget.ok, sessions: reports, budget }, null, 2)}\n`);
    return bad.length === 0 && budget.ok ? 0 : 1;
  }
  if (budget.sessions.length > 0) process.stdout.write(`\n${formatBudget(budget)}\n`);
  process.stdout.write(`\n${reports.length - bad.length} of ${reports.length} session(s) verified${bad.length ? `; ${bad.length} FAILED` : ''}${budget.ok ? '' : '; privacy budget check FAILED'}\n`);
  return bad.length === 0 && budget.ok ? 0 : 1;
}
