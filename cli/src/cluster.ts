/**
 * Starts the three nodes as separate OS processes on loopback (the `simulate` command,
 * `make demo`, the bench and the gRPC tests use it). Each node gets its own state and log
 * file; ports are picked free; PKI material is created when missing — also in plaintext
 * mode, where the nodes still sign their transcripts. `stop()` ends all three (SIGTERM, then
 * SIGKILL after 5 s). A node that exits before it is ready rejects start-up with a
 * NodeExitedError carrying its exit code (2: its configuration) and the lines it logged in
 * this run only (a log file appended to across runs is read from where this run began).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { freePort } from '@cleanroom/shared/common/free-port.ts';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from './admin-client.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import { withNodeHeapOptions } from '@cleanroom/shared/service/memory.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ClusterOptions {
  outDir: string;
  worldDir: string;
  pkiDir?: string;
  devPlaintext?: boolean;
  env?: Partial<Record<Party, Record<string, string>>>;
  readyTimeoutMs?: number;
  /** Checkout to run a party's node from (default ROOT): bench/sync.ts pairs two versions of the broker on one world. */
  roots?: Partial<Record<Party, string>>;
}

/** A node process that exited before it was ready. */
export class NodeExitedError extends Error {
  readonly party: Party;
  readonly code: number | null;
  constructor(party: Party, code: number | null, tail: string) {
    super(`${party} node exited with code ${code} before it was ready; its log from this run:\n${tail}`);
    this.name = 'NodeExitedError';
    this.party = party;
    this.code = code;
  }
}

export interface NodeProc {
  party: Party;
  proc: ChildProcess;
  grpcPort: number;
  adminPort: number;
  admin: AdminClient;
  logFile: string;
  /** Size of the log file when this process started: where its own lines begin. */
  logStart: number;
  exited: Promise<number | null>;
}

export interface Cluster {
  nodes: Record<Party, NodeProc>;
  transcriptDir: string;
  stateDir: (p: Party) => string;
  stop(): Promise<void>;
  /** Stops party p (SIGTERM), runs `beforeStart` (e.g. deletes part of its state), starts it again and waits until it is ready. */
  restart(p: Party, beforeStart?: () => void): Promise<void>;
}


export function ensurePki(pkiDir: string): void {
  if (existsSync(join(pkiDir, 'trust-bundle.json'))) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts/gen-pki.ts'), '--out', pkiDir], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Starts the three nodes and waits until each is ready. A node that could not bind its port
 * (another process took it between the draw and the bind) is not a configuration error of the
 * caller's: the cluster starts again on freshly drawn ports, up to three times.
 */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(o);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof NodeExitedError && err.code === 2 && /port is already in use/.test(err.message))) throw err;
    }
  }
}

async function startClusterOnce(o: ClusterOptions): Promise<Cluster> {
  const outDir = resolve(o.outDir);
  const pkiDir = resolve(o.pkiDir ?? join(outDir, 'pki'));
  ensurePki(pkiDir); // plaintext mode too: the signing keys and trust bundle are always needed
  const transcriptDir = join(outDir, 'transcripts');
  const logDir = join(outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const ports: Record<Party, [number, number]> = {
    advertiser: [await freePort(), await freePort()],
    media: [await freePort(), await freePort()],
    broker: [await freePort(), await freePort()],
  };
  const stateDir = (p: Party) => join(outDir, 'state', p);
  const envFor = (p: Party): Record<string, string> => ({
    CLEANROOM_GRPC_LISTEN: `127.0.0.1:${ports[p][0]}`,
    CLEANROOM_ADMIN_LISTEN: `127.0.0.1:${ports[p][1]}`,
    CLEANROOM_BROKER_ADDR: `localhost:${ports.broker[0]}`,
    CLEANROOM_MEDIA_ADDR: `localhost:${ports.media[0]}`,
    CLEANROOM_ADVERTISER_ADDR: `localhost:${ports.advertiser[0]}`,
    CLEANROOM_STATE_DIR: stateDir(p),
    CLEANROOM_TRANSCRIPT_DIR: transcriptDir,
    CLEANROOM_PKI_DIR: pkiDir,
    CLEANROOM_DEV_PLAINTEXT: o.devPlaintext ? '1' : '0',
    ...(p === 'media' ? { CLEANROOM_DATA: join(o.worldDir, 'media/universe.csv') } : {}),
    ...(p === 'media' && existsSync(join(o.worldDir, 'media/labels.csv')) ? { CLEANROOM_LABELS: join(o.worldDir, 'media/labels.csv') } : {}),
    ...(p === 'advertiser' ? { CLEANROOM_DATA: join(o.worldDir, 'advertiser/crm.csv') } : {}),
    ...(o.env?.[p] ?? {}),
  });
  const start = (p: Party): NodeProc => {
    const logFile = join(logDir, `${p}.log`);
    const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
    const out = createWriteStream(logFile, { flags: 'a' });
    const root = o.roots?.[p] ?? ROOT;
    const proc = spawn(process.execPath, [join(root, `services/${p}/src/main.ts`)], {
      env: { ...process.env, ...envFor(p), NODE_OPTIONS: withNodeHeapOptions(o.env?.[p]?.NODE_OPTIONS ?? process.env.NODE_OPTIONS) }, stdio: ['ignore', 'pipe', 'pipe'], cwd: root,
    });
    // Both streams into one file, which ends when the process and its pipes have closed: so
    // when `exited` resolves, everything the node wrote is in the file.
    proc.stdout!.pipe(out, { end: false });
    proc.stderr!.pipe(out, { end: false });
    const exited = new Promise<number | null>((r) => proc.once('close', (code) => out.end(() => r(code))));
    return { party: p, proc, grpcPort: ports[p][0], adminPort: ports[p][1], admin: new AdminClient(`http://127.0.0.1:${ports[p][1]}`), logFile, logStart, exited };
  };
  const nodes = { media: start('media'), broker: start('broker'), advertiser: start('advertiser') } as Record<Party, NodeProc>;
  const cluster: Cluster = {
    nodes, transcriptDir, stateDir,
    async stop() {
      await Promise.all(Object.values(nodes).map(async (n) => {
        if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
        n.proc.kill('SIGTERM');
        const t = setTimeout(() => n.proc.kill('SIGKILL'), 5000);
        await n.exited;
        clearTimeout(t);
      }));
    },
    async restart(p: Party, beforeStart?: () => void) {
      const n = nodes[p];
      if (n.proc.exitCode === null && n.proc.signalCode === null) {
        n.proc.kill('SIGTERM');
        await n.exited;
      }
      beforeStart?.();
      nodes[p] = start(p);
      await waitReady(nodes[p], o.readyTimeoutMs ?? 600_000);
    },
  };
  try {
    for (const p of ['media', 'broker', 'advertiser'] as const) await waitReady(nodes[p], o.readyTimeoutMs ?? 600_000);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** The last `lines` lines `n` logged in this run (never lines of an earlier run). */
function logTail(n: NodeProc, lines: number): string {
  const fd = openSync(n.logFile, 'r');
  try {
    const size = statSync(n.logFile).size;
    const from = Math.max(n.logStart, size - 64 * 1024);
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8').split('\n').filter((l) => l.length > 0).slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

async function waitReady(n: NodeProc, timeoutMs: number): Promise<void> {
  const died = n.exited.then((code) => {
    throw new NodeExitedError(n.party, code, logTail(n, 15));
  });
  await Promise.race([n.admin.waitReady(timeoutMs), died]);
}
