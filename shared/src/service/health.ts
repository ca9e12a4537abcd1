/**
 * The standard gRPC health service (`grpc.health.v1.Health`, grpc-node's `grpc-health-check`)
 * for one node, answering for the overall server (`""`) and for the node's own service
 * (`cleanroom.v1.Broker` / `Media` / `Advertiser`).
 *
 * Status is SERVING only while the peer gRPC server is bound AND the node is ready (the
 * same readiness as the admin `/readyz`: media's universe prepared, the broker's universe
 * table synced), NOT_SERVING otherwise — during media's universe preparation, before the
 * broker's first sync, and from the moment a shutdown begins. It is re-evaluated every
 * second and on every transition; Watch streams see each change once.
 *
 * It is served in two places (docs/operations.md, "gRPC health"):
 * - on the peer port, behind mutual TLS like every peer call (for peers and for probes that
 *   hold a client certificate);
 * - when `CLEANROOM_HEALTH_LISTEN` is set, on a separate plaintext port that serves the
 *   health service only — what Kubernetes `grpc` probes need, since the kubelet cannot
 *   present a client certificate. It carries no session data and no party secret.
 * This object never creates the peer server; it adds itself to one (`addToServer`).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath, type ServingStatus } from 'grpc-health-check';
import type { ServiceName } from '../rpc/grpc.ts';

export class NodeHealth {
  private readonly impl: HealthImplementation;
  private readonly names: string[];
  private status: ServingStatus = 'NOT_SERVING';
  private ready: () => boolean = () => false;
  private grpcServing = false;
  private stopping = false;
  private readonly timer: NodeJS.Timeout;
  private plaintext: grpc.Server | undefined;

  constructor(service: ServiceName) {
    this.names = ['', `cleanroom.v1.${service}`];
    this.impl = new HealthImplementation(Object.fromEntries(this.names.map((n) => [n, 'NOT_SERVING' as const])));
    this.timer = setInterval(() => this.refresh(), 1000);
    this.timer.unref();
  }

  /** Where readiness is read from (the admin API's `ready()`). */
  readinessFrom(ready: () => boolean): void {
    this.ready = ready;
    this.refresh();
  }

  /** The peer gRPC server is bound (true) or closing (false). */
  setGrpcServing(serving: boolean): void {
    this.grpcServing = serving;
    this.refresh();
  }

  /** From now on NOT_SERVING, whatever readiness says (graceful shutdown). */
  shutdown(): void {
    this.stopping = true;
    this.refresh();
    clearInterval(this.timer);
  }

  get current(): ServingStatus {
    return this.status;
  }

  refresh(): void {
    let ok = false;
    try {
      ok = !this.stopping && this.grpcServing && this.ready();
    } catch {
      ok = false;
    }
    const next: ServingStatus = ok ? 'SERVING' : 'NOT_SERVING';
    if (next === this.status) return;
    this.status = next;
    for (const n of this.names) this.impl.setStatus(n, next);
  }

  addToServer(server: grpc.Server): void {
    this.impl.addToServer(server);
  }

  /** Serves the health service alone, without TLS, on `address` (host:port); resolves to the bound port. */
  async listenPlaintext(address: string): Promise<number> {
    if (this.plaintext) throw new Error('the plaintext health server is already listening');
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 4096 });
    this.impl.addToServer(server);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.plaintext = server;
    return port;
  }

  /** Stops the plaintext health server (if any) and the refresh timer. */
  close(): void {
    clearInterval(this.timer);
    this.plaintext?.forceShutdown();
    this.plaintext = undefined;
  }
}

let healthClientCtor: grpc.ServiceClientConstructor | undefined;

/**
 * One `grpc.health.v1.Health/Check` call (for tests, scripts and a probe with a client
 * certificate): resolves to the status, rejects with the gRPC error.
 */
export async function checkHealth(address: string, service: string, creds: grpc.ChannelCredentials, deadlineMs = 5000): Promise<string> {
  if (!healthClientCtor) {
    const def = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    healthClientCtor = (grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
  }
  const client = new healthClientCtor(address, creds);
  try {
    return await new Promise<string>((resolve, reject) => {
      (client as unknown as { check(req: object, opts: object, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void })
        .check({ service }, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res.status)));
    });
  } finally {
    client.close();
  }
}
