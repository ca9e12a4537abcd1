/**
 * Tests' runner of the media one-shot (prepare.ts) as its own process, as a Kubernetes Job's pod
 * runs it: its exit code, stdout and stderr once it has ended.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PREPARE = fileURLToPath(new URL('./prepare.ts', import.meta.url));

export function runPrepare(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [PREPARE, ...args], { env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}
