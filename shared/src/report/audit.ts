/**
 * The auditor's timeline: one self-contained HTML page for the transcripts of one or more
 * sessions (a transcript directory, a session directory, or files): the parties and the
 * policy each declared, every message in time order (rounds, sender → receiver, payload
 * type and size, who recorded it), the co-signed checkpoints, and each verification check
 * of shared/src/transcript/verify.ts with its result. A failed verification is highlighted
 * at the entry that failed (the verifier's first failure: file and line).
 *
 * It reads transcripts only (statements, signatures, policies, checkpoints — never a
 * payload). Without a trust bundle nothing can be verified and the page says so in place
 * of the checks.
 */
import { basename } from 'node:path';
import type { TrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { groupTranscripts, verifySession, type AuditReport } from '@cleanroom/shared/transcript/verify.ts';
import { readTranscript } from '@cleanroom/shared/transcript/writer.ts';
import { barChartSvg } from './charts.ts';
import { esc, page, table } from './html.ts';

interface Occurrence {
  party: string;
  direction: string;
  file: string;
  line: number;
}

interface Row {
  at: string;
  kind: 'message' | 'policy' | 'checkpoint';
  party: string;
  text: { from?: string; to?: string; round?: string; type?: string; size?: number; seq?: string; detail?: string };
  by: Occurrence[];
}

export interface SessionAudit {
  sessionId: string;
  files: string[];
  parties: string[];
  rows: Row[];
  problems: { file: string; line: number; reason: string }[];
  report: AuditReport | undefined;
}

/** Reads and (with a trust bundle) verifies every session under `paths`. */
export function collectAudit(paths: string[], trust: TrustBundle | undefined): SessionAudit[] {
  const groups = groupTranscripts(paths);
  return [...groups.keys()].sort().map((sessionId) => {
    const files = groups.get(sessionId)!;
    const rows: Row[] = [];
    const byStatement = new Map<string, Row>();
    const problems: SessionAudit['problems'] = [];
    const parties = new Set<string>();
    for (const f of files) {
      const r = readTranscript(f);
      for (const p of r.problems) problems.push({ file: f, line: p.line, reason: p.reason });
      for (const { line, entry } of r.entries) {
        parties.add(entry.party);
        const occ: Occurrence = { party: entry.party, direction: entry.kind === undefined ? entry.direction : entry.kind, file: f, line };
        if (entry.kind === 'policy') {
          const pol = entry.policy as Record<string, unknown>;
          const shown = ['decoyRatio', 'minCohort', 'noiseScale', 'paddedCount', 'universeEpoch'].filter((k) => pol[k] !== undefined).map((k) => `${k}=${JSON.stringify(pol[k])}`);
          rows.push({ at: entry.recordedAt, kind: 'policy', party: entry.party, text: { detail: `declares policy: ${shown.join(', ')}` }, by: [occ] });
        } else if (entry.kind === 'checkpoint') {
          const cos = entry.cosignatures.map((c) => c.party);
          rows.push({ at: entry.recordedAt, kind: 'checkpoint', party: entry.party, text: { round: entry.afterRound, detail: `checkpoint after ${entry.afterRound}: ${entry.treeSize} messages, root ${entry.root.slice(0, 16)}…, co-signed by ${cos.join(', ') || 'nobody'}` }, by: [occ] });
        } else {
          const s = entry.statement;
          const key = `${s.sessionId}|${s.sender}|${s.receiver}|${s.round}|${s.seq}|${s.chunk}|${s.payloadSha256}`;
          const existing = byStatement.get(key);
          if (existing) {
            existing.by.push(occ);
            continue;
          }
          const row: Row = {
            at: s.sentAt, kind: 'message', party: s.sender,
            text: { from: s.sender, to: s.receiver, round: s.round, type: s.payloadType.replace(/^cleanroom\.v1\./, ''), size: s.payloadSize, seq: `${s.seq}${s.chunk > 0 || !s.last ? `.${s.chunk}${s.last ? ' last' : ''}` : ''}` },
            by: [occ],
          };
          byStatement.set(key, row);
          rows.push(row);
        }
      }
    }
    rows.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    return { sessionId, files, parties: [...parties].sort(), rows, problems, report: trust ? verifySession(files, trust) : undefined };
  });
}

function sessionSection(s: SessionAudit): string {
  const parts: string[] = [];
  const failure = s.report?.firstFailure;
  const failedRow = failure ? s.rows.findIndex((r) => r.by.some((o) => o.line === failure.line && basename(o.file) === basename(failure.file))) : -1;
  parts.push(`<section class="session" data-session="${esc(s.sessionId)}">`);
  parts.push(`<h2>Session <code>${esc(s.sessionId)}</code></h2>`);
  if (s.report) {
    parts.push(`<div class="banner ${s.report.ok ? 'ok' : 'bad'}" id="verdict-${esc(s.sessionId)}">Verification: <strong>${s.report.ok ? 'every check holds' : 'FAILED'}</strong>${failure ? ` — first failure at <code>${esc(basename(failure.file))}:${failure.line}</code>: ${esc(failure.reason)}` : ''}</div>`);
  } else {
    parts.push('<div class="banner bad">Not verified: no trust bundle was given (pass <code>--trust FILE</code>); the timeline below is what the files claim.</div>');
  }
  const messages = s.rows.filter((r) => r.kind === 'message');
  parts.push(`<div class="cards">${[
    ['parties', s.parties.join(', ')], ['transcript files', String(s.files.length)], ['distinct messages', messages.length.toLocaleString('en')],
    ['payload bytes', messages.reduce((a, r) => a + (r.text.size ?? 0), 0).toLocaleString('en')], ['checkpoints', String(s.rows.filter((r) => r.kind === 'checkpoint').length)],
  ].map(([k, v]) => `<div class="card"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`).join('')}</div>`);

  if (s.report) {
    parts.push('<h3>Verification checks</h3>');
    parts.push(table(['check', 'result', 'detail'], s.report.checks.map((c) => [c.name, { html: c.ok ? '<span class="ok">ok</span>' : '<span class="bad">FAILED</span>' }, c.detail]), (i) => (s.report!.checks[i]!.ok ? undefined : 'fail')));
  }

  const rounds = [...new Set(messages.map((r) => r.text.round!))];
  const senders = [...new Set(messages.map((r) => r.text.from!))].sort();
  if (rounds.length > 0) {
    parts.push('<h3>Payload bytes per round and sender</h3>');
    const svg = barChartSvg({
      categories: rounds, stacked: true, width: 1000, height: 280,
      series: senders.map((p) => ({ name: p, values: rounds.map((rd) => messages.filter((m) => m.text.round === rd && m.text.from === p).reduce((a, m) => a + (m.text.size ?? 0), 0)) })),
    });
    parts.push(`<div class="chart">${svg}</div>`);
  }

  parts.push('<h3>Timeline</h3>');
  parts.push(table(
    ['time (UTC)', 'from → to', 'round', 'payload', 'bytes', 'seq', 'recorded by / what'],
    s.rows.map((r) => {
      const by = r.by.map((o) => `${o.party} ${o.direction} (${basename(o.file)}:${o.line})`).join('; ');
      if (r.kind !== 'message') return [r.at.replace('T', ' ').replace('Z', ''), r.party, r.text.round ?? '', r.kind, '', '', `${r.text.detail} — ${by}`];
      return [r.at.replace('T', ' ').replace('Z', ''), `${r.text.from} → ${r.text.to}`, r.text.round!, r.text.type!, { html: `<span class="num">${(r.text.size ?? 0).toLocaleString('en')}</span>` }, r.text.seq!, by];
    }),
    (i) => (i === failedRow ? 'fail' : s.rows[i]!.kind === 'message' ? undefined : s.rows[i]!.kind),
  ));
  if (failure && failedRow < 0) {
    parts.push(`<p class="bad" id="failure-outside">The failing entry (<code>${esc(basename(failure.file))}:${failure.line}</code>) is not a readable message, policy or checkpoint: ${esc(failure.reason)}</p>`);
  }
  if (s.problems.length > 0) {
    parts.push('<h3>Unreadable or broken entries</h3>');
    parts.push(table(['file', 'line', 'problem'], s.problems.map((p) => [basename(p.file), p.line, p.reason]), () => 'fail'));
  }
  parts.push('</section>');
  return parts.join('\n');
}

/** The audit report as an HTML document. */
export function renderAuditHtml(sessions: SessionAudit[]): string {
  const ok = sessions.filter((s) => s.report?.ok).length;
  const head = `<h1>Transcript audit</h1><p class="sub">${sessions.length} session(s); ${sessions.some((s) => s.report) ? `${ok} verified, ${sessions.length - ok} failed` : 'not verified (no trust bundle)'}. Built from transcripts alone: statements, signatures, policies and checkpoints — no payload.</p>`;
  return page('cleanroom transcript audit', [head, ...sessions.map(sessionSection)].join('\n'));
}
