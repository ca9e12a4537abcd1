/**
 * Issue 9, item 7, on a real broker process: what only listening reveals — an admin or gRPC
 * port already in use, an admin host that does not resolve — ends with exit code 2 and one
 * message naming the variable, never a stack trace.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePki } from '@cleanroom/shared/pki/pki.ts';

const ROOT = join(import.meta.dirname, '../..');

function runBroker(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'services/broker/src/main.ts')], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('listen failures are configuration errors (exit 2)', () => {
  let pki: string;
  let busy: Server;
  let busyPort: number;
  const base = () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-startup-'));
    return {
      CLEANROOM_PKI_DIR: pki, CLEANROOM_STATE_DIR: join(dir, 'state'), CLEANROOM_TRANSCRIPT_DIR: join(dir, 'tx'),
      CLEANROOM_GRPC_LISTEN: '127.0.0.1:0', CLEANROOM_ADMIN_LISTEN: '127.0.0.1:0', CLEANROOM_LOG_LEVEL: 'silent',
      CLEANROOM_MEDIA_ADDR: '127.0.0.1:1', CLEANROOM_ADVERTISER_ADDR: '127.0.0.1:1',
    };
  };
  beforeAll(async () => {
    pki = mkdtempSync(join(tmpdir(), 'cleanroom-pki-'));
    generatePki(pki);
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(() => busy.close());

  const expectConfigExit = (r: { code: number | null; stderr: string }, variable: string, why: RegExp) => {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^cleanroom broker: invalid configuration:\\n  - ${variable}: cannot listen on `, 'm'));
    expect(r.stderr).toMatch(why);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  };

  it('the admin port already in use → exit 2 naming CLEANROOM_ADMIN_LISTEN', async () => {
    expectConfigExit(await runBroker({ ...base(), CLEANROOM_ADMIN_LISTEN: `127.0.0.1:${busyPort}` }), 'CLEANROOM_ADMIN_LISTEN', /the port is already in use/);
  });

  it('the gRPC port already in use → exit 2 naming CLEANROOM_GRPC_LISTEN', async () => {
    expectConfigExit(await runBroker({ ...base(), CLEANROOM_GRPC_LISTEN: `127.0.0.1:${busyPort}` }), 'CLEANROOM_GRPC_LISTEN', /the port is already in use/);
  });

  it('an admin host that does not resolve → exit 2 naming CLEANROOM_ADMIN_LISTEN', async () => {
    const r = await runBroker({ ...base(), CLEANROOM_ADMIN_LISTEN: 'no-such-host.invalid:8083', CLEANROOM_ADMIN_TOKEN: 'x'.repeat(32) });
    expectConfigExit(r, 'CLEANROOM_ADMIN_LISTEN', /the host does not resolve/);
  });
});
