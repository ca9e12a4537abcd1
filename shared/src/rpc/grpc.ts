/**
 * The gRPC adapter: the only place that knows grpc-js.
 *
 * - Servers: mutual TLS (client certificates required and verified against the trusted
 *   organisation CAs), message size limits, and per-call authorization from the caller's
 *   certificate (never from metadata) against the role table (common/methods.ts). Every method is
 *   adapted to one handler shape, `(caller, envelopes[]) → envelopes[]`, so unary and
 *   streaming RPCs look alike to the nodes; errors map to precise status codes
 *   (ProtocolError.code), and anything unexpected becomes INTERNAL without leaking details.
 * - Clients: verify the server's certificate names the expected party, wait (bounded) for
 *   a connection, then apply a deadline to every call, and turn gRPC errors back into ProtocolErrors naming peer and method.
 * - Plaintext transport exists only behind an explicit development flag, logged loudly by
 *   the caller.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { finished, type Writable } from 'node:stream';
import { ProtocolError, type Party, type ProtocolErrorCode } from '../protocol/messages.ts';
import { PARTIES } from '../common/names.ts';
import { methodSpec, type MethodName, type ServiceName } from '../common/methods.ts';
import type { Envelope } from '../transcript/statement.ts';
import { serviceDefinition } from './proto.ts';
import type { TlsFilesProvider } from './tls-reload.ts';
import { injectTrace, withServerSpan } from '../common/tracing.ts';
import type { ByteBudget } from './budget.ts';
import type { StreamCheck } from './stream-check.ts';

export type { MethodName, ServiceName };

export interface TlsMaterial {
  /** PEM of the CA certificates this node trusts (the three organisation CAs). */
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** When set, credentials follow the files through this provider (rotation without restart). */
  reload?: TlsFilesProvider;
}

export type Transport = { kind: 'mtls'; tls: TlsMaterial } | { kind: 'plaintext' };

export type Handler = (caller: Party, request: Envelope[]) => Promise<Envelope[]>;

const AFTER_SEND = Symbol('afterSend');

/**
 * `reply` with `release` to run once the server has serialized all of it — when the response
 * stream has finished, failed or been cancelled — e.g. to free a large buffer its payloads are
 * views of at once rather than at the next full GC. Honoured on streamed replies (the reply is
 * written message by message); a unary reply leaves its buffers to the GC.
 */
export function afterSend(reply: Envelope[], release: () => void): Envelope[] {
  return Object.assign(reply, { [AFTER_SEND]: release });
}

/**
 * A node's implementation of service S: one handler per method of the proto service (a
 * misspelt or missing method does not compile). Servers in tests may serve some methods only.
 */
export type Handlers<S extends ServiceName> = { readonly [M in MethodName<S>]: Handler };

/** The handler of `method`, if `handlers` has one. */
function handlerOf<S extends ServiceName>(handlers: Partial<Handlers<S>>, method: string): Handler | undefined {
  const byName: Readonly<Partial<Record<string, Handler>>> = handlers;
  return Object.hasOwn(byName, method) ? byName[method] : undefined;
}

/** Who may call `service.method` (the role table, common/methods.ts). */
export function callersOf(service: ServiceName, method: string): readonly Party[] {
  return methodSpec(service, method)?.callers ?? [];
}

export interface Logger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const STATUS: Record<ProtocolErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  NOT_FOUND: grpc.status.NOT_FOUND,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
  ABORTED: grpc.status.ABORTED,
};
const CODE_OF_STATUS = new Map<number, ProtocolErrorCode>(Object.entries(STATUS).map(([k, v]) => [v, k as ProtocolErrorCode]));

const PARTY_NAMES: ReadonlySet<Party> = new Set(PARTIES);

/**
 * The party a verified peer certificate belongs to: subject CN and OU name the party and
 * the issuer is that party's own organisation CA (CN=<party>-ca). A certificate one
 * organisation's CA issued for another party's name is refused.
 */
export function partyOfCertificate(cert: PeerCertificate | undefined): Party | undefined {
  if (!cert || !cert.subject) return undefined;
  const cn = String(cert.subject.CN ?? '');
  const ou = String(cert.subject.OU ?? '');
  const issuer = String(cert.issuer?.CN ?? '');
  if (!PARTY_NAMES.has(cn as Party) || ou !== cn || issuer !== `${cn}-ca`) return undefined;
  return cn as Party;
}

export interface ServerOptions {
  transport: Transport;
  maxMessageBytes: number;
  /** Upper bound of all messages of one streamed call, to bound memory. */
  maxCallBytes: number;
  /** Upper bound of the streamed request bytes all calls together hold at once. */
  budget?: ByteBudget;
  /**
   * A checker for each streamed call (see stream-check.ts): every message is checked as it
   * arrives and the stream refused at the first that fails, before anything more is read.
   */
  checkStream?: (caller: Party) => StreamCheck;
  log: Logger;
  /** In plaintext development mode the caller is taken from this metadata key (never in mTLS). */
  devCallerHeader?: string;
  /** Keepalive (tests shorten it); default KEEPALIVE. */
  keepalive?: KeepalivePolicy;
}

/**
 * HTTP/2 keepalive, one policy for both ends so they never disagree (a client pinging more
 * often than a server permits gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings" from C-core,
 * grpc-go, Envoy…; grpc-js servers do not enforce it, so test/unit/keepalive.test.ts does).
 * - The server pings each client every `serverTimeMs` and drops it after `timeoutMs`
 *   without an answer (a dead advertiser or broker is noticed within about 50 s).
 * - The client pings a silent connection every `clientTimeMs`, only while a call is open
 *   (no pings on idle channels), so a peer that died mid-call fails the call long before
 *   its deadline. `clientTimeMs` is 6 min, a fifth above `minClientPingIntervalMs`, the
 *   interval a server following gRPC's defaults permits (5 min), so network jitter never
 *   makes a ping early: never more often.
 */
export interface KeepalivePolicy {
  serverTimeMs: number;
  clientTimeMs: number;
  timeoutMs: number;
  /** The shortest interval between client pings (without data) the server side accepts. */
  minClientPingIntervalMs: number;
}

export const KEEPALIVE: Readonly<KeepalivePolicy> = Object.freeze({
  serverTimeMs: 30_000,
  clientTimeMs: 6 * 60_000,
  timeoutMs: 20_000,
  minClientPingIntervalMs: 5 * 60_000,
});

function serverKeepalive(k: KeepalivePolicy): grpc.ServerOptions {
  return { 'grpc.keepalive_time_ms': k.serverTimeMs, 'grpc.keepalive_timeout_ms': k.timeoutMs };
}

function clientKeepalive(k: KeepalivePolicy): grpc.ChannelOptions {
  if (k.clientTimeMs < k.minClientPingIntervalMs) {
    throw new Error(`expected clientTimeMs >= minClientPingIntervalMs (${k.minClientPingIntervalMs}), got ${k.clientTimeMs}: servers would answer GOAWAY too_many_pings`);
  }
  return { 'grpc.keepalive_time_ms': k.clientTimeMs, 'grpc.keepalive_timeout_ms': k.timeoutMs, 'grpc.keepalive_permit_without_calls': 0 };
}

export function serverCredentials(t: Transport): grpc.ServerCredentials {
  if (t.kind === 'plaintext') return grpc.ServerCredentials.createInsecure();
  if (t.tls.reload) return grpc.experimental.createCertificateProviderServerCredentials(t.tls.reload, t.tls.reload, true);
  return grpc.ServerCredentials.createSsl(t.tls.ca, [{ private_key: t.tls.key, cert_chain: t.tls.cert }], true);
}

export function createServer(opts: ServerOptions): grpc.Server {
  return new grpc.Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': opts.maxMessageBytes,
    ...serverKeepalive(opts.keepalive ?? KEEPALIVE),
  });
}

function toServiceError(err: unknown, log: Logger, ctx: object): Partial<grpc.StatusObject> {
  if (err instanceof ProtocolError) {
    return { code: STATUS[err.code], details: err.message };
  }
  log.error({ ...ctx, err: (err as Error)?.stack ?? String(err) }, 'internal error in RPC handler');
  return { code: grpc.status.INTERNAL, details: 'internal error (see the serving node\'s log)' };
}

function toEnvelope(m: { statement?: Uint8Array; payload?: Uint8Array; signatures?: { keyid?: string; sig?: Uint8Array }[] }): Envelope {
  return {
    statement: m.statement ?? new Uint8Array(0),
    payload: m.payload ?? new Uint8Array(0),
    signatures: (m.signatures ?? []).map((s) => ({ keyid: s.keyid ?? '', sig: s.sig ?? new Uint8Array(0) })),
  };
}

function sizeOf(e: Envelope): number {
  return e.statement.length + e.payload.length + e.signatures.reduce((a, s) => a + s.sig.length + s.keyid.length, 0);
}

/** Adds `service` with `handlers` to `server`, enforcing the role table on every call. */
export function addService<S extends ServiceName>(server: grpc.Server, service: S, handlers: Partial<Handlers<S>>, opts: ServerOptions): void {
  const def: grpc.ServiceDefinition = serviceDefinition(service);
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [method, md] of Object.entries(def)) {
    const handler = handlerOf(handlers, method);
    const allowed = callersOf(service, method);
    if (!handler) continue;
    const identify = (call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null; metadata: grpc.Metadata }): Party => {
      let caller: Party | undefined;
      if (opts.transport.kind === 'mtls') {
        caller = partyOfCertificate(call.getAuthContext()?.sslPeerCertificate);
      } else {
        const v = call.metadata.get(opts.devCallerHeader ?? 'x-cleanroom-dev-party')[0];
        caller = PARTY_NAMES.has(String(v) as Party) ? (String(v) as Party) : undefined;
      }
      if (!caller) throw new ProtocolError('PERMISSION_DENIED', `${service}.${method}: the caller's certificate names no cleanroom party issued by that party's CA`);
      if (!allowed.includes(caller)) {
        opts.log.warn({ service, method, caller }, 'permission denied by the role table');
        throw new ProtocolError('PERMISSION_DENIED', `${service}.${method} may be called by ${allowed.join(' or ')}, not by ${caller}`);
      }
      return caller;
    };
    const ctx = { service, method };
    // Each call runs in a server span continued from the caller's trace context (tracing.ts; no-op when off).
    const traced = <T>(call: { metadata: grpc.Metadata }, run: () => Promise<T>): Promise<T> =>
      withServerSpan((k) => { const v = call.metadata.get(k)[0]; return v === undefined ? undefined : String(v); }, `${service}/${method}`, run);
    if (!md.requestStream && !md.responseStream) {
      impl[method] = (call: grpc.ServerUnaryCall<Envelope, Envelope>, cb: grpc.sendUnaryData<Envelope>) => {
        traced(call, async () => handler(identify(call), [toEnvelope(call.request)])).then(
          (out) => cb(null, out[0]!),
          (err) => cb(toServiceError(err, opts.log, ctx) as grpc.ServiceError),
        );
      };
    } else if (md.requestStream && !md.responseStream) {
      impl[method] = (call: grpc.ServerReadableStream<Envelope, Envelope>, cb: grpc.sendUnaryData<Envelope>) => {
        traced(call, async () => {
          const caller = identify(call);
          const req = await collect(call, caller, opts, `${service}.${method}`);
          try {
            return await handler(caller, req.envelopes);
          } finally {
            req.release();
          }
        }).then(
          (out) => cb(null, out[0]!),
          (err) => cb(toServiceError(err, opts.log, ctx) as grpc.ServiceError),
        );
      };
    } else {
      impl[method] = (call: grpc.ServerWritableStream<Envelope, Envelope> | grpc.ServerDuplexStream<Envelope, Envelope>) => {
        traced(call, async () => {
          const caller = identify(call);
          const req = md.requestStream
            ? await collect(call as grpc.ServerDuplexStream<Envelope, Envelope>, caller, opts, `${service}.${method}`)
            : { envelopes: [toEnvelope((call as grpc.ServerWritableStream<Envelope, Envelope>).request)], release: () => undefined };
          let reply: Envelope[];
          try {
            reply = await handler(caller, req.envelopes);
          } finally {
            req.release();
          }
          const release = (reply as { [AFTER_SEND]?: () => void })[AFTER_SEND];
          // grpc-js serializes a message when its write reaches the stream (queued writes later):
          // all are serialized, or will never be, once the stream has finished or failed.
          if (release) finished(call as unknown as Writable, () => release());
          for (const e of reply) {
            if (call.cancelled) return;
            if (!call.write(e)) await new Promise((r) => call.once('drain', r));
          }
          call.end();
        }).catch((err) => {
          // 'error' (not destroy) makes grpc-js send this status to the caller at once.
          const s = toServiceError(err, opts.log, ctx);
          call.emit('error', Object.assign(new Error(s.details), { code: s.code, details: s.details }));
        });
      };
    }
  }
  server.addService(def, impl);
}

/**
 * Reads a streamed request, checking each message as it arrives — its size against the
 * call's limit and the node-wide budget, and (with `checkStream`) its signature, addressing
 * and place in the stream — and refusing the call at the first message that fails, so junk
 * is never buffered and memory stays within the limits. `release` gives the bytes back to
 * the budget once the handler is done with them.
 */
function collect(
  stream: NodeJS.EventEmitter & { pause(): void },
  caller: Party,
  opts: ServerOptions,
  what: string,
): Promise<{ envelopes: Envelope[]; release: () => void }> {
  const out: Envelope[] = [];
  const check = opts.checkStream?.(caller);
  let total = 0;
  const release = () => {
    opts.budget?.release(total);
    total = 0;
  };
  // Events, not `for await`: leaving an async iterator destroys the stream, and grpc-js then
  // never sends the status; paused and left open, the call ends with the refusal's status.
  return new Promise((resolve, reject) => {
    const stop = (err: unknown) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', stop);
      stream.off('cancelled', onCancelled);
      stream.pause();
      release();
      reject(err);
    };
    const onData = (m: unknown) => {
      try {
        const e = toEnvelope(m as Envelope);
        const n = sizeOf(e);
        if (total + n > opts.maxCallBytes) throw new ProtocolError('RESOURCE_EXHAUSTED', `${what}: the call exceeds ${opts.maxCallBytes} bytes in total`);
        opts.budget?.take(n, what);
        total += n;
        check?.(e, out.length);
        out.push(e);
      } catch (err) {
        stop(err);
      }
    };
    const onEnd = () => {
      stream.off('data', onData);
      stream.off('error', stop);
      stream.off('cancelled', onCancelled);
      resolve({ envelopes: out, release });
    };
    const onCancelled = () => stop(new ProtocolError('ABORTED', `${what}: the caller cancelled the call`));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', stop);
    stream.once('cancelled', onCancelled);
  });
}

export function bindServer(server: grpc.Server, address: string, t: Transport): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, serverCredentials(t), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

export interface ClientOptions {
  transport: Transport;
  /** The party the server must prove to be (certificate CN/OU/issuer). */
  serverParty: Party;
  /** The calling party (sent as metadata only in plaintext development mode). */
  self: Party;
  maxMessageBytes: number;
  deadlineMs: number;
  /** Keepalive (tests shorten it); default KEEPALIVE. */
  keepalive?: KeepalivePolicy;
}

/**
 * The HTTP/2 receive window a client advertises for its responses (per stream and per
 * connection). HTTP/2's default is 65,535 bytes: a peer streaming a large reply (the broker's
 * universe sync: ≈ 1.5 GB from media at 10^6 users) may then send 64 KiB before it must wait
 * for this side's WINDOW_UPDATE — ≈ 23,000 round trips of wake-ups, small reads and window
 * updates at 10^6. With 8 MiB it sends a few messages per round trip. Memory stays bounded:
 * at most this many unread bytes per connection, beside the message size limit.
 */
export const FLOW_CONTROL_WINDOW = 8 << 20;

/** A client for one peer service: `call(method, envelopes) → envelopes`, with deadline. */
export class PeerClient<S extends ServiceName = ServiceName> {
  private readonly client: grpc.Client;
  private readonly def: grpc.ServiceDefinition;
  private readonly opts: ClientOptions;
  private readonly service: S;
  readonly address: string;

  constructor(service: S, address: string, opts: ClientOptions) {
    this.service = service;
    this.address = address;
    this.opts = opts;
    this.def = serviceDefinition(service);
    let creds: grpc.ChannelCredentials;
    if (opts.transport.kind === 'mtls') {
      const { ca, key, cert, reload } = opts.transport.tls;
      const verify = {
        checkServerIdentity: (host: string, cert: unknown) => {
          const party = partyOfCertificate(cert as unknown as PeerCertificate);
          if (party !== opts.serverParty) {
            return new Error(`server at ${host} presented a certificate for '${party ?? 'no cleanroom party'}', expected '${opts.serverParty}'`);
          }
          return undefined;
        },
      };
      creds = reload ? grpc.experimental.createCertificateProviderChannelCredentials(reload, reload, verify) : grpc.credentials.createSsl(ca, key, cert, verify);
    } else {
      creds = grpc.credentials.createInsecure();
    }
    const Ctor = grpc.makeGenericClientConstructor(this.def, service);
    this.client = new Ctor(address, creds, {
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': opts.maxMessageBytes,
      'grpc.enable_retries': 0,
      // HTTP/2 receive window (stream and connection) of this client: FLOW_CONTROL_WINDOW.
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
      // A restarted peer is found again within seconds, not after minutes of backoff.
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5000,
      ...clientKeepalive(opts.keepalive ?? KEEPALIVE),
    });
  }

  /**
   * Calls `method` with `request`. A call whose stream the server refused before any handler
   * saw it (HTTP/2 REFUSED_STREAM, which grpc-js reports as UNAVAILABLE "Stream refused by
   * server": typically a connection the server had just closed, e.g. after missed keepalive
   * pings, that this side had not yet seen go) is made again once, on a new connection, with
   * the same envelopes; nothing a handler received is ever sent twice. Every other failure is
   * final. `refusedRetries` counts those second attempts.
   */
  async call(method: MethodName<S>, request: Envelope[], deadlineMs = this.opts.deadlineMs): Promise<Envelope[]> {
    const md = this.def[method];
    if (!md) throw new Error(`unknown method ${this.service}.${method}`);
    return this.withRefusedRetry(`${this.service}.${method} at ${this.address}`, (seen) => this.attempt(md, request, deadlineMs, seen));
  }

  /**
   * Runs `attempt` a second time when the server refused its stream before any response (see
   * `call`); a consumer's own error (ConsumerError) goes out as it is, every other failure as the
   * ProtocolError of its gRPC status, naming `what`.
   */
  private async withRefusedRetry<T>(what: string, attempt: (seen: { responses: number }) => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      const seen = { responses: 0 };
      try {
        return await attempt(seen);
      } catch (err) {
        if (err instanceof ConsumerError) throw err.cause;
        const e = err as grpc.ServiceError;
        if (n === 0 && seen.responses === 0 && isRefusedStream(e)) {
          this.refusedRetries++;
          continue;
        }
        const code = CODE_OF_STATUS.get(e.code) ?? 'UNAVAILABLE';
        throw new ProtocolError(code, `${what}: ${grpc.status[e.code] ?? 'ERROR'}: ${e.details || e.message}`);
      }
    }
  }

  /** Calls made a second time because the server refused the first stream (see `call`). */
  refusedRetries = 0;

  /**
   * Peer.callEach: as `call` (deadline, the one retry of a refused stream, errors), but a
   * server-streamed reply is handed to `each` message by message as it arrives; other methods
   * go through `call`. When `each` throws, the call is cancelled and this rejects with that error.
   */
  async callEach(method: MethodName<S>, request: Envelope[], each: (env: Envelope) => void, deadlineMs = this.opts.deadlineMs): Promise<void> {
    const md = this.def[method];
    if (!md) throw new Error(`unknown method ${this.service}.${method}`);
    if (md.requestStream || !md.responseStream) {
      for (const env of await this.call(method, request, deadlineMs)) each(env);
      return;
    }
    await this.withRefusedRetry(`${this.service}.${method} at ${this.address}`, (seen) => this.attemptEach(md, request[0], deadlineMs, seen, each));
  }

  /** One attempt of callEach on a server-streaming method; an error of `each` comes back as a ConsumerError. */
  private async attemptEach(md: grpc.MethodDefinition<unknown, unknown>, request: Envelope | undefined, deadlineMs: number, seen: { responses: number }, each: (env: Envelope) => void): Promise<void> {
    const metadata = new grpc.Metadata();
    if (this.opts.transport.kind === 'plaintext') metadata.set('x-cleanroom-dev-party', this.opts.self);
    injectTrace((k, v) => metadata.set(k, v));
    const c = this.client;
    await new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + deadlineMs, (err) => (err ? reject(Object.assign(err, { code: grpc.status.UNAVAILABLE, details: `no connection to the peer within ${deadlineMs} ms (${err.message})` })) : resolve())));
    const call = c.makeServerStreamRequest(md.path, md.requestSerialize, md.responseDeserialize, request, metadata, { deadline: Date.now() + deadlineMs });
    // The stream is read to its end whatever `each` does (its listeners stay attached, so the
    // cancellation's error event has a reader): after a throw the call is cancelled and the
    // rest is skipped.
    let failed: ConsumerError | undefined;
    try {
      for await (const m of call) {
        seen.responses++;
        if (failed) continue;
        try {
          each(toEnvelope(m as Envelope));
        } catch (err) {
          failed = new ConsumerError(err);
          call.cancel();
        }
      }
    } catch (err) {
      if (!failed) throw err;
    }
    if (failed) throw failed;
  }

  /** One attempt of `call`; throws grpc-js's error as is. `seen.responses` counts the messages received. */
  private async attempt(md: grpc.MethodDefinition<unknown, unknown>, request: Envelope[], deadlineMs: number, seen: { responses: number }): Promise<Envelope[]> {
    const metadata = new grpc.Metadata();
    if (this.opts.transport.kind === 'plaintext') metadata.set('x-cleanroom-dev-party', this.opts.self);
    injectTrace((k, v) => metadata.set(k, v));
    const path = md.path;
    const c = this.client;
    const ser = md.requestSerialize;
    const de = md.responseDeserialize;
    // Wait for a connection instead of failing fast while the channel is reconnecting to a
    // peer that is (re)starting — for at most `deadlineMs` — and only then start the call's
    // own deadline: time spent waiting for a peer to listen never shortens the call (a
    // broker's first universe sync waited for media to prepare and then ran out of time
    // mid-transfer). An attempt therefore ends within 2 × deadlineMs (a call, with its one
    // retry of a refused stream, within 4 ×).
    await new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + deadlineMs, (err) => (err ? reject(Object.assign(err, { code: grpc.status.UNAVAILABLE, details: `no connection to the peer within ${deadlineMs} ms (${err.message})` })) : resolve())));
    const deadline = Date.now() + deadlineMs;
    if (!md.requestStream && !md.responseStream) {
      return [await new Promise<Envelope>((resolve, reject) =>
        c.makeUnaryRequest(path, ser, de, request[0], metadata, { deadline }, (err, res) => (err ? reject(err) : resolve(toEnvelope(res as Envelope)))))];
    }
    if (md.requestStream && !md.responseStream) {
      return [await new Promise<Envelope>((resolve, reject) => {
        const call = c.makeClientStreamRequest(path, ser, de, metadata, { deadline }, (err, res) => (err ? reject(err) : resolve(toEnvelope(res as Envelope))));
        writeAll(call, request).catch(reject);
      })];
    }
    const call = md.requestStream
      ? c.makeBidiStreamRequest(path, ser, de, metadata, { deadline })
      : c.makeServerStreamRequest(path, ser, de, request[0], metadata, { deadline });
    const out: Envelope[] = [];
    const done = (async () => {
      for await (const m of call) {
        seen.responses++;
        out.push(toEnvelope(m as Envelope));
      }
    })();
    // Together: a server that refuses the stream part-way ends the call while we still write.
    await Promise.all([md.requestStream ? writeAll(call as grpc.ClientDuplexStream<Envelope, Envelope>, request) : undefined, done]);
    return out;
  }

  close(): void {
    this.client.close();
  }
}

/** An error thrown by a callEach consumer, carried past the gRPC error mapping unchanged. */
class ConsumerError extends Error {
  constructor(cause: unknown) {
    super('callEach consumer failed', { cause });
  }
}

/** grpc-js's report of an HTTP/2 REFUSED_STREAM (subchannel-call.js): the server processed nothing of the call. */
function isRefusedStream(e: grpc.ServiceError): boolean {
  return e.code === grpc.status.UNAVAILABLE && e.details === 'Stream refused by server';
}

/** Writes `items` with backpressure; stops as soon as the call has ended (e.g. the server refused it). */
async function writeAll(call: grpc.ClientWritableStream<Envelope>, items: readonly Envelope[]): Promise<void> {
  let ended = false;
  const onEnd = () => (ended = true);
  call.once('status', onEnd);
  call.once('error', onEnd);
  try {
    for (const e of items) {
      if (ended) return;
      if (!call.write(e)) {
        await new Promise<void>((r) => {
          const go = () => {
            call.off('drain', go);
            call.off('status', go);
            call.off('error', go);
            r();
          };
          call.once('drain', go);
          call.once('status', go);
          call.once('error', go);
        });
      }
    }
    if (!ended) call.end();
  } finally {
    call.off('status', onEnd);
    call.off('error', onEnd);
  }
}
