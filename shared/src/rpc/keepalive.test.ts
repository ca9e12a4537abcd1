/**
 * Keepalive (issue 9, item 13): the nodes' client and server keepalive settings must never
 * make a server answer GOAWAY ENHANCE_YOUR_CALM "too_many_pings". grpc-js servers do not
 * enforce a ping policy, so the first test serves the call from an HTTP/2 server that does, as
 * C-core and grpc-go do by default (a ping without data sooner than the permitted interval is a
 * strike; the third strike is answered with that GOAWAY), with the intervals of KEEPALIVE
 * scaled down; a control shows it catches a client that pings too often. The second test keeps
 * a call open across several server pings between a server and a client built as the nodes
 * build them.
 */
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { KEEPALIVE, PeerClient, addService, bindServer, createServer, type KeepalivePolicy } from './grpc.ts';
import { serviceDefinition } from './proto.ts';
import type { Envelope } from '../transcript/statement.ts';

/** KEEPALIVE with every interval divided by `by` (the same ratios as in production). */
function scaled(by: number): KeepalivePolicy {
  return {
    serverTimeMs: KEEPALIVE.serverTimeMs / by, clientTimeMs: KEEPALIVE.clientTimeMs / by,
    timeoutMs: KEEPALIVE.timeoutMs / by, minClientPingIntervalMs: KEEPALIVE.minClientPingIntervalMs / by,
  };
}

const EMPTY: Envelope = { statement: new Uint8Array(0), payload: new Uint8Array(0), signatures: [] };
const GRPC_EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]); // uncompressed, length 0

/**
 * An HTTP/2 server enforcing gRPC's server ping policy: each call is answered once `pingsToServe`
 * client pings arrived (no timers decide the outcome); a ping sooner than `minIntervalMs`
 * after the previous one is a strike, the third strike gets GOAWAY too_many_pings.
 */
async function enforcingServer(minIntervalMs: number, pingsToServe: number) {
  const stats = { pings: 0, goaways: 0 };
  const server = http2.createServer();
  server.on('session', (session) => {
    let last = performance.now();
    let strikes = 0;
    const waiting: (() => void)[] = [];
    session.on('ping', () => {
      const now = performance.now();
      stats.pings++;
      if (now - last < minIntervalMs && ++strikes > 2) {
        stats.goaways++;
        session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too_many_pings'));
        return;
      }
      last = now;
      if (stats.pings >= pingsToServe) waiting.splice(0).forEach((f) => f());
    });
    session.on('stream', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.resume();
      const finish = () => {
        if (stream.destroyed) return;
        stream.write(GRPC_EMPTY_MESSAGE);
        stream.end();
      };
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      if (stats.pings >= pingsToServe) finish();
      else waiting.push(finish);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { stats, port: (server.address() as { port: number }).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('keepalive: no GOAWAY too_many_pings', () => {
  const policy = scaled(1000); // client pings every 360 ms, the server permits one every 300 ms

  it("a client built as the nodes build it, kept busy for 4 of its ping intervals, is never told too_many_pings", async () => {
    const s = await enforcingServer(policy.minClientPingIntervalMs, 4);
    const client = new PeerClient('Advertiser', `127.0.0.1:${s.port}`, {
      transport: { kind: 'plaintext' }, serverParty: 'advertiser', self: 'broker', maxMessageBytes: 1 << 20, deadlineMs: 60_000, keepalive: policy,
    });
    try {
      await expect(client.call('Abort', [EMPTY])).resolves.toHaveLength(1);
      expect(s.stats.goaways).toBe(0);
      expect(s.stats.pings).toBeGreaterThanOrEqual(4);
    } finally {
      client.close();
      await s.close();
    }
  });

  it('control: a client pinging four times as often as permitted gets GOAWAY too_many_pings and its call fails', async () => {
    const s = await enforcingServer(policy.minClientPingIntervalMs, 1000);
    const Ctor = grpc.makeGenericClientConstructor(serviceDefinition('Advertiser'), 'Advertiser');
    const client = new Ctor(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': policy.minClientPingIntervalMs / 4, 'grpc.keepalive_timeout_ms': policy.timeoutMs, 'grpc.enable_retries': 0,
    });
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        (client as unknown as { Abort: (r: Envelope, cb: (e: grpc.ServiceError | null) => void) => void }).Abort(EMPTY, (e) => resolve(e!));
      });
      // grpc-js fails the open call with ENHANCE_YOUR_CALM's status (and then backs its pings off)
      expect([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED], `${err.code} ${err.details}`).toContain(err.code);
      expect(s.stats.goaways).toBe(1);
    } finally {
      client.close();
      await s.close();
    }
  });

  it('the policy refuses a client that would ping more often than servers permit', () => {
    expect(() => new PeerClient('Advertiser', '127.0.0.1:1', {
      transport: { kind: 'plaintext' }, serverParty: 'advertiser', self: 'broker', maxMessageBytes: 1 << 20, deadlineMs: 1000,
      keepalive: { ...policy, clientTimeMs: policy.minClientPingIntervalMs / 2 },
    })).toThrow(/expected clientTimeMs >= minClientPingIntervalMs/);
  });

  it('server and client as the nodes build them: a call open across several server keepalive pings succeeds', async () => {
    const log = { warn: () => undefined, error: () => undefined };
    const opts = { transport: { kind: 'plaintext' as const }, maxMessageBytes: 1 << 20, maxCallBytes: 1 << 20, log, keepalive: policy };
    const server = createServer(opts);
    addService(server, 'Advertiser', {
      Abort: async () => {
        await new Promise((r) => setTimeout(r, policy.serverTimeMs * 5)); // five server ping intervals
        return [EMPTY];
      },
    }, opts);
    const port = await bindServer(server, '127.0.0.1:0', opts.transport);
    const client = new PeerClient('Advertiser', `127.0.0.1:${port}`, {
      transport: { kind: 'plaintext' }, serverParty: 'advertiser', self: 'broker', maxMessageBytes: 1 << 20, deadlineMs: 60_000, keepalive: policy,
    });
    try {
      await expect(client.call('Abort', [EMPTY])).resolves.toHaveLength(1);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
