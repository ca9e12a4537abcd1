/**
 * `cleanroom report insight <result.json>|--session ID [--admin URL] [--out FILE]` and
 * `cleanroom report audit <transcripts dir>… [--trust FILE] [--out FILE]`: write the HTML
 * reports (insight.ts, audit.ts) to FILE (default: report-insight.html /
 * report-audit.html in the current directory) and print the path. Exit 0 when written;
 * for `audit`, 1 when a session does not verify (the page is still written); 2 for usage
 * errors (missing or unreadable input); with --session, an admin API error exits 1.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadTrustBundle } from '@cleanroom/shared/pki/key-files.ts';
import { parseArgs, strFlag, UsageError } from '../args.ts';
import { AdminClient } from '../admin-client.ts';
import { collectAudit, renderAuditHtml } from '@cleanroom/shared/report/audit.ts';
import { readInsight, renderInsightHtml, ReportInputError } from '@cleanroom/shared/report/insight.ts';

function write(out: string, html: string): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, html);
  process.stdout.write(`${out}\n`);
}

export async function report(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'insight') {
    const p = parseArgs(rest, { out: 'string', session: 'string', admin: 'string' });
    const file = p.positionals[0];
    let doc: unknown;
    let source: string;
    if (p.flags.session !== undefined) {
      // straight from the advertiser node's admin API (token from CLEANROOM_ADMIN_TOKEN)
      if (file) throw new UsageError('report insight takes a result file or --session ID, not both');
      const id = strFlag(p, 'session', '');
      if (!/^[A-Za-z0-9._-]{1,80}$/.test(id)) throw new UsageError(`--session: expected a session id, got '${id}'`);
      const client = new AdminClient(strFlag(p, 'admin', 'http://127.0.0.1:8081'), process.env.CLEANROOM_ADMIN_TOKEN);
      doc = await client.request('GET', `/v1/sessions/${id}/result`);
      source = `session ${id}`;
    } else {
      if (!file || p.positionals.length > 1) throw new UsageError('report insight needs exactly one result JSON file (or --session ID)');
      if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new UsageError(`${file}: not JSON (${(err as Error).message})`);
      }
      source = file;
    }
    let html: string;
    try {
      html = renderInsightHtml(readInsight(doc));
    } catch (err) {
      if (err instanceof ReportInputError) throw new UsageError(`${source}: ${err.message}`);
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
