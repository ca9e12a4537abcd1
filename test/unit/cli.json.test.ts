/**
 * The CLI for scripts: `--json` prints one JSON document on stdout; progress lines go to a
 * terminal only, so a pipe gets the result and nothing else (issue 12, item 6).
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../cli/src/cluster.ts';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'cli/src/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('cleanroom --json in a pipe', () => {
  // noise off: this test is about the output format; with noise a cohort this small is refused now and then
  it('simulate --json prints the result document only; audit verify --json agrees with it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cleanroom-json-'));
    const sim = await cli(['simulate', '--out', out, '--universe', '3000', '--crm', '900', '--audience', '100', '--plaintext', '--noise', '0', '--json']);
    expect(sim.code, sim.stderr).toBe(0);
    const doc = JSON.parse(sim.stdout) as { outcome: string; sessionId: string; transcripts: string; privacy: { epsilonCharged: number } };
    expect(doc.outcome).toBe('COMPLETED');
    expect(doc.privacy.epsilonCharged).toBe(1.1);
    // no progress lines in a pipe (they are for terminals)
    expect(sim.stderr).not.toMatch(/phase |starting advertiser/);
    const audit = await cli(['audit', 'verify', '--json', '--trust', join(out, 'pki', 'trust-bundle.json'), join(out, 'transcripts')]);
    expect(audit.code, audit.stdout).toBe(0);
    const report = JSON.parse(audit.stdout) as { ok: boolean; sessions: { sessionId: string }[]; budget: { ok: boolean } };
    expect(report.ok).toBe(true);
    expect(report.budget.ok).toBe(true);
    expect(report.sessions.map((s) => s.sessionId)).toContain(doc.sessionId);
  });
});
