/**
 * Shared start-up and shutdown of a node process: config → logger → identity → gRPC
 * server → admin API; SIGINT/SIGTERM close both gracefully. A configuration mistake
 * exits at once (code 2) with a message naming the setting.
 */
import { ConfigError, loadConfig, type NodeConfig } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { loadIdentity, type NodeIdentity } from './identity.ts';
import { addService, bindServer, createServer, PeerClient, type Handler, type ServiceName } from '../rpc/grpc.ts';
import { buildAdmin, listen, type AdminApp, type AdminOptions } from './admin.ts';
import type { Party } from '../protocol/messages.ts';
import { nodeMetrics } from './metrics.ts';
import { NodeHealth } from './health.ts';
import { initTracing, shutdownTracing } from '../common/tracing.ts';
import { join } from 'node:path';
import { openStore, type Store } from '../store/store.ts';

export interface Boot {
  config: Readonly<NodeConfig>;
  log: Logger;
  identity: NodeIdentity;
  /** grpc.health.v1 status of this node (peer port, and the plaintext health port if configured). */
  health: NodeHealth;
  peer(service: ServiceName, party: Party, address: string): PeerClient;
}

const SERVICE_OF: Record<Party, ServiceName> = { advertiser: 'Advertiser', media: 'Media', broker: 'Broker' };

export function boot(party: Party): Boot {
  let config: Readonly<NodeConfig>;
  try {
    config = loadConfig(party);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cleanroom ${party}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(party, config.logLevel);
  nodeMetrics.init(party);
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
  await listen(app, b.config.adminListen);
  b.health.readinessFrom(() => admin.ready().ready);
  if (b.config.healthListen) {
    const port = await b.health.listenPlaintext(b.config.healthListen);
    b.log.info({ health: b.config.healthListen, port }, 'plaintext gRPC health service listening');
  }
  return app;
}

/** Starts the gRPC server with `handlers` and installs graceful shutdown of both servers. */
export async function startGrpc(b: Boot, service: ServiceName, handlers: Record<string, Handler>, app: AdminApp, onClose?: () => void): Promise<number> {
  const opts = { transport: b.identity.transport, maxMessageBytes: b.config.maxMessageBytes, maxCallBytes: 1024 * 1024 * 1024, log: b.log };
  const server = createServer(opts);
  addService(server, service, handlers, opts);
  b.health.addToServer(server);
  const port = await bindServer(server, b.config.grpcListen, b.identity.transport);
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

export async function serve(b: Boot, service: ServiceName, handlers: Record<string, Handler>, admin: Omit<AdminOptions, 'party' | 'log' | 'token'>, routes?: (app: AdminApp) => void | Promise<void>, onClose?: () => void): Promise<{ app: AdminApp; port: number }> {
  const app = await startAdmin(b, admin, routes);
  return { app, port: await startGrpc(b, service, handlers, app, onClose) };
}
