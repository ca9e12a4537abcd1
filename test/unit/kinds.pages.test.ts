/**
 * Media.Activate pages (retargeting / joint-activate): the broker's DH-PSI reply reaches media
 * in pages, one call each. A broker that breaks the page order — a page skipped or sent again
 * (signed anew, or the very same messages replayed), a page above PSI_PAGE_ITEMS, more elements
 * than the reply holds, the final page never sent — gets a precise error from media (the gRPC
 * status code of a ProtocolError), that session fails at every node with the reason, and the
 * next session on the same nodes completes.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BrokerNode } from '../../services/broker/src/node.ts';
import { BlindedBatchCodec } from '@cleanroom/shared/rpc/codec.ts';
import type { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { PSI_PAGE_ITEMS } from '@cleanroom/shared/protocol/media.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import type { Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { makeWorld, type World } from './world.ts';
import { cluster, type Cluster } from './nodes.ts';

const SEGMENT = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };
const PAGE = 3000;

type Send = (page: (from: number, to: number, items?: Uint8Array[]) => Envelope[], call: (envs: Envelope[]) => Promise<Envelope[]>, total: number, reply: readonly Uint8Array[]) => Promise<Envelope[]>;

const proto = BrokerNode.prototype as unknown as { activatePaged: (this: BrokerNode, channel: SessionChannel, reply: readonly Uint8Array[]) => Promise<Envelope[]> };
const paged = proto.activatePaged;

describe('Media.Activate pages: bad input fails that session only, with a precise error', () => {
  let w: World;
  let refused: ProtocolError | undefined;
  beforeAll(async () => {
    w = await makeWorld({ seed: 'kinds-pages', universeSize: 6000, crmSize: 900 });
  });
  afterEach(() => {
    proto.activatePaged = paged;
    refused = undefined;
  });

  /** The broker pages its reply with `send` (a misbehaving broker) until restored. */
  function brokerSends(send: Send): void {
    proto.activatePaged = async function (channel, reply) {
      const page = (from: number, to: number, items = reply.slice(from, to)) => channel.sealChunks('media', 'AGGREGATE', BlindedBatchCodec, [{ offset: from, items }]);
      const call = (envs: Envelope[]) => (this as unknown as { o: { media: { call: (m: 'Activate', e: Envelope[]) => Promise<Envelope[]> } } }).o.media.call('Activate', envs)
        .catch((err: unknown) => {
          refused ??= err as ProtocolError;
          throw err;
        });
      return send(page, call, reply.length, reply);
    };
  }

  async function retarget(c: Cluster) {
    return c.advertiser.start({ kind: 'retargeting', predicate: SEGMENT, minCohort: 5 }).done;
  }

  /** The bad session failed at all three nodes with media's reason; then a good one completes on the same nodes. */
  async function failsThatSessionOnly(c: Cluster, code: string, reason: RegExp): Promise<void> {
    const rec = await retarget(c);
    expect(rec.status).toBe('failed');
    expect(refused).toBeInstanceOf(ProtocolError);
    expect(refused?.code).toBe(code);
    expect(refused?.message).toMatch(reason);
    expect(rec.error).toMatch(reason);
    expect(c.media.sessions.get(rec.sessionId)?.status).toBe('failed');
    expect(c.media.sessions.get(rec.sessionId)?.error).toMatch(reason);
    expect(c.broker.sessions.get(rec.sessionId)?.status).toBe('failed');
    expect(c.media.sessions.get(rec.sessionId)?.state.role.audience).toBeUndefined();
    proto.activatePaged = paged;
    const next = await retarget(c);
    expect(next.error).toBeUndefined();
    expect(next.status).toBe('completed');
  }

  async function nodes(): Promise<Cluster> {
    const c = cluster(w, { policy: { minCohort: 5, noiseScale: 0 }, privacy: { differencingMin: 0 } });
    await c.broker.syncUniverse();
    return c;
  }

  it('a page skipped (out of order) → INVALID_ARGUMENT naming the page expected', async () => {
    const c = await nodes();
    brokerSends(async (page, call) => call(page(PAGE, 2 * PAGE)));
    await failsThatSessionOnly(c, 'INVALID_ARGUMENT', /PSI reply page at element 3000: expected the page starting at element 0/);
  });

  it('a page sent again, signed anew → INVALID_ARGUMENT (a replayed page)', async () => {
    const c = await nodes();
    brokerSends(async (page, call) => {
      await call(page(0, PAGE));
      return call(page(0, PAGE));
    });
    await failsThatSessionOnly(c, 'INVALID_ARGUMENT', /PSI reply page at element 0: elements up to 3000 were received already \(a replayed page\)/);
  });

  it('the same signed messages replayed → the envelope is refused as a replay', async () => {
    const c = await nodes();
    brokerSends(async (page, call) => {
      const envs = page(0, PAGE);
      await call(envs);
      return call(envs);
    });
    await failsThatSessionOnly(c, 'ALREADY_EXISTS', /envelope rejected \(replay\)/);
  });

  it('a page above PSI_PAGE_ITEMS → RESOURCE_EXHAUSTED', async () => {
    const c = await nodes();
    brokerSends(async (page, call, _total, reply) => call(page(0, 0, Array.from({ length: PSI_PAGE_ITEMS + 1 }, (_, i) => reply[i % reply.length]!))));
    await failsThatSessionOnly(c, 'RESOURCE_EXHAUSTED', new RegExp(`expected at most ${PSI_PAGE_ITEMS} elements, got ${PSI_PAGE_ITEMS + 1}`));
  });

  it('more elements than the reply holds → INVALID_ARGUMENT naming the total', async () => {
    const c = await nodes();
    brokerSends(async (page, call, total, reply) => {
      await call(page(0, total - 1));
      return call(page(total - 1, total + 1, [reply[total - 1]!, reply[0]!]));
    });
    await failsThatSessionOnly(c, 'INVALID_ARGUMENT', /elements in all \(media's set of \d+, then the padded size \d+\), this page ends at \d+/);
  });

  it('the final page never sent → media fails the session once the broker is silent, naming where the reply stopped', async () => {
    const c = cluster(w, { policy: { minCohort: 5, noiseScale: 0 }, privacy: { differencingMin: 0 }, deadlineMs: 3000 });
    await c.broker.syncUniverse();
    let sessionId = '';
    brokerSends(async (page, call, total) => {
      for (let from = 0; from + PAGE < total; from += PAGE) await call(page(from, from + PAGE));
      // then silence: the broker sends nothing more until media has given up on the session
      sessionId = c.media.sessions.list().at(-1)?.sessionId ?? '';
      for (let i = 0; i < 200 && c.media.sessions.get(sessionId)?.status === 'running'; i++) await new Promise((r) => setTimeout(r, 100));
      throw new ProtocolError('UNAVAILABLE', 'broker: stopped before the final page (test)');
    });
    const rec = await retarget(c);
    expect(rec.status).toBe('failed');
    const m = c.media.sessions.get(sessionId);
    expect(m?.status).toBe('failed');
    expect(m?.error).toMatch(/no message from the broker for 3000 ms; the broker's PSI reply stopped at \d+ of \d+ elements \(its final page never came\)/);
    expect(m?.state.role.audience).toBeUndefined();
  });
});
