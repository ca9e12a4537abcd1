/**
 * Issue 9, item 10, on the real `cleanroom` command: every command answers --help with exit 0;
 * `simulate` on a fresh --out in plaintext mode starts its nodes (the signing keys are
 * generated there too); a node's configuration error makes `simulate` exit 2 with that node's
 * own message and none of the lines an earlier run left in the same log file.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { startCluster } from '../../cli/src/cluster.ts';

const ROOT = join(import.meta.dirname, '../..');

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'cli/src/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the cleanroom command (issue 9, item 10)', () => {
  it.each([
    ['gen-data', '--help'], ['simulate', '--help'], ['session', 'start', '--help'], ['session', '--help'], ['audit', 'verify', '--help'], ['audit', '-h'],
  ])('cleanroom %s %s … → its usage, exit 0', async (...args) => {
    const r = await cli(args.filter((a): a is string => typeof a === 'string'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage:\\n {2}cleanroom ${args[0]} `));
  });

  it('simulate --plaintext on a fresh --out: the nodes get signing keys and become ready', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cleanroom-sim-plain-'));
    const world = join(out, 'world');
    await generateWorld(world, { seed: 'plain', universeSize: 1000, crmSize: 100 });
    const c = await startCluster({ outDir: out, worldDir: world, devPlaintext: true });
    try {
      expect(existsSync(join(out, 'pki', 'trust-bundle.json'))).toBe(true);
      expect((await c.nodes.broker.admin.request<{ ready: boolean }>('GET', '/readyz')).ready).toBe(true);
    } finally {
      await c.stop();
    }
  });

  it("a node's configuration error: simulate exits 2 with the node's message, not lines of an earlier run", async () => {
    const out = mkdtempSync(join(tmpdir(), 'cleanroom-sim-bad-'));
    mkdirSync(join(out, 'logs'));
    writeFileSync(join(out, 'logs', 'broker.log'), 'STALE LINE FROM AN EARLIER RUN\n');
    // --noise passes the CLI's own check (≥ 0) but not the broker's (CLEANROOM_NOISE_SCALE ≤ 1000)
    const r = await cli(['simulate', '--out', out, '--universe', '1000', '--crm', '100', '--noise', '5000', '--plaintext']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/broker node exited with code 2 before it was ready/);
    expect(r.stderr).toMatch(/CLEANROOM_NOISE_SCALE: expected a number in \[0, 1000\], got '5000'/);
    expect(r.stderr).not.toMatch(/STALE LINE/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
