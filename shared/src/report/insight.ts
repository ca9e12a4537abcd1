/**
 * The advertiser's insight report: one self-contained HTML page from a session result
 * (`GET /v1/sessions/:id/result`, or `simulate`'s result.json): outcome, counts, look-alike
 * size and quality, the privacy budget charged, spent and left, and the cohort profile
 * against the universe as bar charts per attribute group, plus the attributes the cohort
 * over-indexes on.
 *
 * The result is read defensively: every field is optional and type-checked, unknown fields
 * are ignored (the result format evolves); a document that is not a session result at all
 * (no outcome and no insight) is refused with a message saying so. Nothing per user is in a
 * result, so nothing per user can reach the page.
 */
import { barChartSvg } from './charts.ts';
import { esc, page, table } from './html.ts';

export interface InsightRow {
  name: string;
  group: string;
  value: string;
  total: number | undefined;
  share: number;
  universeShare: number;
}

export interface InsightData {
  sessionId: string | undefined;
  outcome: string | undefined;
  reason: string | undefined;
  counts: { label: string; value: number }[];
  lookalike: { audienceId: string | undefined; audienceSize: number | undefined; quality: number | undefined; lift: number | undefined } | undefined;
  insight: InsightRow[];
  /** Any privacy-budget figures the result carries (name → number). */
  budget: { label: string; value: number }[];
}

export class ReportInputError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The report's view of a result document (validated, defensive). */
export function readInsight(doc: unknown): InsightData {
  if (!isObj(doc)) throw new ReportInputError(`expected a session result (a JSON object), got ${Array.isArray(doc) ? 'an array' : typeof doc}`);
  if (doc.outcome === undefined && !Array.isArray(doc.insight)) {
    throw new ReportInputError('expected a session result with at least "outcome" or "insight" (GET /v1/sessions/:id/result or simulate\'s result.json)');
  }
  const counts: { label: string; value: number }[] = [];
  const add = (label: string, v: unknown) => {
    const n = num(v);
    if (n !== undefined) counts.push({ label, value: n });
  };
  const seeds = isObj(doc.seeds) ? doc.seeds : {};
  add('seed rows', seeds.rows);
  add('valid seeds', seeds.valid);
  add('rejected seeds', seeds.rejected);
  add('duplicate seeds', seeds.duplicates);
  add('seeds without consent', seeds.notConsented);
  const matches = isObj(doc.matches) ? doc.matches : {};
  add('padded set size', matches.paddedSize);
  add('real matches (noised)', matches.real);
  add('cohort size', doc.cohortSize);

  let lookalike: InsightData['lookalike'];
  if (isObj(doc.lookalike)) {
    const l = doc.lookalike;
    lookalike = { audienceId: str(l.audienceId), audienceSize: num(l.audienceSize), quality: num(l.quality), lift: num(l.lift) };
  }
  const insight: InsightRow[] = [];
  if (Array.isArray(doc.insight)) {
    doc.insight.forEach((t, i) => {
      if (!isObj(t) || typeof t.name !== 'string') throw new ReportInputError(`insight[${i}]: expected {name, share, universeShare}, got ${JSON.stringify(t)}`);
      const share = num(t.share);
      const universeShare = num(t.universeShare);
      if (share === undefined || universeShare === undefined) throw new ReportInputError(`insight[${i}] (${t.name}): expected numeric share and universeShare`);
      const colon = t.name.indexOf(':');
      insight.push({ name: t.name, group: colon > 0 ? t.name.slice(0, colon) : 'other', value: colon > 0 ? t.name.slice(colon + 1) : t.name, total: num(t.total), share, universeShare });
    });
  }
  const budget: { label: string; value: number }[] = [];
  // `privacy`: the broker's ledger for this advertiser after the session (ε charged, spent, left, budget)
  const LABELS: Record<string, string> = { epsilonCharged: 'ε charged by this session', epsilonSpent: 'ε spent in the window', epsilonRemaining: 'ε left', budget: 'budget (ε per window)' };
  const b = doc.privacy ?? doc.privacyBudget;
  if (isObj(b)) for (const [k, v] of Object.entries(b)) if (num(v) !== undefined) budget.push({ label: LABELS[k] ?? k, value: v as number });
  return { sessionId: str(doc.sessionId), outcome: str(doc.outcome), reason: str(doc.reason), counts, lookalike, insight, budget };
}

const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en') : n.toFixed(3));
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

/** The insight report as an HTML document. */
export function renderInsightHtml(d: InsightData): string {
  const completed = d.outcome === 'COMPLETED';
  const parts: string[] = [];
  parts.push(`<h1>Cohort insight${d.sessionId ? ` — session <code>${esc(d.sessionId)}</code>` : ''}</h1>`);
  parts.push('<p class="sub">Advertiser report: aggregate figures only, released by the broker under the session\'s privacy policy (minimum cohort, noise).</p>');
  parts.push(`<div class="banner ${completed ? 'ok' : 'bad'}" id="outcome">Outcome: <strong>${esc(d.outcome ?? 'unknown')}</strong>${d.reason ? ` — ${esc(d.reason)}` : ''}</div>`);

  const cards = [...d.counts.map((c) => ({ k: c.label, v: fmt(c.value) }))];
  if (d.lookalike?.audienceSize !== undefined) cards.push({ k: 'look-alike audience', v: fmt(d.lookalike.audienceSize) });
  if (d.lookalike?.quality !== undefined) cards.push({ k: 'look-alike quality', v: d.lookalike.quality.toFixed(3) });
  if (d.lookalike?.lift !== undefined) cards.push({ k: 'lift (simulation ground truth)', v: d.lookalike.lift.toFixed(2) });
  parts.push('<h2>Counts</h2>');
  parts.push(`<div class="cards" id="counts">${cards.map((c) => `<div class="card"><div class="v">${esc(c.v)}</div><div class="k">${esc(c.k)}</div></div>`).join('')}</div>`);

  parts.push('<h2>Look-alike audience</h2>');
  if (d.lookalike) {
    parts.push(table(['audience handle', 'size', 'quality'], [[{ html: `<code>${esc(d.lookalike.audienceId ?? '—')}</code>` }, d.lookalike.audienceSize !== undefined ? fmt(d.lookalike.audienceSize) : '—', d.lookalike.quality !== undefined ? d.lookalike.quality.toFixed(3) : '—']]));
    parts.push('<p>Quality is the audience\'s mean affinity to the cohort profile relative to the universe\'s (1 = no better than random). Media keeps the audience; you hold its handle.</p>');
  } else {
    parts.push('<p id="no-lookalike">No look-alike audience was built for this session.</p>');
  }

  if (d.budget.length > 0) {
    parts.push('<h2>Privacy budget</h2>');
    parts.push('<p>The broker\'s privacy ledger for your organisation, this media and universe epoch, after this session.</p>');
    parts.push(`<div id="budget">${table(['figure', 'value'], d.budget.map((b) => [b.label, fmt(b.value)]))}</div>`);
  }

  if (d.insight.length > 0) {
    parts.push('<h2>Cohort profile against the universe</h2>');
    parts.push('<p>Share of the cohort with each attribute (noised totals ÷ cohort size) next to its share in media\'s whole universe.</p>');
    const groups = [...new Set(d.insight.map((r) => r.group))];
    parts.push('<div class="charts">');
    for (const g of groups) {
      const rows = d.insight.filter((r) => r.group === g);
      const svg = barChartSvg({
        categories: rows.map((r) => r.value), percent: true, horizontal: rows.length > 12, width: rows.length > 12 ? 1060 : 520,
        series: [{ name: 'cohort', values: rows.map((r) => r.share), color: '#2f6fdf' }, { name: 'universe', values: rows.map((r) => r.universeShare), color: '#a7b4c4' }],
      });
      parts.push(`<div class="chart" data-group="${esc(g)}"${rows.length > 12 ? ' style="grid-column: 1 / -1"' : ''}><h3>${esc(g)}</h3>${svg}</div>`);
    }
    parts.push('</div>');
    const over = d.insight.filter((r) => r.universeShare > 0).map((r) => ({ ...r, index: r.share / r.universeShare })).sort((a, b) => b.index - a.index).slice(0, 10);
    parts.push('<h2>Where the cohort over-indexes</h2>');
    parts.push(table(['attribute', 'cohort share', 'universe share', 'index (100 = universe)'], over.map((r) => [r.name, { html: `<span class="num">${pct(r.share)}</span>` }, pct(r.universeShare), Math.round(r.index * 100)])));
  }
  return page(`cleanroom insight${d.sessionId ? ` ${d.sessionId}` : ''}`, parts.join('\n'));
}
