/**
 * The paged DH-PSI (retargeting / joint-activate; docs/protocol.md §7.4): the broker's padded
 * set reaches media in Activate pages, then media's set one Indicators page at a time, each
 * answered by one Activate page. A broker that breaks the order — a page skipped or sent again
 * (signed anew, or the very same messages replayed), a page above PSI_PAGE_ITEMS, a page
 * straddling the end of its padded set, an answer longer than the page media sent, media's set
 * asked before the padded set is whole, out of order or before the last page was answered, the
 * final page never sent — gets a precise error from media (the gRPC status code of a
 * ProtocolError), that session fails at every node with the reason, and the next session on
 * the same nodes completes.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BrokerNode } from '../../services/broker/src/node.ts';
import { AckCodec, BlindedBatchCodec, IndicatorRequestCodec, joinBatches } from '@cleanroom/shared/rpc/codec.ts';
import type { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { PSI_PAGE_ITEMS } from '@cleanroom/shared/protocol/media.ts';
import type { BrokerRole } from '@cleanroom/shared/protocol/broker.ts';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { PackedList } from '@cleanroom/shared/common/packed-list.ts';
import { ELEMENT_BYTES } from '@cleanroom/shared/crypto/group.ts';
import type { Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { makeWorld, type World } from './world.ts';
import { cluster, type Cluster } from './nodes.ts';

const SEGMENT = { all: [{ tag: 'visited_90d', eq: true }, { not: { tag: 'purchased_90d' } }] };
const PAGE = 3000;

/** What a misbehaving broker can do: seal and send pages of its padded set, ask for media's pages, answer them. */
interface Broker {
  /** Elements [from, to) of the broker's padded set (or `items`), sealed as one Activate page at `from`. */
  padPage(from: number, to: number, items?: Uint8Array[]): Envelope[];
  /** Sealed BlindedBatch `items` at `offset` (an answer page). */
  page(offset: number, items: Uint8Array[]): Envelope[];
  activate(envs: Envelope[]): Promise<Envelope[]>;
  /** Media's set page at `offset` (at most `max` elements), opened. */
  indicators(offset: number, max?: number): Promise<Uint8Array[]>;
  /** The page under the broker's scalar (the role's own answer). */
  answer(offset: number, page: Uint8Array[]): Promise<Uint8Array[]>;
  padded: PackedList;
}
type Send = (b: Broker) => Promise<Envelope[]>;

const proto = BrokerNode.prototype as unknown as { activatePaged: (this: BrokerNode, channel: SessionChannel, role: BrokerRole, padded: PackedList) => Promise<Envelope[]> };
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

  /** The broker runs its side of the PSI with `send` (a misbehaving broker) until restored. */
  function brokerSends(send: Send): void {
    proto.activatePaged = async function (channel, role, padded) {
      const media = (this as unknown as { o: { media: { call: (m: 'Activate' | 'Indicators', e: Envelope[]) => Promise<Envelope[]> } } }).o.media;
      const call = (m: 'Activate' | 'Indicators', envs: Envelope[]) => media.call(m, envs).catch((err: unknown) => {
        refused ??= err as ProtocolError;
        throw err;
      });
      const page = (offset: number, items: Uint8Array[]) => channel.sealChunks('media', 'AGGREGATE', BlindedBatchCodec, [{ offset, items }]);
      return send({
        padPage: (from, to, items = padded.toArray().slice(from, to)) => page(from, items),
        page,
        activate: async (envs) => {
          const resp = await call('Activate', envs);
          // media's Acks are opened (they count in the link's sequence numbers); its result is left to the caller
          for (const env of resp) if (channel.names(env, AckCodec)) channel.open(env, 'media', ['AGGREGATE'], AckCodec);
          return resp.filter((env) => !channel.names(env, AckCodec));
        },
        indicators: async (offset, max = PAGE) => {
          const resp = await call('Indicators', [channel.seal('media', 'AGGREGATE', IndicatorRequestCodec, { universeVersion: w.publication.version, offset, maxItems: max })]);
          return joinBatches(channel.openChunks(resp, 'media', ['AGGREGATE'], BlindedBatchCodec), 'PSI set page', offset);
        },
        answer: async (offset, items) => (await role.psiReplyPage(offset, PackedList.from(items, ELEMENT_BYTES), PSI_PAGE_ITEMS)).toArray(),
        padded,
      });
    };
  }

  /** Sends the whole padded set in pages of PAGE, as the broker does. */
  async function sendPadded(b: Broker): Promise<void> {
    for (let from = 0; from < b.padded.length; from += PAGE) await b.activate(b.padPage(from, Math.min(b.padded.length, from + PAGE)));
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
    brokerSends(async (b) => b.activate(b.padPage(PAGE, 2 * PAGE)));
    await failsThatSessionOnly(c, 'INVALID_ARGUMENT', /PSI reply page at element 3000: expected the page starting at element 0/);
  });

  it('a page sent again, signed anew → INVALID_ARGUMENT (a replayed page)', async () => {
    const c = await nodes();
    brokerSends(async (b) => {
      await b.activate(b.padPage(0, PAGE));
      return b.activate(b.padPage(0, PAGE));
    });
    await failsThatSessionOnly(c, 'INVALID_ARGUMENT', /PSI reply page at element 0: elements up to 3000 were received already \(a replayed page\)/);
  });

  it('the same signed messages replayed → the envelope is refused as a replay', async () => {
    const c = await nodes();
    brokerSends(async (b) => {
      const envs = b.padPage(0, PAGE);
      await b.activate(envs);
      return b.activate(envs);
    });
    await failsThatSessionOnly(c, 'ALREADY_EXISTS', /envelope rejected \(replay\)/);
  });

  it('a page above PSI_PAGE_ITEMS → RESOURCE_EXHAUSTED', async () => {
    const c = await nodes();
    brokerSends(async (b) => b.activate(b.padPage(0, 0, Array.from({ length: PSI_PAGE_ITEMS + 1 }, (_, i) => b.padded.at(i % b.padded.length)))));
    await failsThatSessionOnly(c, 'RESOURCE_EXHAUSTED', new RegExp(`expected at most ${PSI_PAGE_ITEMS} elements, got ${PSI_PAGE_ITEMS + 1}`));
  });

  it('a page running past the end of the broker\'s padded set → INVALID_ARGUMENT naming where it ends', async () => {
    const c = await nodes();
    brokerSends(async (b) => {
      const P = b.padded.length;
      await b.activate(b.padPage(0, P - 1));
      return b.activate(b.padPage(P - 1, 0, [b.padded.at(P - 1), b.padded.at(0)]));
    });
    await failsThatSessionOnly(c, 'INVALID_ARGUMENT', /the broker's padded set ends at element \d+, this page ends at \d+/);
  });

  it('an answer longer than the page media sent → INVALID_ARGUMENT naming the page', async () => {
    const c = await nodes();
    brokerSends(async (b) => {
      await sendPadded(b);
      const mine = await b.indicators(0);
      const answer = await b.answer(0, mine);
      return b.activate(b.page(b.padded.length, [...answer, answer[0]!]));
    });
    await failsThatSessionOnly(c, 'INVALID_ARGUMENT', new RegExp(`expected the answer to media's set up to element ${PAGE} \\(the page it sent last\\), this page ends at element ${PAGE + 1} of it`));
  });

  it('media\'s set asked before the padded set is whole → FAILED_PRECONDITION', async () => {
    const c = await nodes();
    brokerSends(async (b) => {
      await b.activate(b.padPage(0, 10));
      await b.indicators(0);
      return [];
    });
    await failsThatSessionOnly(c, 'FAILED_PRECONDITION', /asked for its PSI set before the broker's padded set arrived whole \(10 of \d+ elements\)/);
  });

  it('media\'s set asked out of order, or its next page before the last was answered → a precise error', async () => {
    const c = await nodes();
    brokerSends(async (b) => {
      await sendPadded(b);
      await b.indicators(PAGE);
      return [];
    });
    await failsThatSessionOnly(c, 'INVALID_ARGUMENT', /PSI set page at element 3000: expected the page starting at element 0 \(pages in order, none skipped or asked twice\)/);
    refused = undefined;
    brokerSends(async (b) => {
      await sendPadded(b);
      await b.indicators(0);
      await b.indicators(PAGE);
      return [];
    });
    await failsThatSessionOnly(c, 'FAILED_PRECONDITION', /PSI set page at element 3000: the broker has answered elements up to 0 of the 3000 sent \(one page at a time\)/);
  });

  it('media\'s set asked in pages above PSI_PAGE_ITEMS → RESOURCE_EXHAUSTED', async () => {
    const c = await nodes();
    brokerSends(async (b) => {
      await sendPadded(b);
      await b.indicators(0, PSI_PAGE_ITEMS + 1);
      return [];
    });
    await failsThatSessionOnly(c, 'RESOURCE_EXHAUSTED', new RegExp(`expected 1..${PSI_PAGE_ITEMS} elements asked, got ${PSI_PAGE_ITEMS + 1}`));
  });

  it('the final page never sent → media fails the session once the broker is silent, naming where the reply stopped', async () => {
    const c = cluster(w, { policy: { minCohort: 5, noiseScale: 0 }, privacy: { differencingMin: 0 }, deadlineMs: 3000 });
    await c.broker.syncUniverse();
    let sessionId = '';
    brokerSends(async (b) => {
      await sendPadded(b);
      await b.activate(b.page(b.padded.length, await b.answer(0, await b.indicators(0))));
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
