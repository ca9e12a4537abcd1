/**
 * `cleanroom report insight <result.json> [--out FILE]` and
 * `cleanroom report audit <transcripts dir>… [--trust FILE] [--out FILE]`: write the HTML
 * reports (insight.ts, audit.ts) to FILE (default: report-insight.html /
 * report-audit.html in the current directory) and print the path. Exit 0 when written;
 * for `audit`, 1 when a session does not verify (the page is still written); 2 for usage
 * errors (missing or unreadable input).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadTrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { parseArgs, strFlag, UsageError } from '../args.ts';
import { collectAudit, renderAuditHtml } from './audit.ts';
import { readInsight, renderInsightHtml, ReportInputError } from './insight.ts';

function write(out: string, html: string): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, html);
  process.stdout.write(`${out}\n`);
}

export function report(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub === 'insight') {
    const p = parseArgs(rest, { out: 'string' });
    const file = p.positionals[0];
    if (!file || p.positionals.length > 1) throw new UsageError('report insight needs exactly one result JSON file');
    if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new UsageError(`${file}: not JSON (${(err as Error).message})`);
    }
    let html: string;
    try {
      html = renderInsightHtml(readInsight(doc));
    } catch (err) {
      if (err instanceof ReportInputError) throw new UsageError(`${file}: ${err.message}`);
      throw err;
    }
    write(resolve(strFlag(p, 'out', 'report-insight.html')), html);
    return 0;
  }
  if (sub === 'audit') {
    const p = parseArgs(rest, { out: 'string', trust: 'string' });
    if (p.positionals.length === 0) throw new UsageError('report audit needs at least one transcript directory or file');
    for (const path of p.positionals) if (!existsSync(path)) throw new UsageError(`no such file or directory: ${path}`);
    const trustPath = resolve(strFlag(p, 'trust', 'out/demo/pki/trust-bundle.json'));
    if (!existsSync(trustPath)) throw new UsageError(`trust bundle not found: ${trustPath} (pass --trust FILE)`);
    const sessions = collectAudit(p.positionals.map((x) => resolve(x)), loadTrustBundle(trustPath));
    if (sessions.length === 0) throw new UsageError('no transcripts found');
    write(resolve(strFlag(p, 'out', 'report-audit.html')), renderAuditHtml(sessions));
    return sessions.every((s) => s.report?.ok) ? 0 : 1;
  }
  throw new UsageError(`unknown report command '${sub ?? ''}' (insight, audit)`);
}
