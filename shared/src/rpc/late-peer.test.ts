/**
 * A call to a peer that is not listening yet waits for it (bounded) and only then starts its
 * own deadline: the broker's first universe sync waited for media to finish preparing inside
 * the deadline that then bounded the transfer, and expired part-way (docs/operations.md,
 * "Deadlines"). Here the peer starts listening 1.5 s after the call and takes 5 s to answer,
 * under a 6 s deadline: 6.5 s in all, which a shared deadline refuses (DEADLINE_EXCEEDED);
 * a peer that never listens still ends the call UNAVAILABLE within the connection budget.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '@grpc/grpc-js';
import { PeerClient, addService, bindServer, createServer } from './grpc.ts';
import { freePort } from '../common/free-port.ts';
import type { Envelope } from '../transcript/statement.ts';

const opts = { transport: { kind: 'plaintext' as const }, maxMessageBytes: 1 << 20, maxCallBytes: 1 << 24, log: { warn: () => undefined, error: () => undefined } };
const reply: Envelope = { statement: new Uint8Array(0), payload: Uint8Array.of(1), signatures: [] };

describe('a call waits for a late peer outside its deadline', () => {
  let server: Server | undefined;
  let client: PeerClient<'Media'> | undefined;
  afterEach(() => {
    client?.close();
    server?.forceShutdown();
  });

  it('a peer that listens 1.5 s late and answers in 5 s meets a 6 s deadline', async () => {
    const port = await freePort();
    client = new PeerClient('Media', `127.0.0.1:${port}`, { transport: opts.transport, serverParty: 'media', self: 'broker', maxMessageBytes: opts.maxMessageBytes, deadlineMs: 6000 });
    const late = new Promise<void>((resolve) => setTimeout(() => {
      server = createServer(opts);
      addService(server, 'Media', { Activate: async () => new Promise((r) => setTimeout(() => r([reply]), 5000)) }, opts);
      void bindServer(server, `127.0.0.1:${port}`, opts.transport).then(() => resolve());
    }, 1500));
    const [got] = await client.call('Activate', [reply]);
    await late;
    expect(got!.payload[0]).toBe(1);
  }, 20_000);

  it('a peer that never listens ends the call UNAVAILABLE, naming the connection budget', async () => {
    const port = await freePort();
    client = new PeerClient('Media', `127.0.0.1:${port}`, { transport: opts.transport, serverParty: 'media', self: 'broker', maxMessageBytes: opts.maxMessageBytes, deadlineMs: 1500 });
    const err = await client.call('Activate', [reply]).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(err?.code).toBe('UNAVAILABLE');
    expect(err?.message).toMatch(/no connection to the peer within 1500 ms/);
  }, 20_000);
});
