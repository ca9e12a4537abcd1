/**
 * `cleanroom report insight|audit` on a real session: three nodes in one process (real OPRF,
 * real BFV, signed transcripts), then the insight page from the advertiser's result and the
 * audit page from the three transcripts — checked against the result and the verifier's own
 * report, a tampered transcript highlighted at the failing entry, the CLI's exit codes — and
 * both pages opened in Debian's headless Chromium (playwright-core): no console error, no
 * request to anywhere, screenshots under out/. The browser part skips with one line when no
 * Chromium is installed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cluster } from './nodes.ts';
import { makeTrustBundle, type TrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { verifySession } from '@cleanroom/shared/transcript/verify.ts';
import { readInsight, renderInsightHtml, ReportInputError } from '@cleanroom/shared/report/insight.ts';
import { collectAudit, renderAuditHtml } from '@cleanroom/shared/report/audit.ts';
import { makeWorld, type World } from './world.ts';
import { mulberry32 } from '@cleanroom/shared/testing/rng.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'cli/src/main.ts');
const CHROMIUM = process.env.CLEANROOM_CHROMIUM ?? '/usr/bin/chromium'; // override to test the skip path

let w: World;
let result: Record<string, any>;
let sessionDir: string;
let trust: TrustBundle;
let work: string;

beforeAll(async () => {
  w = await makeWorld({ universeSize: 6000, crmSize: 900 });
  // fixed noise draws: with fresh ones the noised cohort of this small world falls below 20 now and then
  const c = cluster(w, { policy: { minCohort: 20 }, uniform: mulberry32(20261130) });
  const { advertiser, broker, transcriptDir } = c;
  await broker.syncUniverse();
  const { sessionId, done } = advertiser.start({ audienceSize: 300, minCohort: 20 });
  const rec = await done;
  expect(rec.status).toBe('completed');
  result = rec.result as Record<string, any>;
  sessionDir = join(transcriptDir, sessionId);
  trust = makeTrustBundle({ advertiser: w.identities.advertiser.key.publicKey, media: w.identities.media.key.publicKey, broker: w.identities.broker.key.publicKey });
  work = mkdtempSync(join(tmpdir(), 'cleanroom-report-'));
  writeFileSync(join(work, 'result.json'), JSON.stringify(result));
  writeFileSync(join(work, 'trust-bundle.json'), JSON.stringify(trust));
}, 300_000);

/** Text of an HTML fragment without tags (for content checks). */
const text = (html: string) => html.replace(/<(svg|style)[\s\S]*?<\/\1>/g, ' ').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ')
  .replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

describe('report insight', () => {
  it('shows the session\'s outcome, counts, look-alike and one cohort-vs-universe chart per attribute group', () => {
    const html = renderInsightHtml(readInsight(result));
    const t = text(html);
    expect(t).toContain(`session ${result.sessionId}`);
    expect(t).toContain('Outcome: COMPLETED');
    expect(t).toContain(`${result.cohortSize.toLocaleString('en')} cohort size`);
    expect(t).toContain(`${result.seeds.valid.toLocaleString('en')} valid seeds`);
    expect(t).toContain(result.lookalike.audienceId);
    expect(t).toContain(`${result.lookalike.audienceSize.toLocaleString('en')} look-alike audience`);
    expect(t).toContain(result.lookalike.quality.toFixed(3));
    // the privacy budget as the broker's ledger reported it in the result
    expect(result.privacy.epsilonCharged).toBeGreaterThan(0);
    const budget = text(html.slice(html.indexOf('<div id="budget">')));
    const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en') : n.toFixed(3));
    expect(budget).toContain(`ε charged by this session ${fmt(result.privacy.epsilonCharged)}`);
    expect(budget).toContain(`ε left ${fmt(result.privacy.epsilonRemaining)}`);
    const groups = [...html.matchAll(/<div class="chart" data-group="([^"]+)"/g)].map((m) => m[1]);
    expect(groups).toEqual(['age', 'gender', 'city', 'os', 'activity', 'interest']);
    expect(html.match(/<svg /g)!.length).toBe(6);
    // every attribute value is a category of its group's chart
    for (const row of result.insight as { name: string }[]) expect(html).toContain(`>${row.name.split(':')[1]}<`);
    // the most over-indexed attribute, computed here from the result, leads the table
    const top = [...result.insight].filter((r: any) => r.universeShare > 0).sort((a: any, b: any) => b.share / b.universeShare - a.share / a.universeShare)[0];
    expect(t).toMatch(new RegExp(`Where the cohort over-indexes attribute cohort share universe share index \\(100 = universe\\) ${top.name.replace(/[-+]/g, '\\$&')} `));
    // self-contained: no script, nothing fetched
    expect(html.replace(/xmlns(:\w+)?="[^"]*"/g, '')).not.toMatch(/<script|https?:\/\/|src=|url\(/i);
    expect(html).toContain("default-src 'none'");
  });

  it('reads the result defensively: fields may be missing or new; a non-result is refused; text is escaped', () => {
    const { matches: _m, ...noMatches } = result;
    const lean = { ...noMatches, lookalike: { audienceId: 'aud-1', audienceSize: 10 }, somethingNew: { x: 1 } };
    const html = renderInsightHtml(readInsight(lean));
    expect(text(html)).toContain('10 look-alike audience');
    expect(text(html)).not.toContain('padded set size');
    expect(() => readInsight([])).toThrow(ReportInputError);
    expect(() => readInsight({ hello: 1 })).toThrow(/expected a session result/);
    expect(() => readInsight({ outcome: 'COMPLETED', insight: [{ name: 'age:18-24', share: 'x', universeShare: 0.1 }] })).toThrow(/insight\[0\]/);
    const evil = renderInsightHtml(readInsight({ outcome: '<script>alert(1)</script>', insight: [{ name: 'age:<img src=x>', share: 0.5, universeShare: 0.2 }] }));
    expect(evil).not.toContain('<script>alert');
    expect(evil).not.toContain('<img src=x>');
    expect(evil).toContain('&lt;script&gt;');
  });
});

describe('report audit', () => {
  it('lists parties, messages, checkpoints and every verification check as the verifier reports them', () => {
    const expected = verifySession(readdirSync(sessionDir).map((f) => join(sessionDir, f)), trust);
    expect(expected.ok).toBe(true);
    const sessions = collectAudit([sessionDir], trust);
    expect(sessions).toHaveLength(1);
    const html = renderAuditHtml(sessions);
    const t = text(html);
    expect(t).toContain('Verification: every check holds');
    for (const c of expected.checks) expect(t).toContain(`${c.name} ok ${text(c.detail).trim()}`);
    expect(t).toContain('advertiser, broker, media parties');
    // each distinct message once, in the table, with its recorders
    const statements = new Set<string>();
    for (const f of readdirSync(sessionDir)) {
      for (const line of readFileSync(join(sessionDir, f), 'utf8').split('\n').filter(Boolean)) {
        const e = JSON.parse(line);
        if (!e.kind) statements.add(`${e.statement.sender}|${e.statement.receiver}|${e.statement.round}|${e.statement.seq}|${e.statement.chunk}`);
      }
    }
    expect(sessions[0]!.rows.filter((r) => r.kind === 'message')).toHaveLength(statements.size);
    expect(t).toContain(`${statements.size.toLocaleString('en')} distinct messages`);
    expect(html.match(/<tr class="checkpoint">/g)!.length).toBe(sessions[0]!.rows.filter((r) => r.kind === 'checkpoint').length);
    expect(t).toMatch(/checkpoint after LOOKALIKE: \d+ messages, root [0-9a-f]{16}…, co-signed by broker, advertiser, media/);
    expect(html).not.toMatch(/<tr class="fail">/);
  });

  it('a tampered transcript: FAILED, and the entry the verifier names is the highlighted row', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'cleanroom-report-tamper-')), basename(sessionDir));
    cpSync(sessionDir, copy, { recursive: true });
    const file = join(copy, 'media.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"round":"BLIND"') && l.includes('"direction":"sent"'));
    expect(i).toBeGreaterThan(0);
    lines[i] = lines[i]!.replace(/"payloadSize":(\d+)/, (_m, n) => `"payloadSize":${Number(n) + 1}`);
    writeFileSync(file, lines.join('\n'));
    const [s] = collectAudit([copy], trust);
    expect(s!.report!.ok).toBe(false);
    const f = s!.report!.firstFailure!;
    const html = renderAuditHtml([s!]);
    expect(text(html)).toContain(`Verification: FAILED — first failure at ${basename(f.file)}:${f.line}`);
    const failRows = [...html.matchAll(/<tr class="fail">(.*?)<\/tr>/g)].map((m) => text(m[1]!));
    expect(failRows.some((r) => r.includes(`${basename(f.file)}:${f.line}`))).toBe(true);
  });
});

describe('cleanroom report (CLI)', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'report', ...args], { encoding: 'utf8', cwd: work });

  it('writes both pages; exit 0, 1 for a session that does not verify, 2 for bad input', () => {
    const r1 = run('insight', join(work, 'result.json'), '--out', join(work, 'insight.html'));
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(0);
    expect(readFileSync(join(work, 'insight.html'), 'utf8')).toContain('Cohort insight');
    const r2 = run('audit', sessionDir, '--trust', join(work, 'trust-bundle.json'), '--out', join(work, 'audit.html'));
    expect(r2.status).toBe(0);
    expect(readFileSync(join(work, 'audit.html'), 'utf8')).toContain('every check holds');
    const other = makeTrustBundle({ advertiser: w.identities.media.key.publicKey, media: w.identities.advertiser.key.publicKey, broker: w.identities.broker.key.publicKey });
    writeFileSync(join(work, 'wrong-trust.json'), JSON.stringify(other));
    expect(run('audit', sessionDir, '--trust', join(work, 'wrong-trust.json'), '--out', join(work, 'bad.html')).status).toBe(1);
    writeFileSync(join(work, 'not-a-result.json'), '{"hello": 1}');
    const r3 = run('insight', join(work, 'not-a-result.json'));
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/expected a session result/);
    expect(run('insight').status).toBe(2);
    expect(run('pie').status).toBe(2);
  });
});

describe('reports in a real browser (Debian chromium, playwright-core)', () => {
  const have = existsSync(CHROMIUM);
  if (!have) console.log(`report browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  let browser: import('playwright-core').Browser | undefined;
  beforeAll(async () => {
    if (!have) return;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  const open = async (html: string, name: string) => {
    const outDir = join(ROOT, 'out');
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `${name}.html`);
    writeFileSync(file, html);
    const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
    return { page, errors, requests, png: join(outDir, `${name}.png`) };
  };

  it.skipIf(!have)('insight page: renders its charts, no console error, nothing fetched; screenshot in out/', async () => {
    const { page, errors, requests, png } = await open(renderInsightHtml(readInsight(result)), 'report-insight');
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.locator('div.chart svg').count()).toBe(6);
    const box = await page.locator('div.chart[data-group="age"] svg').boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(await page.locator('#outcome').innerText()).toContain('COMPLETED');
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
    await page.close();
  });

  it.skipIf(!have)('audit page: every check shown, no console error, nothing fetched; screenshot in out/', async () => {
    const { page, errors, requests } = await open(renderAuditHtml(collectAudit([sessionDir], trust)), 'report-audit');
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.locator('span.ok').count()).toBe(verifySession(readdirSync(sessionDir).map((f) => join(sessionDir, f)), trust).checks.length);
    expect(await page.locator('div.chart svg').count()).toBe(1);
    await page.close();
  });
});
