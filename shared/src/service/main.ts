/**
 * Shared start-up and shutdown of a node process: config → logger → identity → gRPC
 * server → admin API; SIGINT/SIGTERM close both gracefully. A configuration mistake
 * exits at once (code 2) with a message naming the setting — including the ones only
 * listening reveals: a port already in use, a host that does not resolve or is not on
 * this machine (CLEANROOM_ADMIN_LISTEN, CLEANROOM_GRPC_LISTEN). No stack trace.
 */
import { ConfigError, loadConfig, type NodeConfig } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { loadIdentity, type NodeIdentity } from './identity.ts';
import { addService, bindServer, createServer, PeerClient, type Handlers, type ServerOptions } from '../rpc/grpc.ts';
import { SERVICE_OF, type ServiceName } from '../common/methods.ts';
import { buildAdmin, listen, type AdminApp, type AdminOptions } from './admin.ts';
import type { Party } from '../protocol/messages.ts';
import { nodeMetrics } from './metrics.ts';
import { NodeHealth } from './health.ts';
import { initTracing, shutdownTracing } from '../common/tracing.ts';
import { join } from 'node:path';
import { openStore, type Store } from '../store/store.ts';
import { ByteBudget } from '../rpc/budget.ts';
import { streamChecker } from '../rpc/stream-check.ts';

/** Largest streamed request one call may send (the largest legitimate one, media's padded set at CLEANROOM_MAX_PADDED = 2·10^6, is ≈ 70 MB). */
export const MAX_CALL_BYTES = 256 * 1024 * 1024;
/** Streamed request bytes a node holds at once over all calls. */
export const MAX_BUFFERED_BYTES = 512 * 1024 * 1024;

export interface Boot {
  config: Readonly<NodeConfig>;
  log: Logger;
  identity: NodeIdentity;
  /** grpc.health.v1 status of this node (peer port, and the plaintext health port if configured). */
  health: NodeHealth;
  peer<S extends ServiceName>(service: S, party: Party, address: string): PeerClient<S>;
}

/** Why listening on `address` failed, as a configuration problem naming `variable`. */
export function listenError(variable: string, address: string, err: unknown): ConfigError {
  const e = err as NodeJS.ErrnoException;
  const text = `${e?.code ?? ''} ${e?.message ?? String(err)}`;
  const why = /EADDRINUSE|address already in use/i.test(text) ? 'the port is already in use'
    : /ENOTFOUND|EAI_AGAIN|EAI_NONAME|resolution failed|resolve/i.test(text) ? 'the host does not resolve'
      : /EADDRNOTAVAIL|Cannot assign requested address/i.test(text) ? 'the address is not one of this machine\'s'
        : /EACCES|permission denied/i.test(text) ? 'permission denied (a port below 1024 needs privileges)'
          : 'listening failed';
  return new ConfigError([`${variable}: cannot listen on ${address}: ${why} (${(e?.message ?? String(err)).split('\n')[0]})`]);
}

/** Prints a configuration error naming its variables and exits with code 2. */
function exitConfig(party: Party, err: ConfigError): never {
  process.stderr.write(`cleanroom ${party}: ${err.message}\n`);
  process.exit(2);
}

export function boot(party: Party): Boot {
  let config: Readonly<NodeConfig>;
  try {
    config = loadConfig(party);
  } catch (err) {
    if (err instanceof ConfigError) exitConfig(party, err);
    throw err;
  }
  const log = createLogger(party, config.logLevel);
  nodeMetrics.init(party);
  nodeMetrics.stateVolume(config.stateDir);
  if (initTracing(party, { endpoint: config.otlpEndpoint })) log.info({ otlp: config.otlpEndpoint }, 'tracing on: spans exported by OTLP/HTTP');
  let identity: NodeIdentity;
  try {
    identity = loadIdentity(party, config.pkiDir, config.devPlaintext, { reloadMs: config.tlsReloadSeconds * 1000, log: log.child({ component: 'tls' }) });
  } catch (err) {
    process.stderr.write(`cleanroom ${party}: invalid configuration:\n  - ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (config.devPlaintext) {
    log.warn({ setting: 'CLEANROOM_DEV_PLAINTEXT' }, '!!! DEVELOPMENT MODE: gRPC WITHOUT TLS; peers are not authenticated by certificate. Never use this in production. !!!');
  }
  const health = new NodeHealth(SERVICE_OF[party]);
  return {
    config, log, identity, health,
    peer: (service, p, address) => new PeerClient(service, address, {
      transport: identity.transport, serverParty: p, self: party, maxMessageBytes: config.maxMessageBytes, deadlineMs: config.deadlineMs,
    }),
  };
}

/**
 * Opens the node's store (CLEANROOM_DATABASE_URL, else SQLite in the state directory) and
 * fails the sessions a previous run left `running`. A store that cannot be opened is a
 * configuration error: exit 2 naming the setting.
 */
export async function openNodeStore(b: Boot): Promise<Store> {
  const where = b.config.databaseUrl ? 'CLEANROOM_DATABASE_URL' : `CLEANROOM_STATE_DIR (${join(b.config.stateDir, 'cleanroom.db')})`;
  let store: Store;
  try {
    store = await openStore({ databaseUrl: b.config.databaseUrl, sqlitePath: join(b.config.stateDir, 'cleanroom.db') });
  } catch (err) {
    process.stderr.write(`cleanroom ${b.config.party}: cannot open the state database (${where}): ${(err as Error).message}\n`);
    process.exit(2);
  }
  const failed = await store.failRunning(b.config.party, 'the node restarted while the session was running; nothing further was released', new Date().toISOString());
  b.log.info({ store: store.kind, failedRunning: failed }, 'state database open');
  return store;
}

/** Starts the admin API alone (a node may serve health and readiness while it prepares). */
export async function startAdmin(b: Boot, admin: Omit<AdminOptions, 'party' | 'log' | 'token'>, routes?: (app: AdminApp) => void | Promise<void>): Promise<AdminApp> {
  const app = await buildAdmin({ ...admin, party: b.config.party, log: b.log, token: b.config.adminToken });
  if (routes) await routes(app);
  try {
    await listen(app, b.config.adminListen);
  } catch (err) {
    exitConfig(b.config.party, listenError('CLEANROOM_ADMIN_LISTEN', b.config.adminListen, err));
  }
  b.health.readinessFrom(() => admin.ready().ready);
  if (b.config.healthListen) {
    let port: number;
    try {
      port = await b.health.listenPlaintext(b.config.healthListen);
    } catch (err) {
      await app.close().catch(() => undefined);
      exitConfig(b.config.party, listenError('CLEANROOM_HEALTH_LISTEN', b.config.healthListen, err));
    }
    b.log.info({ health: b.config.healthListen, port }, 'plaintext gRPC health service listening');
  }
  return app;
}

/**
 * The gRPC server options every node uses: message and call size limits, the node-wide
 * budget of buffered streamed bytes, and each streamed message checked as it arrives
 * (signature under the caller's pinned key, addressing, place in the stream).
 */
export function nodeServerOptions(identity: NodeIdentity, party: Party, maxMessageBytes: number, log: ServerOptions['log']): ServerOptions {
  return {
    transport: identity.transport, maxMessageBytes, log,
    maxCallBytes: MAX_CALL_BYTES, budget: new ByteBudget(MAX_BUFFERED_BYTES),
    checkStream: (caller: Party) => streamChecker(caller, identity.peerKey(caller), party),
  };
}

/** Starts the gRPC server with `handlers` and installs graceful shutdown of both servers. */
export async function startGrpc<S extends ServiceName>(b: Boot, service: S, handlers: Handlers<S>, app: AdminApp, onClose?: () => void): Promise<number> {
  const opts = nodeServerOptions(b.identity, b.config.party, b.config.maxMessageBytes, b.log);
  const server = createServer(opts);
  addService(server, service, handlers, opts);
  b.health.addToServer(server);
  let port: number;
  try {
    port = await bindServer(server, b.config.grpcListen, b.identity.transport);
  } catch (err) {
    await app.close().catch(() => undefined);
    exitConfig(b.config.party, listenError('CLEANROOM_GRPC_LISTEN', b.config.grpcListen, err));
  }
  b.health.setGrpcServing(true);
  b.log.info({ grpc: b.config.grpcListen, admin: b.config.adminListen, transport: b.identity.transport.kind }, 'node listening');
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    b.log.info({ signal }, 'shutting down');
    b.health.shutdown();
    onClose?.();
    const force = setTimeout(() => server.forceShutdown(), 5000);
    force.unref();
    server.tryShutdown(() => undefined);
    app.close().finally(() => {
      b.health.close();
      void shutdownTracing().finally(() => process.exit(0));
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  return port;
}

export async function serve<S extends ServiceName>(b: Boot, service: S, handlers: Handlers<S>, admin: Omit<AdminOptions, 'party' | 'log' | 'token'>, routes?: (app: AdminApp) => void | Promise<void>, onClose?: () => void): Promise<{ app: AdminApp; port: number }> {
  const app = await startAdmin(b, admin, routes);
  return { app, port: await startGrpc(b, service, handlers, app, onClose) };
}
