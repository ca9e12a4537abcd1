/**
 * Container test harness: runs the real node image (deploy/Dockerfile) on a Docker engine.
 *
 * What it provides, and guarantees:
 * - `probeDocker()`: whether an engine answers (dockerode ping, 5 s bound). The test file
 *   skips every test when it does not, after printing ONE line
 *   "container tests skipped: no Docker engine at /var/run/docker.sock (<reason>)" — never a
 *   silent green. CLEANROOM_REQUIRE_DOCKER=1 turns that skip into a failure.
 * - `buildImage()`: `scripts/build-image.sh` once per run — it stages the context, labels the
 *   image with a hash of sources + Dockerfile + base, and rebuilds only when that changed
 *   (offline base image when no registry is reachable).
 * - `prepareShared()`: named volumes with generated data (gen-data one-shot: A's CRM, B's
 *   universe; ground truth stays in the one-shot) and per-party PKI (pki one-shot via
 *   deploy/tasks.ts: each party's volume gets only its own keys + the public trust files).
 *   Nodes mount these read-only, so several clusters can share them.
 * - `startCluster()`: media, broker, advertiser on one user-defined network (aliases =
 *   party names, mTLS certificates are issued for those names), each with its own state and
 *   transcript volumes, admin port published on a random host port; started in dependency
 *   order with HTTP wait strategies on /healthz, then waits for every /readyz.
 * - Everything created carries the label org.cleanroom.test-run=<runId>; `cleanupRun()`
 *   removes all of it (containers, networks, volumes) even when a test failed half-way.
 *
 * Ryuk (testcontainers' reaper) is disabled: its image cannot be pulled offline, and the
 * label sweep above does its job.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { StartedTestContainer } from 'testcontainers';

process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';

export type Party = 'advertiser' | 'media' | 'broker';
export const PARTIES: readonly Party[] = ['media', 'broker', 'advertiser'];
export const GRPC_PORT: Record<Party, number> = { advertiser: 50051, media: 50052, broker: 50053 };
export const ADMIN_PORT: Record<Party, number> = { advertiser: 8081, media: 8082, broker: 8083 };

export const IMAGE = process.env.CLEANROOM_IMAGE ?? 'cleanroom/node:dev';
export const UNIVERSE = Number(process.env.CONTAINER_TEST_UNIVERSE ?? 20_000);
export const ADMIN_TOKEN = randomBytes(24).toString('hex');
export const RUN_ID = `crtest-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const LABELS = { 'org.cleanroom.test': 'containers', 'org.cleanroom.test-run': RUN_ID };
const SOCKET = process.env.DOCKER_HOST ?? '/var/run/docker.sock';
const REPO = new URL('../../', import.meta.url).pathname;

export const docker = new Docker();
const tc = () => import('testcontainers');

export type Probe = { ok: true; version: string } | { ok: false; reason: string };

/** Is a Docker engine reachable? Never throws. */
export async function probeDocker(): Promise<Probe> {
  try {
    const v = await Promise.race([
      docker.version(),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer within 5 s')), 5000).unref()),
    ]);
    return { ok: true, version: v.Version };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, reason: err.code ? `${err.code}: ${err.message}` : err.message };
  }
}

/** The one line printed when the group skips. */
export function skipLine(p: Probe): string {
  return p.ok ? '' : `container tests skipped: no Docker engine at ${SOCKET} (${p.reason})`;
}

/** Builds (or reuses, by source hash) the node image; returns the build script's summary line. */
export async function buildImage(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', ['scripts/build-image.sh'], {
    cwd: REPO,
    env: { ...process.env, CLEANROOM_IMAGE: IMAGE },
    maxBuffer: 16 * 1024 * 1024,
  }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`scripts/build-image.sh failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  });
  return stdout.trim().split('\n').at(-1) ?? '';
}

// ---------------------------------------------------------------- one-shot containers

/** Docker's multiplexed log stream (non-TTY) → text. */
export function demux(buf: Buffer): string {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return Buffer.concat(out).toString('utf8');
}

export async function containerLogs(id: string): Promise<string> {
  const raw = (await docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  return demux(raw);
}

export interface OneShot {
  exitCode: number;
  logs: string;
  seconds: number;
}

/** Runs the image with `cmd` to completion (bounded), returns exit code and logs, removes it. */
export async function runOneShot(
  name: string,
  cmd: string[],
  o: { binds?: string[]; env?: Record<string, string>; network?: string; timeoutMs?: number } = {},
): Promise<OneShot> {
  const t0 = Date.now();
  const c = await docker.createContainer({
    name: `${RUN_ID}-${name}`,
    Image: IMAGE,
    Cmd: cmd,
    Env: Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: LABELS,
    HostConfig: { Binds: o.binds ?? [], NetworkMode: o.network ?? 'none' },
  });
  try {
    await c.start();
    const timeoutMs = o.timeoutMs ?? 300_000;
    const res = await Promise.race([
      c.wait() as Promise<{ StatusCode: number }>,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${name}: still running after ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    return { exitCode: res.StatusCode, logs: await containerLogs(c.id), seconds: (Date.now() - t0) / 1000 };
  } finally {
    await c.remove({ force: true }).catch(() => {});
  }
}

async function volume(name: string): Promise<string> {
  const full = `${RUN_ID}-${name}`;
  await docker.createVolume({ Name: full, Labels: LABELS });
  return full;
}

// ---------------------------------------------------------------- shared data + PKI

export interface Shared {
  vol: { advertiserData: string; mediaData: string; pki: Record<Party, string> };
  genData: OneShot;
  pki: OneShot;
}

export async function prepareShared(seed = 7): Promise<Shared> {
  const vol = {
    advertiserData: await volume('advertiser-data'),
    mediaData: await volume('media-data'),
    pki: { advertiser: await volume('pki-advertiser'), media: await volume('pki-media'), broker: await volume('pki-broker') },
  };
  const genData = await runOneShot('gen-data', ['node', 'cli/src/main.ts', 'gen-data', '--out', '/var/lib/cleanroom/out', '--universe', String(UNIVERSE), '--crm', String(Math.max(100, Math.floor(UNIVERSE / 10))), '--seed', String(seed)], {
    binds: [`${vol.advertiserData}:/var/lib/cleanroom/out/advertiser`, `${vol.mediaData}:/var/lib/cleanroom/out/media`],
  });
  if (genData.exitCode !== 0) throw new Error(`gen-data exited ${genData.exitCode}:\n${genData.logs}`);
  const pki = await runOneShot('pki', ['node', 'deploy/tasks.ts', 'pki', '/var/lib/cleanroom/pki-out'], {
    binds: (['advertiser', 'media', 'broker'] as const).map((p) => `${vol.pki[p]}:/var/lib/cleanroom/pki-out/${p}`),
  });
  if (pki.exitCode !== 0) throw new Error(`pki exited ${pki.exitCode}:\n${pki.logs}`);
  return { vol, genData, pki };
}

/** Removes the shared data and PKI volumes (after every cluster using them is gone). */
export async function removeShared(shared: Shared | undefined): Promise<void> {
  if (!shared) return;
  const { advertiserData, mediaData, pki } = shared.vol;
  for (const v of [advertiserData, mediaData, ...Object.values(pki)]) await docker.getVolume(v).remove().catch(() => {});
}

// ---------------------------------------------------------------- admin API client

export interface Answer {
  status: number;
  body: any;
}

export async function call(base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json: any = text;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* keep text */
  }
  return { status: res.status, body: json };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- a three-node cluster

export interface ClusterOptions {
  /** short name, unique per run (container names, volumes) */
  name: string;
  deadlineMs?: number;
  env?: Partial<Record<Party, Record<string, string>>>;
}

export class Cluster {
  readonly name: string;
  /** the user-defined network's name (also its id for the Docker API) */
  readonly network: string;
  readonly nodes: Record<Party, StartedTestContainer>;
  private readonly volumes: string[];

  constructor(name: string, network: string, nodes: Record<Party, StartedTestContainer>, volumes: string[]) {
    this.name = name;
    this.network = network;
    this.nodes = nodes;
    this.volumes = volumes;
  }

  /** http://host:port of a node's admin API (re-read after restarts: the host port may change). */
  url(party: Party): string {
    const n = this.nodes[party];
    return `http://${n.getHost()}:${n.getMappedPort(ADMIN_PORT[party])}`;
  }

  api(party: Party, method: string, path: string, body?: unknown): Promise<Answer> {
    return call(this.url(party), method, path, body);
  }

  logs(party: Party): Promise<string> {
    return containerLogs(this.nodes[party].getId());
  }

  async waitReady(party: Party, timeoutMs = 300_000): Promise<any> {
    return until(`${party} /readyz`, timeoutMs, async () => {
      const r = await this.api(party, 'GET', '/readyz');
      return r.status === 200 ? r.body : undefined;
    });
  }

  async startSession(body: Record<string, unknown>): Promise<string> {
    const r = await this.api('advertiser', 'POST', '/v1/sessions', body);
    if (r.status !== 202 || typeof r.body?.sessionId !== 'string') throw new Error(`POST /v1/sessions: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.sessionId;
  }

  /** Polls a node's view of a session until `done(view)` holds. */
  async waitSession(party: Party, id: string, done: (view: any) => boolean, timeoutMs: number, everyMs = 250): Promise<any> {
    return until(`${party} session ${id}`, timeoutMs, async () => {
      const r = await this.api(party, 'GET', `/v1/sessions/${id}`);
      return r.status === 200 && done(r.body) ? r.body : undefined;
    }, everyMs);
  }

  async dumpLogs(): Promise<string> {
    const parts: string[] = [];
    for (const p of PARTIES) parts.push(`----- ${p}\n${(await this.logs(p).catch((e: Error) => e.message)).split('\n').slice(-40).join('\n')}`);
    return parts.join('\n');
  }

  async stop(): Promise<void> {
    for (const p of [...PARTIES].reverse()) await this.nodes[p].stop({ timeout: 5, remove: true, removeVolumes: true }).catch(() => {});
    await docker.getNetwork(this.network).remove().catch(() => {});
    for (const v of this.volumes) await docker.getVolume(v).remove().catch(() => {});
  }
}

export async function startCluster(shared: Shared, o: ClusterOptions): Promise<Cluster> {
  const { GenericContainer, Wait } = await tc();
  const network = `${RUN_ID}-${o.name}`;
  await docker.createNetwork({ Name: network, Driver: 'bridge', CheckDuplicate: true, Labels: LABELS });
  const volumes: string[] = [];
  const nodes: Partial<Record<Party, StartedTestContainer>> = {};
  try {
    for (const party of PARTIES) {
      const state = await volume(`${o.name}-${party}-state`);
      const transcripts = await volume(`${o.name}-${party}-transcripts`);
      volumes.push(state, transcripts);
      const binds = [
        { source: state, target: '/var/lib/cleanroom/state', mode: 'rw' as const },
        { source: transcripts, target: '/var/lib/cleanroom/transcripts', mode: 'rw' as const },
        { source: shared.vol.pki[party], target: '/var/lib/cleanroom/pki', mode: 'ro' as const },
      ];
      const env: Record<string, string> = {
        CLEANROOM_GRPC_LISTEN: `0.0.0.0:${GRPC_PORT[party]}`,
        CLEANROOM_ADMIN_LISTEN: `0.0.0.0:${ADMIN_PORT[party]}`,
        CLEANROOM_ADMIN_TOKEN: ADMIN_TOKEN,
        CLEANROOM_PKI_DIR: '/var/lib/cleanroom/pki',
        CLEANROOM_STATE_DIR: '/var/lib/cleanroom/state',
        CLEANROOM_TRANSCRIPT_DIR: '/var/lib/cleanroom/transcripts',
        CLEANROOM_DEADLINE_MS: String(o.deadlineMs ?? 120_000),
        CLEANROOM_LOG_LEVEL: 'info',
      };
      if (party === 'media') {
        binds.push({ source: shared.vol.mediaData, target: '/var/lib/cleanroom/data', mode: 'ro' });
        env.CLEANROOM_DATA = '/var/lib/cleanroom/data/universe.csv';
      } else if (party === 'advertiser') {
        binds.push({ source: shared.vol.advertiserData, target: '/var/lib/cleanroom/data', mode: 'ro' });
        env.CLEANROOM_DATA = '/var/lib/cleanroom/data/crm.csv';
        env.CLEANROOM_BROKER_ADDR = `broker:${GRPC_PORT.broker}`;
      } else {
        env.CLEANROOM_MEDIA_ADDR = `media:${GRPC_PORT.media}`;
        env.CLEANROOM_ADVERTISER_ADDR = `advertiser:${GRPC_PORT.advertiser}`;
        // These tests run the same cohort again and again (restarts, faults): the
        // differencing rule, which refuses repeats by design, is off here.
        env.CLEANROOM_DIFFERENCING_MIN = '0';
      }
      Object.assign(env, o.env?.[party] ?? {});
      nodes[party] = await new GenericContainer(IMAGE)
        .withName(`${RUN_ID}-${o.name}-${party}`)
        .withLabels(LABELS)
        .withCommand(['node', `services/${party}/src/main.ts`])
        .withNetworkMode(network)
        .withNetworkAliases(party)
        .withExposedPorts(ADMIN_PORT[party])
        .withEnvironment(env)
        .withBindMounts(binds)
        .withTmpFs({ '/tmp': 'rw,size=64m' })
        .withWaitStrategy(
          Wait.forHttp('/healthz', ADMIN_PORT[party], { abortOnContainerExit: true })
            .withHeaders({ authorization: `Bearer ${ADMIN_TOKEN}` })
            .forStatusCode(200),
        )
        .withStartupTimeout(180_000)
        .start();
    }
    const cluster = new Cluster(o.name, network, nodes as Record<Party, StartedTestContainer>, volumes);
    for (const p of PARTIES) await cluster.waitReady(p);
    return cluster;
  } catch (e) {
    for (const p of PARTIES) await nodes[p]?.stop({ timeout: 1, remove: true, removeVolumes: true }).catch(() => {});
    await docker.getNetwork(network).remove().catch(() => {});
    for (const v of volumes) await docker.getVolume(v).remove().catch(() => {});
    throw e;
  }
}

/** Removes every container, network and volume this run created (label sweep). */
export async function cleanupRun(): Promise<{ containers: number; networks: number; volumes: number }> {
  const filters = { label: [`org.cleanroom.test-run=${RUN_ID}`] };
  const containers = await docker.listContainers({ all: true, filters });
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {});
  const networks = await docker.listNetworks({ filters });
  for (const n of networks) await docker.getNetwork(n.Id).remove().catch(() => {});
  const { Volumes } = await docker.listVolumes({ filters });
  for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove().catch(() => {});
  return { containers: containers.length, networks: networks.length, volumes: (Volumes ?? []).length };
}
