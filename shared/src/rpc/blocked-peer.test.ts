/**
 * Why retargeting failed at W1 with UNAVAILABLE "Stream refused by server" on Media.Activate
 * (docs/protocol.md §7.6), shown on the transport alone — a client as the broker builds it, a
 * server (own thread) as media builds it, keepalive intervals scaled down:
 * - a streamed call whose total is several times the message limit goes through (each message
 *   is below the limit): the size of the Activate stream was not the cause;
 * - a client whose event loop stops for longer than the server's keepalive timeout (the
 *   broker's DH-PSI exponentiations, minutes on its calling thread) has its connection dropped
 *   by the server, and its next call's stream is refused — the W1 failure; PeerClient now makes
 *   such a call again, once, on a new connection (a refused stream reached no handler);
 * - (control) the same time spent waiting on another thread — as the broker now computes the
 *   PSI on its worker pool — leaves the connection up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { PeerClient, type KeepalivePolicy } from './grpc.ts';
import type { Envelope } from '../transcript/statement.ts';

const KEEPALIVE: KeepalivePolicy = { serverTimeMs: 300, clientTimeMs: 6000, timeoutMs: 400, minClientPingIntervalMs: 5000 };
const LIMIT = 256 * 1024;
const message = (bytes: number): Envelope => ({ statement: new Uint8Array(16), payload: new Uint8Array(bytes), signatures: [] });

describe('a peer that stops its event loop loses its connection; a long stream does not', () => {
  let worker: Worker | undefined;
  let client: PeerClient<'Media'> | undefined;
  afterEach(async () => {
    client?.close();
    await worker?.terminate();
  });

  async function connect(): Promise<PeerClient<'Media'>> {
    worker = new Worker(new URL('./blocked-peer.fixture.ts', import.meta.url), { workerData: { maxMessageBytes: LIMIT, keepalive: KEEPALIVE } });
    const port = await new Promise<number>((resolve, reject) => {
      worker!.once('message', resolve);
      worker!.once('error', reject);
    });
    client = new PeerClient('Media', `127.0.0.1:${port}`, { transport: { kind: 'plaintext' }, serverParty: 'media', self: 'broker', maxMessageBytes: LIMIT, deadlineMs: 30_000, keepalive: KEEPALIVE });
    return client;
  }

  const tenMessages = () => Array.from({ length: 10 }, () => message(LIMIT / 2));

  it('a stream of ten messages, five times the message limit in total, goes through', async () => {
    const c = await connect();
    const [reply] = await c.call('Activate', tenMessages());
    expect(reply!.payload[0]).toBe(10);
  });

  it('after the client\'s event loop stopped for 10× the keepalive timeout, the server has closed its connection: the next call\'s stream is refused and the call is made again, once, on a new connection', async () => {
    const c = await connect();
    await c.call('Activate', [message(16)]);
    const t = Date.now();
    while (Date.now() - t < 10 * KEEPALIVE.timeoutMs) { /* the event loop stops, as in a long computation on it */ }
    // Before PeerClient retried refused streams this call failed with UNAVAILABLE "Stream
    // refused by server" (the W1 retargeting failure of docs/protocol.md §7.6).
    const [reply] = await c.call('Activate', tenMessages());
    expect(reply!.payload[0]).toBe(10);
    expect(c.refusedRetries).toBe(1);
  });

  it('(control) the same time spent awaiting another thread leaves the connection up', async () => {
    const c = await connect();
    await c.call('Activate', [message(16)]);
    await new Promise((r) => setTimeout(r, 10 * KEEPALIVE.timeoutMs));
    const [reply] = await c.call('Activate', tenMessages());
    expect(reply!.payload[0]).toBe(10);
  });
});
