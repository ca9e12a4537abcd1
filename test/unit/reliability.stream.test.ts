/**
 * Issue 9, item 3, over real gRPC (plaintext, loopback) with the server options every node
 * uses (nodeServerOptions): a streamed request is checked message by message as it arrives.
 * A stream of unsigned junk is refused at its first message — the handler never runs and
 * nothing stays buffered —; one call cannot buffer more than its limit, and all calls
 * together not more than the node's budget (the call over it is refused while the others run).
 */
import { describe, expect, it, afterEach } from 'vitest';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { Handler, ServerOptions } from '@cleanroom/shared/rpc/grpc.ts';
import { ByteBudget } from '@cleanroom/shared/rpc/budget.ts';
import { BlindedBatchCodec } from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { nodeServerOptions } from '@cleanroom/shared/service/main.ts';
import { plaintextMedia } from './plaintext-peer.ts';
import { SigningKey, makeTrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { identityFromKeys } from '@cleanroom/shared/service/identity.ts';
import type { Envelope } from '@cleanroom/shared/transcript/statement.ts';

const keys = { advertiser: SigningKey.generate(), media: SigningKey.generate(), broker: SigningKey.generate() };
const trust = makeTrustBundle({ advertiser: keys.advertiser.publicKey, media: keys.media.publicKey, broker: keys.broker.publicKey });
const ids = {
  media: identityFromKeys('media', keys.media, trust, { kind: 'plaintext' }),
  broker: identityFromKeys('broker', keys.broker, trust, { kind: 'plaintext' }),
};

/** Signed BlindedBatch chunks broker→media of about `bytes` each. */
function signedChunks(sessionId: string, n: number, bytes: number): Envelope[] {
  const ch = new SessionChannel(ids.broker, sessionId);
  const items = (i: number) => Array.from({ length: Math.ceil(bytes / 32) }, () => Uint8Array.from(randomBytes(32))).map((x, j) => (j === 0 ? Uint8Array.of(i, ...x.subarray(1)) : x));
  return ch.sealChunks('media', 'BLIND', BlindedBatchCodec, Array.from({ length: n }, (_, i) => ({ offset: i * Math.ceil(bytes / 32), items: items(i) })));
}

describe('streamed requests are checked as they arrive (issue 9, item 3)', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  async function serve(evaluate: Handler, tweak: (o: ServerOptions) => ServerOptions = (o) => o) {
    const base = nodeServerOptions(ids.media, 'media', 8 * 1024 * 1024, pino({ level: 'silent' }));
    const checked = { messages: 0 };
    const opts = tweak({ ...base, checkStream: (caller) => { const c = base.checkStream!(caller); return (e, i) => { checked.messages++; c(e, i); }; } });
    const client = await plaintextMedia({ Evaluate: evaluate }, opts, cleanup);
    return { client, opts, checked };
  }

  it('2,000 unsigned junk messages (64 MB): refused at the first, the handler never runs, nothing stays buffered', async () => {
    let handled = 0;
    const { client, opts, checked } = await serve(async (_c, req) => {
      handled += req.length;
      throw new Error('the handler must not see junk');
    });
    const junk: Envelope[] = Array.from({ length: 2000 }, () => ({ statement: randomBytes(200), payload: randomBytes(32 * 1024), signatures: [] }));
    await expect(client.call('Evaluate', junk)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringMatching(/envelope rejected \(unsigned\)/) });
    expect(handled).toBe(0);
    expect(checked.messages).toBe(1);
    expect(opts.budget!.used).toBe(0);
  });

  it('a correctly signed stream with a forged message in the middle is refused at that message', async () => {
    let handled = 0;
    const { client, checked } = await serve(async (_c, req) => {
      handled += req.length;
      return [];
    });
    const envs = signedChunks('s-stream', 6, 1024);
    envs[3] = { ...envs[3]!, signatures: [{ keyid: 'x', sig: keys.advertiser.sign('application/vnd.cleanroom.statement+json; version=1', envs[3]!.statement).sig }] };
    await expect(client.call('Evaluate', envs)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(handled).toBe(0);
    expect(checked.messages).toBe(4);
  });

  it('a valid stream reaches the handler whole, and its bytes are given back after it', async () => {
    let got = 0;
    const { client, opts } = await serve(async (_c, req) => {
      got = req.length;
      expect(opts.budget!.used).toBeGreaterThan(0);
      return [];
    });
    await expect(client.call('Evaluate', signedChunks('s-ok', 5, 4096))).resolves.toEqual([]);
    expect(got).toBe(5);
    expect(opts.budget!.used).toBe(0);
  });

  it('one call over its limit is refused (RESOURCE_EXHAUSTED)', async () => {
    const { client } = await serve(async () => [], (o) => ({ ...o, maxCallBytes: 64 * 1024 }));
    await expect(client.call('Evaluate', signedChunks('s-big', 4, 32 * 1024))).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/exceeds 65536 bytes/) });
  });

  it('all calls together stay within the node budget: a second call over it is refused while the first holds its bytes', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inFirst = new Promise<void>((r) => (entered = r));
    let calls = 0;
    const { client, opts } = await serve(async () => {
      if (calls++ === 0) {
        entered();
        await held;
      }
      return [];
    }, (o) => ({ ...o, budget: new ByteBudget(300 * 1024) }));
    const first = client.call('Evaluate', signedChunks('s-first', 4, 50 * 1024)); // ≈ 200 KB, held by its handler
    await inFirst;
    expect(opts.budget!.used).toBeGreaterThan(150 * 1024);
    await expect(client.call('Evaluate', signedChunks('s-second', 4, 50 * 1024))).rejects.toMatchObject({
      code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/limit 307200 for all calls together/),
    });
    release();
    await expect(first).resolves.toEqual([]);
    expect(opts.budget!.used).toBe(0);
  });
});
