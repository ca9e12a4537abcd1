/**
 * Node configuration from environment variables: one table of settings (also the source
 * of the README's configuration table), validated at start-up. Every mistake is reported
 * at once, each naming its variable; the result is a frozen object.
 */
import { PARTIES } from '../common/names.ts';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { IdType, Party } from '../protocol/messages.ts';
import { parseStoreUrl } from './store-url.ts';

/** CLEANROOM_SESSION_DEADLINE_MS when unset (and for nodes built without it): 30 minutes. */
export const DEFAULT_SESSION_DEADLINE_MS = 1_800_000;

export interface NodeConfig {
  party: Party;
  grpcListen: string;
  adminListen: string;
  healthListen: string | undefined;
  adminToken: string | undefined;
  brokerAddr: string;
  mediaAddr: string;
  advertiserAddr: string;
  data: string | undefined;
  stateDir: string;
  transcriptDir: string;
  pkiDir: string;
  tlsReloadSeconds: number;
  otlpEndpoint: string | undefined;
  devPlaintext: boolean;
  logLevel: string;
  deadlineMs: number;
  sessionDeadlineMs: number;
  maxMessageBytes: number;
  idTypes: IdType[];
  universeEpoch: string | undefined;
  universeKeyFile: string | undefined;
  shardStore: string | undefined;
  shardStoreEndpoint: string | undefined;
  shardStorePollSeconds: number;
  minDecoyRatio: number;
  minCohort: number;
  noiseScale: number | undefined;
  maxPaddedCount: number;
  evalThreads: number;
  psiPageItems: number;
  databaseUrl: string | undefined;
  epsilon: number;
  privacyBudget: number;
  budgetRefreshDays: number;
  differencingMin: number;
  evalQuota: number;
  evalQuotaBroker: number;
  quotaWindowHours: number;
  labels: string | undefined;
  lookupMinBatch: number;
  lookupQuota: number;
  federation: string | undefined;
  federatedData: string | undefined;
  federatedStepMs: number;
  /** Development, tests: the member process kills itself after this federated training round. */
  federatedCrashAfterRound: number | undefined;
}

interface Setting {
  env: string;
  key: keyof NodeConfig;
  parties: readonly Party[];
  doc: string;
  def: (party: Party) => string | undefined;
  parse: (raw: string, party: Party) => unknown;
}

const ALL: readonly Party[] = PARTIES;
const PORTS: Record<Party, [number, number]> = { advertiser: [50051, 8081], media: [50052, 8082], broker: [50053, 8083] };

class Bad extends Error {}

function hostPort(raw: string): string {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) > 65535) throw new Bad(`expected host:port, got '${raw}'`);
  return raw;
}
function int(min: number, max: number) {
  return (raw: string) => {
    const v = Number(raw);
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new Bad(`expected an integer in [${min}, ${max}], got '${raw}'`);
    return v;
  };
}
function float(min: number, max: number) {
  return (raw: string) => {
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) throw new Bad(`expected a number in [${min}, ${max}], got '${raw}'`);
    return v;
  };
}
function bool(raw: string): boolean {
  if (['1', 'true', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'no', ''].includes(raw)) return false;
  throw new Bad(`expected 1/0/true/false, got '${raw}'`);
}
const path = (raw: string) => resolve(raw);

function httpUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Bad(`expected an http(s) URL, got '${raw}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Bad(`expected an http(s) URL, got '${raw}'`);
  return raw;
}

export const SETTINGS: readonly Setting[] = [
  { env: 'CLEANROOM_GRPC_LISTEN', key: 'grpcListen', parties: ALL, doc: 'gRPC listen address for peer traffic', def: (p) => `0.0.0.0:${PORTS[p][0]}`, parse: hostPort },
  { env: 'CLEANROOM_ADMIN_LISTEN', key: 'adminListen', parties: ALL, doc: 'admin HTTP API listen address (loopback by default)', def: (p) => `127.0.0.1:${PORTS[p][1]}`, parse: hostPort },
  { env: 'CLEANROOM_HEALTH_LISTEN', key: 'healthListen', parties: ALL, doc: 'plaintext gRPC health-only listen address for probes that cannot present a client certificate (Kubernetes); unset = off', def: () => undefined, parse: hostPort },
  { env: 'CLEANROOM_ADMIN_TOKEN', key: 'adminToken', parties: ALL, doc: 'bearer token required by the admin API; mandatory when it listens beyond loopback', def: () => undefined, parse: (r) => { if (r.length < 16) throw new Bad('expected at least 16 characters'); return r; } },
  { env: 'CLEANROOM_BROKER_ADDR', key: 'brokerAddr', parties: ['advertiser'], doc: "broker's gRPC address", def: () => 'localhost:50053', parse: hostPort },
  { env: 'CLEANROOM_MEDIA_ADDR', key: 'mediaAddr', parties: ['broker'], doc: "media's gRPC address", def: () => 'localhost:50052', parse: hostPort },
  { env: 'CLEANROOM_ADVERTISER_ADDR', key: 'advertiserAddr', parties: ['broker'], doc: "advertiser's gRPC address (aborts, checkpoints)", def: () => 'localhost:50051', parse: hostPort },
  { env: 'CLEANROOM_DATA', key: 'data', parties: ['advertiser', 'media'], doc: 'advertiser: CRM CSV; media: universe CSV, or a split source: a path with {shard}, standing for the files 0, 1, 2, … (up to the first missing) read in order as one universe; shard I of a sharded preparation reads file I alone', def: () => undefined, parse: path },
  { env: 'CLEANROOM_STATE_DIR', key: 'stateDir', parties: ALL, doc: "node state (media's prepared universe, audiences; broker's universe table)", def: (p) => `state/${p}`, parse: path },
  { env: 'CLEANROOM_TRANSCRIPT_DIR', key: 'transcriptDir', parties: ALL, doc: 'signed transcripts: <dir>/<sessionId>/<party>.jsonl', def: () => 'out/transcripts', parse: path },
  { env: 'CLEANROOM_PKI_DIR', key: 'pkiDir', parties: ALL, doc: 'certificates, TLS key, Ed25519 signing key, trust bundle (scripts/gen-pki.ts)', def: () => '.pki', parse: path },
  { env: 'CLEANROOM_TLS_RELOAD_SECONDS', key: 'tlsReloadSeconds', parties: ALL, doc: 'how often the TLS certificate, key and CA files are re-read; a consistent rotated set is used for new connections without a restart (0 = never)', def: () => '60', parse: int(0, 86_400) },
  { env: 'CLEANROOM_OTLP_ENDPOINT', key: 'otlpEndpoint', parties: ALL, doc: 'OpenTelemetry tracing: OTLP/HTTP base URL of a collector, e.g. http://otel-collector:4318 (spans go to /v1/traces); unset = tracing off', def: () => undefined, parse: httpUrl },
  { env: 'CLEANROOM_DEV_PLAINTEXT', key: 'devPlaintext', parties: ALL, doc: 'DEVELOPMENT ONLY: gRPC without TLS (logged loudly)', def: () => '0', parse: bool },
  { env: 'CLEANROOM_LOG_LEVEL', key: 'logLevel', parties: ALL, doc: 'pino log level', def: () => 'info', parse: (r) => { if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(r)) throw new Bad(`expected a pino level, got '${r}'`); return r; } },
  { env: 'CLEANROOM_DEADLINE_MS', key: 'deadlineMs', parties: ALL, doc: 'deadline of every peer RPC; a session waiting between calls fails once its peers have been silent this long (peers busy with other sessions: up to N running sessions × this; docs/operations.md)', def: () => '120000', parse: int(1000, 3_600_000) },
  { env: 'CLEANROOM_SESSION_DEADLINE_MS', key: 'sessionDeadlineMs', parties: ['advertiser', 'broker'], doc: "deadline of the calls that wait for the rest of a session's work, which grows with the universe: the advertiser's SubmitTokens, the broker's Indicators and Activate calls to media (retargeting at 10^6 users: minutes); a dead peer still ends them at once (keepalive)", def: () => String(DEFAULT_SESSION_DEADLINE_MS), parse: int(1000, 86_400_000) },
  { env: 'CLEANROOM_MAX_MESSAGE_BYTES', key: 'maxMessageBytes', parties: ALL, doc: 'largest single gRPC message accepted (larger → RESOURCE_EXHAUSTED)', def: () => String(8 * 1024 * 1024), parse: int(64 * 1024, 256 * 1024 * 1024) },
  { env: 'CLEANROOM_ID_TYPES', key: 'idTypes', parties: ['media'], doc: 'ID types the universe is prepared for (comma-separated: phone,email,device)', def: () => 'phone', parse: (r) => { const t = r.split(',').map((s) => s.trim()); for (const x of t) if (!['phone', 'email', 'device'].includes(x)) throw new Bad(`unknown ID type '${x}'`); return t; } },
  { env: 'CLEANROOM_UNIVERSE_EPOCH', key: 'universeEpoch', parties: ['media'], doc: 'universe key epoch; a new value rotates the OPRF key and re-prepares', def: () => undefined, parse: (r) => { if (!/^[a-z0-9-]{1,64}$/.test(r)) throw new Bad(`expected [a-z0-9-]{1,64}, got '${r}'`); return r; } },
  { env: 'CLEANROOM_UNIVERSE_KEY_FILE', key: 'universeKeyFile', parties: ['media'], doc: "the epoch's OPRF key as a file (`cleanroom universe key --epoch E --out FILE`; a Secret in Kubernetes), for preparation shards that share no volume; it must name CLEANROOM_UNIVERSE_EPOCH; unset = the key is made once in the state directory", def: () => undefined, parse: path },
  { env: 'CLEANROOM_SHARD_STORE', key: 'shardStore', parties: ['media'], doc: 'sharded preparation through object storage: s3://bucket/prefix where each shard uploads what it prepared (sealed under a key derived from the epoch key) and the node downloads a complete set to merge; needs CLEANROOM_UNIVERSE_EPOCH and CLEANROOM_UNIVERSE_KEY_FILE; credentials from the AWS SDK chain (AWS_ACCESS_KEY_ID…, web identity), region AWS_REGION; unset = shards share the state volume', def: () => undefined, parse: (r) => { try { parseStoreUrl(r); } catch (err) { throw new Bad((err as Error).message); } return r; } },
  { env: 'CLEANROOM_SHARD_STORE_ENDPOINT', key: 'shardStoreEndpoint', parties: ['media'], doc: 'the S3-compatible server of CLEANROOM_SHARD_STORE when it is not AWS S3 (MinIO, Ceph RGW…: path-style requests), e.g. http://minio:9000; unset = AWS S3', def: () => undefined, parse: httpUrl },
  { env: 'CLEANROOM_SHARD_STORE_POLL_SECONDS', key: 'shardStorePollSeconds', parties: ['media'], doc: 'how often a node waiting for a complete shard set looks in CLEANROOM_SHARD_STORE again (/readyz shows what it holds meanwhile)', def: () => '30', parse: int(1, 3600) },
  { env: 'CLEANROOM_MIN_DECOY_RATIO', key: 'minDecoyRatio', parties: ['broker'], doc: 'decoys per real ID the broker insists on', def: () => '9', parse: int(1, 99) },
  { env: 'CLEANROOM_MIN_COHORT', key: 'minCohort', parties: ['broker', 'media'], doc: 'minimum cohort (compared with a noisy count) before anything is released; advertisers cannot ask for more; media applies its own too', def: () => '50', parse: int(1, 1_000_000) },
  { env: 'CLEANROOM_EPSILON', key: 'epsilon', parties: ['broker'], doc: 'ε of one cohort-profile release (noise scale = L1 sensitivity 15 / ε); the noisy count costs ε/10, the differencing check ε/4', def: () => '1', parse: float(0.01, 100) },
  { env: 'CLEANROOM_NOISE_SCALE', key: 'noiseScale', parties: ['broker'], doc: 'DEVELOPMENT/TESTS: overrides the ε-derived noise scale; 0 turns every noise off (nothing released is then differentially private)', def: () => undefined, parse: float(0, 1000) },
  { env: 'CLEANROOM_PRIVACY_BUDGET', key: 'privacyBudget', parties: ['broker', 'media'], doc: 'total ε per (advertiser, media, universe epoch); a session that would exceed it is refused at OPEN (BUDGET_EXHAUSTED); the stricter party wins', def: () => '10', parse: float(0.01, 10_000) },
  { env: 'CLEANROOM_BUDGET_REFRESH_DAYS', key: 'budgetRefreshDays', parties: ['broker', 'media'], doc: 'charges older than this stop counting (0 = never); each period adds up to a whole budget of privacy loss', def: () => '0', parse: float(0, 3650) },
  { env: 'CLEANROOM_DIFFERENCING_MIN', key: 'differencingMin', parties: ['broker'], doc: 'smallest (noisy) symmetric difference to a cohort released before to the same advertiser and epoch; 0 turns the rule off (development; not recommended)', def: () => '50', parse: int(0, 1_000_000) },
  { env: 'CLEANROOM_EVAL_QUOTA', key: 'evalQuota', parties: ['broker', 'media'], doc: 'OPRF evaluations (padded elements) per advertiser per quota window; beyond it RESOURCE_EXHAUSTED with a retry time', def: () => '2000000', parse: int(1000, 1e12) },
  { env: 'CLEANROOM_EVAL_QUOTA_BROKER', key: 'evalQuotaBroker', parties: ['media'], doc: 'OPRF evaluations per broker (all its advertisers) per quota window', def: () => '20000000', parse: int(1000, 1e12) },
  { env: 'CLEANROOM_QUOTA_WINDOW_HOURS', key: 'quotaWindowHours', parties: ['broker', 'media'], doc: 'rolling window of the evaluation quotas', def: () => '24', parse: float(0.0001, 24 * 366) },
  { env: 'CLEANROOM_DATABASE_URL', key: 'databaseUrl', parties: ALL, doc: 'PostgreSQL URL (postgres://…) for sessions, ledger and quotas; unset: embedded SQLite at <state dir>/cleanroom.db', def: () => undefined, parse: (r) => { if (!/^postgres(ql)?:\/\//.test(r)) throw new Bad(`expected a postgres:// URL, got '${r.replace(/:[^:@/]*@/, ':***@')}'`); return r; } },
  { env: 'CLEANROOM_LABELS', key: 'labels', parties: ['media'], doc: 'lookup kind: labels CSV (user_id,consent_share,leads_score,tier,last_active,tenure); published sealed beside the tokens; unset = media offers no lookups', def: () => undefined, parse: path },
  { env: 'CLEANROOM_LOOKUP_MIN_BATCH', key: 'lookupMinBatch', parties: ['broker'], doc: 'lookup kind: fewest valid IDs one lookup may ask for (smaller: refused at OPEN)', def: () => '100', parse: int(1, 1_000_000) },
  { env: 'CLEANROOM_LOOKUP_QUOTA', key: 'lookupQuota', parties: ['broker'], doc: 'lookup kind: IDs one advertiser may look up per quota window; beyond it RESOURCE_EXHAUSTED with a retry time', def: () => '100000', parse: int(1, 1e12) },
  { env: 'CLEANROOM_MAX_PADDED', key: 'maxPaddedCount', parties: ['media'], doc: 'largest padded set media evaluates in one session', def: () => '2000000', parse: int(1000, 1_000_000_000) },
  { env: 'CLEANROOM_FEDERATION', key: 'federation', parties: ['advertiser', 'broker'], doc: 'federated learning: the federation roster (JSON: member names and Ed25519 keys, scripts or `simulate --kind federated` write it); unset = no federated sessions', def: () => undefined, parse: path },
  { env: 'CLEANROOM_FEDERATED_DATA', key: 'federatedData', parties: ['advertiser'], doc: 'federated learning: directory of this member\'s private train.csv and test.csv (then CLEANROOM_DATA may be unset)', def: () => undefined, parse: path },
  { env: 'CLEANROOM_FEDERATED_CRASH_AFTER_ROUND', key: 'federatedCrashAfterRound', parties: ['advertiser'], doc: 'DEVELOPMENT/TESTS: a federation member\'s process kills itself (SIGKILL) once it has finished this training round of a federated session, before the next round\'s first message: a member crash at a known point (`simulate --kind federated --dropout`); unset = never', def: () => undefined, parse: int(1, 1_000_000) },
  { env: 'CLEANROOM_FEDERATED_STEP_MS', key: 'federatedStepMs', parties: ['broker'], doc: 'federated learning: how long a step waits for silent members before going on without them (dropouts); below the threshold the session fails', def: () => '30000', parse: int(100, 3_600_000) },
  { env: 'CLEANROOM_PSI_PAGE_ITEMS', key: 'psiPageItems', parties: ['broker'], doc: 'retargeting / joint-activate: elements per page of the DH-PSI with media, both ways (its padded set, then each page of the set of media asked with one Media.Indicators call and answered with one Media.Activate call), so no call and no state grows with the universe; at most 131072', def: () => '131072', parse: int(100, 131_072) },
  { env: 'CLEANROOM_EVAL_THREADS', key: 'evalThreads', parties: ['broker', 'media'], doc: 'worker threads for OPRF evaluation, universe preparation and the BFV encryption of its publication (media) and the DH-PSI exponentiations of retargeting and joint-activate and the conversion of the ciphertexts of a universe sync (broker)', def: () => '2', parse: int(1, 64) },
];

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Whether `host` (from host:port) is a loopback address: the name `localhost`, an IPv4
 * literal in 127.0.0.0/8, or the IPv6 literal ::1 (bracketed or not). Parsed as an IP, never
 * matched as a string prefix: `127.evil.example` is a DNS name, not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h.toLowerCase() === 'localhost') return true;
  if (isIP(h) === 4) return Number(h.split('.')[0]) === 127;
  if (isIP(h) === 6) return new URL(`http://[${h}]/`).hostname === '[::1]'; // the URL parser normalises the literal
  return false;
}

export function loadConfig(party: Party, env: Record<string, string | undefined> = process.env): Readonly<NodeConfig> {
  const problems: string[] = [];
  const out: Record<string, unknown> = { party };
  for (const s of SETTINGS) {
    const applies = s.parties.includes(party);
    const raw = env[s.env];
    const value = applies ? (raw ?? s.def(party)) : s.def(party);
    if (value === undefined) {
      out[s.key] = undefined;
      continue;
    }
    try {
      out[s.key] = s.parse(value, party);
    } catch (err) {
      if (!(err instanceof Bad)) throw err;
      problems.push(`${s.env}: ${err.message}`);
    }
  }
  if ((party === 'advertiser' || party === 'media') && out.data === undefined && !(party === 'advertiser' && out.federatedData !== undefined)) {
    problems.push(`CLEANROOM_DATA: required for the ${party} node (${party === 'media' ? 'universe' : 'CRM'} CSV path)`);
  }
  if (out.shardStore !== undefined && (out.universeEpoch === undefined || out.universeKeyFile === undefined)) {
    problems.push(`CLEANROOM_SHARD_STORE: needs ${[out.universeEpoch === undefined ? 'CLEANROOM_UNIVERSE_EPOCH' : '', out.universeKeyFile === undefined ? 'CLEANROOM_UNIVERSE_KEY_FILE' : ''].filter(Boolean).join(' and ')} (every shard and the node must use the same epoch and key, and shards that share no volume cannot make the key themselves)`);
  }
  if (out.universeKeyFile !== undefined && out.universeEpoch === undefined) {
    problems.push('CLEANROOM_UNIVERSE_KEY_FILE: needs CLEANROOM_UNIVERSE_EPOCH (the key file is made for one epoch)');
  }
  const adminHost = typeof out.adminListen === 'string' ? out.adminListen.slice(0, out.adminListen.lastIndexOf(':')) : '127.0.0.1';
  if (!isLoopbackHost(adminHost) && !out.adminToken) {
    problems.push(`CLEANROOM_ADMIN_TOKEN: required because CLEANROOM_ADMIN_LISTEN (${String(out.adminListen)}) is not a loopback address`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out as unknown as NodeConfig);
}

/** Markdown table of the settings (README, docs/operations.md). */
export function settingsTable(): string {
  const rows = SETTINGS.map((s) => {
    const defs = [...new Set(s.parties.map((p) => s.def(p) ?? '—'))].join(' / ');
    return `| \`${s.env}\` | ${s.parties.join(', ')} | \`${defs}\` | ${s.doc} |`;
  });
  return ['| variable | nodes | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
