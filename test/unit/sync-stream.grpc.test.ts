/**
 * The broker reads a SyncUniverse ciphertext page message by message as it arrives
 * (rpc/peer.ts callEach, PeerClient.callEach; rpc/channel.ts chunkReader), over real gRPC
 * (plaintext, loopback) with the server options every node uses:
 * - every envelope reaches the consumer once, in order, opened and checked as openChunks checks them;
 * - a consumer that throws ends the call: callEach rejects with that very error, the rest of the
 *   stream is not handed on, and the client goes on working (the cancelled call's error is read);
 * - chunkReader refuses a chunk after the one marked last before opening it (nothing of it
 *   reaches the transcript or the sequence numbers), and at the end a stream with no chunk or
 *   none marked last — the words of openChunks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { Handler } from '@cleanroom/shared/rpc/grpc.ts';
import { CiphertextBatchCodec, UniverseRequestCodec } from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { callEach, inMemoryPeer } from '@cleanroom/shared/rpc/peer.ts';
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
const SYNC = 'universe-test';

/** Media's reply: `n` CiphertextBatch chunks of 3 fake "ciphertexts" of 64 KB each (offsets 3i), chunk i of n, last on the final one. */
function reply(n: number, last = true): Envelope[] {
  const ch = new SessionChannel(ids.media, SYNC);
  const batches = Array.from({ length: n }, (_, i) => ({ offset: 3 * i, items: Array.from({ length: 3 }, () => Uint8Array.from(randomBytes(65_536))) }));
  return batches.map((b, i) => ch.seal('broker', 'UNIVERSE', CiphertextBatchCodec, b, i, last && i === n - 1));
}

const request = (ch: SessionChannel) => [ch.seal('media', 'UNIVERSE', UniverseRequestCodec, { haveVersion: '', idType: 'phone', part: 'CIPHERTEXTS', offset: 0, limit: 64 })];

describe('a SyncUniverse page read as it arrives', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  async function serve(sync: Handler) {
    return plaintextMedia({ SyncUniverse: sync }, nodeServerOptions(ids.media, 'media', 8 * 1024 * 1024, pino({ level: 'silent' })), cleanup);
  }

  it('hands every envelope on once, in order, each opened and checked; then the client calls again', async () => {
    const sent = reply(6);
    const client = await serve(async () => sent);
    for (let round = 0; round < 2; round++) {
      const ch = new SessionChannel(ids.broker, SYNC);
      const chunks = ch.chunkReader('media', ['UNIVERSE'], CiphertextBatchCodec);
      const offsets: number[] = [];
      const payloads: string[] = [];
      await client.callEach('SyncUniverse', request(ch), (env) => {
        payloads.push(Buffer.from(env.payload).toString('hex'));
        offsets.push(chunks.open(env).offset);
      });
      chunks.end();
      expect(offsets).toEqual([0, 3, 6, 9, 12, 15]);
      expect(payloads).toEqual(sent.map((e) => Buffer.from(e.payload).toString('hex')));
    }
  });

  it('a consumer that throws ends the call with its own error; the rest is not handed on; the client keeps working', async () => {
    const client = await serve(async () => reply(8));
    const ch = new SessionChannel(ids.broker, SYNC);
    const mine = new Error('refused by the consumer');
    let seen = 0;
    await expect(client.callEach('SyncUniverse', request(ch), () => {
      seen++;
      if (seen === 2) throw mine;
    })).rejects.toBe(mine);
    expect(seen).toBe(2);
    let again = 0;
    await client.callEach('SyncUniverse', request(new SessionChannel(ids.broker, SYNC)), () => void again++);
    expect(again).toBe(8);
  });

  it('chunkReader: a chunk after the one marked last is refused before it is opened; a stream with none marked last, or no chunk, at the end', async () => {
    const peer = inMemoryPeer('Media', 'broker', () => ({ SyncUniverse: async () => [...reply(2), ...reply(1)] }));
    const ch = new SessionChannel(ids.broker, SYNC);
    const chunks = ch.chunkReader('media', ['UNIVERSE'], CiphertextBatchCodec);
    const opened: number[] = [];
    await expect(callEach(peer, 'SyncUniverse', request(ch), (env) => void opened.push(chunks.open(env).offset)))
      .rejects.toThrow('cleanroom.v1.CiphertextBatch: the stream ended after the chunk marked last');
    expect(opened).toEqual([0, 3]);

    const open = new SessionChannel(ids.broker, SYNC);
    const unfinished = open.chunkReader('media', ['UNIVERSE'], CiphertextBatchCodec);
    for (const env of reply(3, false)) unfinished.open(env);
    expect(() => unfinished.end()).toThrow('cleanroom.v1.CiphertextBatch: the stream ended before the chunk marked last');
    expect(() => open.chunkReader('media', ['UNIVERSE'], CiphertextBatchCodec).end()).toThrow('expected at least one cleanroom.v1.CiphertextBatch message, got none');

    const skipped = new SessionChannel(ids.broker, SYNC);
    const [first] = reply(3);
    const r = skipped.chunkReader('media', ['UNIVERSE'], CiphertextBatchCodec);
    r.open(first!);
    // a chunk index that skips is refused as openChunks refuses it (after the sequence check)
    const ch2 = new SessionChannel(ids.media, SYNC);
    ch2.seal('broker', 'UNIVERSE', CiphertextBatchCodec, { offset: 0, items: [] }, 0, false);
    const wrongIndex = ch2.seal('broker', 'UNIVERSE', CiphertextBatchCodec, { offset: 3, items: [] }, 2, false);
    expect(() => r.open(wrongIndex)).toThrow('cleanroom.v1.CiphertextBatch: expected chunk 1, got 2');
  });
});
