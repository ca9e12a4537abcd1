/**
 * afterSend: a streamed reply's release hook runs once every message of it has been
 * serialized — here it detaches the one buffer all the payloads are views of (as media frees
 * its indicators' buffer), and the caller still receives every payload byte for byte.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '@grpc/grpc-js';
import { PeerClient, addService, afterSend, bindServer, createServer } from './grpc.ts';
import { freePort } from '../common/free-port.ts';
import type { Envelope } from '../transcript/statement.ts';

const opts = { transport: { kind: 'plaintext' as const }, maxMessageBytes: 1 << 20, maxCallBytes: 1 << 26, log: { warn: () => undefined, error: () => undefined } };

describe('afterSend on a streamed reply', () => {
  let server: Server | undefined;
  let client: PeerClient<'Media'> | undefined;
  afterEach(() => {
    client?.close();
    server?.forceShutdown();
  });

  it('runs the release once all messages are serialized: detaching their buffer then loses no byte', async () => {
    const port = await freePort();
    const messages = 40; // more than a stream buffers before its first write completes
    const size = 200_000;
    let released = 0;
    server = createServer(opts);
    addService(server, 'Media', {
      Indicators: async () => {
        const slab = Buffer.allocUnsafe(messages * size);
        for (let i = 0; i < slab.length; i++) slab[i] = (i * 31) & 255;
        const reply: Envelope[] = Array.from({ length: messages }, (_, i) => ({ statement: new Uint8Array(0), payload: slab.subarray(i * size, (i + 1) * size), signatures: [] }));
        return afterSend(reply, () => {
          released++;
          (slab.buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
        });
      },
    }, opts);
    await bindServer(server, `127.0.0.1:${port}`, opts.transport);
    client = new PeerClient('Media', `127.0.0.1:${port}`, { transport: opts.transport, serverParty: 'media', self: 'broker', maxMessageBytes: opts.maxMessageBytes, deadlineMs: 10_000 });
    const got = await client.call('Indicators', [{ statement: new Uint8Array(0), payload: new Uint8Array(0), signatures: [] }]);
    expect(got).toHaveLength(messages);
    for (const [m, env] of got.entries()) {
      expect(env.payload.byteLength).toBe(size);
      for (let b = 0; b < size; b += 997) expect(env.payload[b]).toBe(((m * size + b) * 31) & 255);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(released).toBe(1);
  }, 20_000);
});
