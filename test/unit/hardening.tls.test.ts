/**
 * Trust and audit hardening, the transport: the real MediaNode served over gRPC with mutual
 * TLS (development PKI from generatePki + makeTestCerts in a temp dir), called with the
 * broker's PeerClient and with raw @grpc/grpc-js clients for the bad cases.
 *   H5  no client certificate, a certificate from a rogue CA (right subject and SANs), an
 *       expired certificate from the genuine CA → the TLS handshake fails (UNAVAILABLE) and no
 *       handler runs; the advertiser's certificate calling media-only RPCs → PERMISSION_DENIED
 *       from the role table, no handler runs; a client that expects the broker but reaches
 *       media refuses the server (server identity check), and a rogue-CA "broker" server is
 *       refused too;
 *   H6  a message over the configured maxMessageBytes → RESOURCE_EXHAUSTED (unary and
 *       streaming), the handler never runs, and the node keeps serving: a following valid
 *       Evaluate on a session opened before succeeds.
 * Every negative case has a positive control with the genuine broker certificate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { randomElement } from '@cleanroom/shared/crypto/group.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { serviceDefinition } from '@cleanroom/shared/rpc/proto.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { AbortCodec, CohortProfileCodec } from '@cleanroom/shared/rpc/codec.ts';
import { addService, bindServer, createServer, PeerClient, type Handler } from '@cleanroom/shared/rpc/grpc.ts';
import type { Envelope } from '@cleanroom/shared/transcript/statement.ts';
import {
  evaluatedOf, evaluateRequest, makePki, openMediaSession, serveMedia, silentLog, type Pki, type ServedMedia,
} from './hardening.fixtures.ts';

const MAX_MESSAGE_BYTES = 4 * 1024 * 1024; // SessionKeys chunks (≈ 2.3 MB) fit; nothing bigger is needed
/** Deadline of calls that can only end by their deadline (see the comments at their tests). */
const SHORT_DEADLINE_MS = 3000;

async function statusOf(p: Promise<unknown>): Promise<ProtocolError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProtocolError);
  return err as ProtocolError;
}

/** A signed Abort from the broker for a session media does not know (reaches the handler → NOT_FOUND). */
function abortEnvelope(pki: Pki): Envelope {
  return new SessionChannel(pki.id.broker, 'no-such-session').seal('media', 'ABORT', AbortCodec, { reason: 'test' });
}

/** A raw grpc-js unary call of Media.Abort with the given channel credentials; resolves to the status code. */
function rawAbort(address: string, creds: grpc.ChannelCredentials, env: Envelope): Promise<{ code: grpc.status; details: string }> {
  const def = serviceDefinition('Media');
  const Ctor = grpc.makeGenericClientConstructor(def, 'Media');
  const client = new Ctor(address, creds, { 'grpc.enable_retries': 0 });
  const md = def.Abort!;
  return new Promise((resolve) => {
    client.makeUnaryRequest(md.path, md.requestSerialize, md.responseDeserialize, env, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: 'OK' });
    });
  });
}

describe('mutual TLS and the role table (H5)', () => {
  let pki: Pki;
  let media: ServedMedia;
  beforeAll(async () => {
    pki = makePki();
    media = await serveMedia(pki, { maxMessageBytes: MAX_MESSAGE_BYTES });
  });
  afterAll(() => {
    media?.close();
  });

  it('control: the genuine broker certificate reaches the handler, over a raw client and PeerClient', async () => {
    const before = media.calls.Abort ?? 0;
    const tls = pki.id.broker.transport.kind === 'mtls' ? pki.id.broker.transport.tls : undefined;
    const raw = await rawAbort(media.address, grpc.credentials.createSsl(pki.ca, tls!.key, tls!.cert), abortEnvelope(pki));
    expect(grpc.status[raw.code]).toBe('NOT_FOUND');
    expect(raw.details).toMatch(/unknown session no-such-session/);
    const err = await statusOf(media.client('broker').call('Abort', [abortEnvelope(pki)]));
    expect(err.code).toBe('NOT_FOUND');
    expect(media.calls.Abort).toBe(before + 2);
  });

  const badClients: [string, () => grpc.ChannelCredentials][] = [
    ['no client certificate', () => grpc.credentials.createSsl(pki.ca)],
    ['a certificate from a rogue CA (subject and SANs of the broker)', () => grpc.credentials.createSsl(pki.ca, readFileSync(pki.rogue.key), readFileSync(pki.rogue.cert))],
    ['an expired broker certificate from the genuine broker CA', () => grpc.credentials.createSsl(pki.ca, readFileSync(pki.expired.key), readFileSync(pki.expired.cert))],
  ];
  for (const [name, creds] of badClients) {
    it(`H5 ${name} → handshake failure (UNAVAILABLE), no handler runs`, async () => {
      const before = { ...media.calls };
      const r = await rawAbort(media.address, creds(), abortEnvelope(pki));
      expect(grpc.status[r.code]).toBe('UNAVAILABLE');
      expect(media.calls).toEqual(before);
    });
  }

  it("H5 the advertiser's certificate calling media-only unary RPCs → PERMISSION_DENIED, no handler runs", async () => {
    const before = { ...media.calls };
    const a = media.client('advertiser');
    for (const method of ['Abort', 'BuildLookalike'] as const) {
      const err = await statusOf(a.call(method, [abortEnvelope(pki)]));
      expect(err.code).toBe('PERMISSION_DENIED');
      expect(err.message).toMatch(new RegExp(`Media\\.${method} may be called by broker, not by advertiser`));
    }
    expect(media.calls).toEqual(before);
    expect(media.serverLog.filter((l) => l.obj.caller === 'advertiser').map((l) => l.obj.method)).toEqual(expect.arrayContaining(['Abort', 'BuildLookalike']));
  });

  // One call shared by the two tests below (memoised, so either test can run alone).
  let evaluateByAdvertiser: Promise<{ err: ProtocolError; entered: boolean }> | undefined;
  const advertiserCallsEvaluate = () => (evaluateByAdvertiser ??= (async () => {
    const before = media.calls.Evaluate ?? 0;
    const ch = new SessionChannel(pki.id.broker, 'no-such-session');
    const err = await statusOf(media.client('advertiser').call('Evaluate', evaluateRequest(ch, [[randomElement()]]), SHORT_DEADLINE_MS));
    return { err, entered: (media.calls.Evaluate ?? 0) !== before };
  })());

  it("H5 the advertiser's certificate calling Media.Evaluate (streaming) is refused before the handler", async () => {
    // The role table refuses it: no handler runs, no element is evaluated.
    const { entered } = await advertiserCallsEvaluate();
    expect(entered).toBe(false);
    expect(media.serverLog).toContainEqual({ level: 'warn', obj: { service: 'Media', method: 'Evaluate', caller: 'advertiser' }, msg: 'permission denied by the role table' });
  });

  it("H5 the advertiser's certificate calling Media.Evaluate → status PERMISSION_DENIED", async () => {
    const { err } = await advertiserCallsEvaluate();
    expect(err.code).toBe('PERMISSION_DENIED');
  });

  // A client that refuses the server's certificate does not fail fast: grpc-js reports
  // UNAVAILABLE ("Failed to connect before the deadline") when the call's deadline ends. So these
  // calls get a short deadline, and each has a control with the same deadline that connects.
  it('H5 a client that expects the broker but reaches media refuses the server (server identity check)', async () => {
    const before = { ...media.calls };
    // control: the genuine broker material expecting media gets through (NOT_FOUND from the handler)
    expect((await statusOf(media.client('broker').call('Abort', [abortEnvelope(pki)], SHORT_DEADLINE_MS))).code).toBe('NOT_FOUND');
    expect(media.calls.Abort).toBe((before.Abort ?? 0) + 1);
    // the same material expecting the broker: refused before any request is sent
    const err = await statusOf(media.client('broker', { serverParty: 'broker' }).call('Abort', [abortEnvelope(pki)], SHORT_DEADLINE_MS));
    expect(err.code).toBe('UNAVAILABLE');
    // and the advertiser, whose only peer is the broker, refuses media the same way
    const fromA = new PeerClient('Broker', media.address, {
      transport: pki.id.advertiser.transport, serverParty: 'broker', self: 'advertiser', maxMessageBytes: MAX_MESSAGE_BYTES, deadlineMs: SHORT_DEADLINE_MS,
    });
    try {
      expect((await statusOf(fromA.call('Abort', [abortEnvelope(pki)]))).code).toBe('UNAVAILABLE');
    } finally {
      fromA.close();
    }
    expect(media.calls.Abort).toBe((before.Abort ?? 0) + 1);
  });

  it('H5 a "broker" server with a rogue-CA certificate is refused by the advertiser; the genuine broker is not', async () => {
    const serveBroker = async (cert: Buffer, key: Buffer) => {
      const entered: string[] = [];
      const handlers: Record<string, Handler> = {
        Abort: async () => {
          entered.push('Abort');
          throw new ProtocolError('NOT_FOUND', 'unknown session');
        },
      };
      const transport = { kind: 'mtls' as const, tls: { ca: pki.ca, cert, key } };
      const opts = { transport, maxMessageBytes: MAX_MESSAGE_BYTES, maxCallBytes: MAX_MESSAGE_BYTES, log: silentLog };
      const server = createServer(opts);
      addService(server, 'Broker', handlers, opts);
      const port = await bindServer(server, '127.0.0.1:0', transport);
      const client = new PeerClient('Broker', `localhost:${port}`, {
        transport: pki.id.advertiser.transport, serverParty: 'broker', self: 'advertiser', maxMessageBytes: MAX_MESSAGE_BYTES, deadlineMs: SHORT_DEADLINE_MS,
      });
      const env = new SessionChannel(pki.id.advertiser, 'no-such-session').seal('broker', 'ABORT', AbortCodec, { reason: 'test' });
      try {
        return { err: await statusOf(client.call('Abort', [env])), entered };
      } finally {
        client.close();
        server.forceShutdown();
      }
    };
    const genuine = pki.id.broker.transport.kind === 'mtls' ? pki.id.broker.transport.tls : undefined;
    const control = await serveBroker(genuine!.cert, genuine!.key);
    expect(control.err.code).toBe('NOT_FOUND');
    expect(control.entered).toEqual(['Abort']);
    const rogue = await serveBroker(readFileSync(pki.rogue.cert), readFileSync(pki.rogue.key));
    expect(rogue.err.code).toBe('UNAVAILABLE');
    expect(rogue.entered).toEqual([]);
  });
});

describe('message size limit (H6)', () => {
  let pki: Pki;
  let media: ServedMedia;
  beforeAll(async () => {
    pki = makePki();
    media = await serveMedia(pki, { maxMessageBytes: MAX_MESSAGE_BYTES });
  });
  afterAll(() => {
    media?.close();
  });

  it('H6 messages over maxMessageBytes → RESOURCE_EXHAUSTED, no handler runs, and the node keeps serving', async () => {
    // the client allows 64 MiB, so the refusal is the server's
    const broker = media.client('broker', { maxMessageBytes: 64 * 1024 * 1024 });
    const ch = await openMediaSession(pki.id.broker, broker, 4);
    const before = { ...media.calls };

    // The oversized messages are sealed on channels of their own: sealing them on `ch` would
    // consume its sequence numbers, and media would then rightly refuse `ch`'s next message.
    // unary: a CohortProfile of 5 MiB
    const big = new SessionChannel(pki.id.broker, 'oversized-unary').seal('media', 'AGGREGATE', CohortProfileCodec, { outcome: 'COMPLETED', profile: new Uint8Array(5 * 1024 * 1024), audienceSize: 10 });
    const unary = await statusOf(broker.call('BuildLookalike', [big]));
    expect(unary.code).toBe('RESOURCE_EXHAUSTED');
    expect(unary.message).toMatch(/larger than max/);

    // streaming: one Evaluate message of ≈ 4.5 MiB (150,000 elements)
    const many = Array.from({ length: 150_000 }, () => new Uint8Array(32).fill(7));
    const other = new SessionChannel(pki.id.broker, 'oversized-stream');
    const streamed = await statusOf(broker.call('Evaluate', evaluateRequest(other, [many])));
    expect(streamed.code).toBe('RESOURCE_EXHAUSTED');
    expect(streamed.message).toMatch(/larger than max/);
    expect(media.calls).toEqual(before);

    // the node keeps serving: the session opened before evaluates normally
    const batch = [randomElement(), randomElement(), randomElement(), randomElement()];
    const out = evaluatedOf(ch, await broker.call('Evaluate', evaluateRequest(ch, [batch])));
    expect(out).toEqual(batch.map((e) => media.universe.key.evaluate(e)));
    expect(media.node.sessions.get(ch.sessionId)!.status).toBe('running');
  });
});
