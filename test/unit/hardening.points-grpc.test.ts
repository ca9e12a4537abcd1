/**
 * Trust and audit hardening, the OPRF side, at the media NODE level: the real MediaNode
 * handlers fed real signed broker envelopes, first through the in-memory peer (the same
 * handlers and envelopes the gRPC adapter carries), then over real gRPC with mutual TLS
 * (createServer/addService/bindServer, development PKI, the broker's PeerClient).
 *   H1  each low-order point (the identity / all-zero encoding included) in an Evaluate
 *       request → INVALID_ARGUMENT; libsodium's X25519 never ran, the session is failed
 *       with nothing evaluated and serves nothing more;
 *   H2  wrong lengths (0, 31, 33) and non-canonical encodings → the same;
 *   H3  more evaluations than the declared quota → RESOURCE_EXHAUSTED: in one chunk, over the
 *       chunks of one call, and across two calls.
 * Over gRPC the node refuses exactly as in memory (key untouched, session failed with the
 * precise reason) and the caller gets that precise status at once. (These tests found that
 * streaming RPCs used to lose their status — `call.destroy` never sends one; fixed in grpc.ts.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomElement, sodium } from '@cleanroom/shared/crypto/group.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { inMemoryPeer, type Peer } from '@cleanroom/shared/rpc/peer.ts';
import type { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import {
  evaluatedOf, evaluateRequest, lowOrderElements, makePki, malformedElements, openMediaSession, serveMedia,
  type Pki, type ServedMedia,
} from './hardening.fixtures.ts';

async function statusOf(p: Promise<unknown>): Promise<ProtocolError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProtocolError);
  return err as ProtocolError;
}

const elements = (n: number) => Array.from({ length: n }, () => randomElement());

const hostile = [
  ...lowOrderElements().map((b) => ({ ...b, req: 'H1' })),
  ...malformedElements(randomElement()).map((b) => ({ ...b, req: 'H2' })),
];

describe('media node, real handlers and signed envelopes (in-memory peer)', () => {
  let pki: Pki;
  let media: ServedMedia;
  let broker: Peer;
  beforeAll(async () => {
    pki = makePki();
    // served over gRPC too (next describe); here the broker reaches the same handlers directly
    media = await serveMedia(pki, { maxMessageBytes: 8 * 1024 * 1024 });
    broker = inMemoryPeer('Media', 'broker', () => media.node.handlers());
  });
  afterAll(() => {
    media?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('control: a valid Evaluate (two chunks) returns X25519(k, ·) of every element, signed by media', async () => {
    const ch = await openMediaSession(pki.id.broker, broker, 4);
    const batch = elements(4);
    const x25519 = vi.spyOn(sodium, 'crypto_scalarmult');
    const out = evaluatedOf(ch, await broker.call('Evaluate', evaluateRequest(ch, [batch.slice(0, 2), batch.slice(2)])));
    expect(x25519).toHaveBeenCalledTimes(4);
    expect(out).toEqual(batch.map((e) => media.universe.key.evaluate(e)));
  });

  for (const bad of hostile) {
    it(`${bad.req} ${bad.name} in an Evaluate request → INVALID_ARGUMENT, the universe key never used`, async () => {
      const ch = await openMediaSession(pki.id.broker, broker, 8);
      const x25519 = vi.spyOn(sodium, 'crypto_scalarmult');
      const err = await statusOf(broker.call('Evaluate', evaluateRequest(ch, [[randomElement(), randomElement(), bad.bytes]])));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/^element 2: /);
      expect(err.message).toMatch(bad.says);
      expect(x25519).not.toHaveBeenCalled();
      const rec = media.node.sessions.get(ch.sessionId)!;
      expect(rec.status).toBe('failed');
      expect(rec.error).toMatch(/^INVALID_ARGUMENT: element 2: /);
      expect(rec.progress.evaluated).toBeUndefined();
      // the failed session serves nothing more, not even a valid batch
      const again = await statusOf(broker.call('Evaluate', evaluateRequest(ch, [[randomElement()]])));
      expect(again.code).toBe('FAILED_PRECONDITION');
      expect(x25519).not.toHaveBeenCalled();
    });
  }

  it('H3 one chunk larger than the quota → RESOURCE_EXHAUSTED, nothing evaluated', async () => {
    const ch = await openMediaSession(pki.id.broker, broker, 4);
    const x25519 = vi.spyOn(sodium, 'crypto_scalarmult');
    const err = await statusOf(broker.call('Evaluate', evaluateRequest(ch, [elements(5)])));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toMatch(/evaluation quota of 4 for this session exceeded \(0 done, 5 more asked\)/);
    expect(x25519).not.toHaveBeenCalled();
  });

  it('H3 the quota counts across the chunks of one call: 3 + 2 > 4 → RESOURCE_EXHAUSTED at the second chunk', async () => {
    const ch = await openMediaSession(pki.id.broker, broker, 4);
    const x25519 = vi.spyOn(sodium, 'crypto_scalarmult');
    const err = await statusOf(broker.call('Evaluate', evaluateRequest(ch, [elements(3), elements(2)])));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toMatch(/\(3 done, 2 more asked\)/);
    expect(x25519).toHaveBeenCalledTimes(3); // the first chunk only; nothing of the refused one
  });

  it('H3 the quota counts across calls: 3 evaluated, then 2 more → RESOURCE_EXHAUSTED', async () => {
    const ch = await openMediaSession(pki.id.broker, broker, 4);
    expect(evaluatedOf(ch, await broker.call('Evaluate', evaluateRequest(ch, [elements(3)])))).toHaveLength(3);
    const x25519 = vi.spyOn(sodium, 'crypto_scalarmult');
    const err = await statusOf(broker.call('Evaluate', evaluateRequest(ch, [elements(2)])));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toMatch(/\(3 done, 2 more asked\)/);
    expect(x25519).not.toHaveBeenCalled();
    expect(media.node.sessions.get(ch.sessionId)!.status).toBe('failed');
  });
});

describe('the same refusals over real gRPC with mutual TLS', () => {
  // A refused Evaluate is answered by no status at all (the bug below), so each call waits for
  // this deadline; the three calls run concurrently, once, and the tests read their outcomes.
  const DEADLINE_MS = 5000;
  let pki: Pki;
  let media: ServedMedia;
  const outcome: Record<'H1' | 'H2' | 'H3', { ch: SessionChannel; err: ProtocolError; x25519Calls: number; handlerCalls: number }> = {} as never;
  beforeAll(async () => {
    pki = makePki();
    media = await serveMedia(pki, { maxMessageBytes: 8 * 1024 * 1024 });
    const broker = media.client('broker');
    // control: the path works end to end for a valid request
    const ok = await openMediaSession(pki.id.broker, broker, 2);
    const batch = elements(2);
    expect(evaluatedOf(ok, await broker.call('Evaluate', evaluateRequest(ok, [batch])))).toEqual(batch.map((e) => media.universe.key.evaluate(e)));
    const cases = {
      H1: { ch: await openMediaSession(pki.id.broker, broker, 8), batch: [randomElement(), lowOrderElements()[0]!.bytes] },
      H2: { ch: await openMediaSession(pki.id.broker, broker, 8), batch: [randomElement(), malformedElements(randomElement())[2]!.bytes] },
      H3: { ch: await openMediaSession(pki.id.broker, broker, 4), batch: elements(5) },
    };
    const before = media.calls.Evaluate ?? 0;
    const x25519 = vi.spyOn(sodium, 'crypto_scalarmult');
    await Promise.all(Object.entries(cases).map(async ([req, c]) => {
      const err = await statusOf(broker.call('Evaluate', evaluateRequest(c.ch, [c.batch]), DEADLINE_MS));
      outcome[req as 'H1'] = { ch: c.ch, err, x25519Calls: 0, handlerCalls: 0 };
    }));
    for (const o of Object.values(outcome)) {
      o.x25519Calls = x25519.mock.calls.length;
      o.handlerCalls = (media.calls.Evaluate ?? 0) - before;
    }
    x25519.mockRestore();
  }, 120_000);
  afterAll(() => {
    media?.close();
  });

  it('H1/H2/H3 over gRPC: the node refuses before its key is used, and fails each session with the precise reason', () => {
    expect(outcome.H1.handlerCalls).toBe(3);
    expect(outcome.H1.x25519Calls).toBe(0);
    const reason = (k: 'H1' | 'H2' | 'H3') => media.node.sessions.get(outcome[k].ch.sessionId)!;
    expect(reason('H1').status).toBe('failed');
    expect(reason('H1').error).toMatch(/^INVALID_ARGUMENT: element 1: .*low-order point/);
    expect(reason('H2').error).toMatch(/^INVALID_ARGUMENT: element 1: expected a 32-byte Uint8Array, got 33 bytes/);
    expect(reason('H3').error).toMatch(/^RESOURCE_EXHAUSTED: evaluation quota of 4/);
  });

  it('H1 over gRPC: the identity element → status INVALID_ARGUMENT', () => {
    expect(outcome.H1.err.code).toBe('INVALID_ARGUMENT');
  });
  it('H2 over gRPC: a 33-byte element → status INVALID_ARGUMENT', () => {
    expect(outcome.H2.err.code).toBe('INVALID_ARGUMENT');
  });
  it('H3 over gRPC: more evaluations than the quota → status RESOURCE_EXHAUSTED', () => {
    expect(outcome.H3.err.code).toBe('RESOURCE_EXHAUSTED');
  });
});
