/**
 * Trust and audit hardening, signed envelopes (statement.ts openEnvelope, channel.ts
 * SessionChannel.open, and the media node's handlers):
 *   H9  canonical JSON: the same statement with another key order, whitespace or number
 *       spelling canonicalizes to the same bytes and hash; duplicate keys, lone surrogates,
 *       NaN and integers beyond 2^53 are refused by the JCS layer and, in a statement
 *       correctly signed by its sender, by openEnvelope ('malformed-statement'). A correctly
 *       signed statement in a NON-canonical spelling is refused too (the statement.ts
 *       contract, step 2; these tests found it was not, fixed in openEnvelope);
 *  H10  an edited payload type, a DSSE type swap, an unknown signing key (with its own or the
 *       pinned keyid), a known keyid with a bad signature, another party's genuine key →
 *       'bad-signature' (PERMISSION_DENIED); a correctly signed statement of another payload
 *       type → 'wrong-type'; an already received envelope → 'replay' (ALREADY_EXISTS), also
 *       through the media node's handler; a misaddressed envelope → 'misaddressed'. A refused
 *       envelope neither consumes a sequence number nor lands in the transcript.
 */
import { mediaDefaults } from './nodes.ts';
import { testPublication } from '@cleanroom/shared/testing/publication.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { canonicalBytes, canonicalize, parseStrict } from '@cleanroom/shared/crypto/jcs.ts';
import { STATEMENT_TYPE, SigningKey, makeTrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { TOKEN_BYTES, randomElement } from '@cleanroom/shared/crypto/group.ts';
import {
  EnvelopeError, openEnvelope, sealEnvelope, sha256Hex, type Envelope, type Statement,
} from '@cleanroom/shared/transcript/statement.ts';
import { POLICY_TYPE, TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { AbortCodec, BlindedBatchCodec, TokenBatchCodec } from '@cleanroom/shared/rpc/codec.ts';
import { inMemoryPeer } from '@cleanroom/shared/rpc/peer.ts';
import { ProtocolError, type Party } from '@cleanroom/shared/protocol/messages.ts';
import { identityFromKeys, type NodeIdentity } from '@cleanroom/shared/service/identity.ts';
import { MediaNode } from '../../services/media/src/node.ts';
import { evaluateRequest, openMediaSession, silentLog, tempDir, tinyUniverse } from './hardening.fixtures.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

let keys: Record<Party, SigningKey>;
let id: Record<Party, NodeIdentity>;
beforeAll(() => {
  keys = { advertiser: SigningKey.generate(), media: SigningKey.generate(), broker: SigningKey.generate() };
  const trust = makeTrustBundle({ advertiser: keys.advertiser.publicKey, media: keys.media.publicKey, broker: keys.broker.publicKey });
  id = Object.fromEntries((['advertiser', 'media', 'broker'] as const).map((p) => [p, identityFromKeys(p, keys[p], trust, { kind: 'plaintext' })])) as Record<Party, NodeIdentity>;
});

const PAYLOAD = BlindedBatchCodec.encode({ offset: 0, items: [new Uint8Array(32).fill(9)] });

/** A broker→media BLIND statement (seq 0) and its genuine envelope. */
function genuine(over: Partial<Statement> = {}): { envelope: Envelope; statement: Statement } {
  return sealEnvelope(keys.broker, {
    sessionId: 's-hardening', round: 'BLIND', sender: 'broker', receiver: 'media', seq: 0, chunk: 0, last: true,
    payloadType: 'cleanroom.v1.BlindedBatch', ...over,
  }, PAYLOAD);
}

/** Statement bytes exactly as given, correctly signed (DSSE statement type) by `key`. */
function signedText(text: string, key = keys.broker, payload = PAYLOAD): Envelope {
  const bytes = enc.encode(text);
  return { statement: bytes, payload, signatures: [key.sign(STATEMENT_TYPE, bytes)] };
}

const expectMedia = { sender: 'broker' as const, receiver: 'media' as const, sessionId: 's-hardening', rounds: ['BLIND' as const], payloadType: 'cleanroom.v1.BlindedBatch' };

function refusal(f: () => unknown): EnvelopeError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EnvelopeError);
  return err as EnvelopeError;
}

describe('H9 canonical JSON, directly and on the statement path', () => {
  it('H9 the same statement with another key order, whitespace or number spelling canonicalizes to the same bytes and hash', () => {
    const { envelope, statement } = genuine({ seq: 1 });
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(statement).reverse()));
    const spaced = JSON.stringify(statement, null, 2);
    const spelled = dec.decode(envelope.statement).replace('"seq":1', '"seq":1.0').replace('"v":1', '"v":1e0').replace('"chunk":0', '"chunk":-0');
    expect(spelled).not.toBe(dec.decode(envelope.statement));
    for (const text of [reordered, spaced, spelled]) {
      const bytes = canonicalBytes(parseStrict(text));
      expect(dec.decode(bytes)).toBe(dec.decode(envelope.statement));
      expect(sha256Hex(bytes)).toBe(sha256Hex(envelope.statement));
    }
  });

  it('H9 duplicate keys, lone surrogates, NaN and integers beyond 2^53 are refused by the JCS layer', () => {
    expect(() => parseStrict('{"seq":0,"seq":1}')).toThrow(/duplicate/i);
    expect(() => parseStrict('{"sessionId":"\\ud800"}')).toThrow(/surrogate/i);
    expect(() => canonicalize({ sessionId: 'a\ud800b' })).toThrow(/lone surrogate/);
    expect(() => canonicalize({ ['\udc00']: 1 })).toThrow(/lone surrogate/);
    expect(() => parseStrict('{"seq":NaN}')).toThrow();
    expect(() => canonicalize({ seq: Number.NaN })).toThrow(/finite number/);
    expect(() => parseStrict('{"seq":9007199254740993}')).toThrow();
    expect(parseStrict('{"seq":9007199254740991}')).toEqual({ seq: Number.MAX_SAFE_INTEGER });
    // a statement cannot even be sealed with a NaN sequence number
    expect(() => genuine({ seq: Number.NaN })).toThrow(/finite number/);
  });

  const base = () => dec.decode(genuine().envelope.statement);
  const malformed: [string, () => string][] = [
    ['a duplicate key (receiver named twice, the second one not media)', () => base().replace('"receiver":"media"', '"receiver":"media","receiver":"advertiser"')],
    ['a duplicate key (seq twice)', () => base().replace('"seq":0', '"seq":0,"seq":5')],
    ['a lone surrogate (escaped) in sessionId', () => base().replace('"sessionId":"s-hardening"', '"sessionId":"s-\\ud800"')],
    ['a raw lone surrogate in sessionId', () => base().replace('"sessionId":"s-hardening"', '"sessionId":"s-\ud800"')],
    ['NaN as seq', () => base().replace('"seq":0', '"seq":NaN')],
    ['an integer beyond 2^53 as seq', () => base().replace('"seq":0', '"seq":9007199254740993')],
  ];
  for (const [name, text] of malformed) {
    it(`H9 openEnvelope refuses a correctly signed statement with ${name} → malformed-statement`, () => {
      const t = text();
      expect(t).not.toBe(base());
      const err = refusal(() => openEnvelope(signedText(t), keys.broker.publicKey, expectMedia));
      expect(err.failure).toBe('malformed-statement');
      expect(err.code).toBe('INVALID_ARGUMENT');
    });
  }

  const nonCanonical: [string, () => string][] = [
    ['keys in another order', () => JSON.stringify(Object.fromEntries(Object.entries(genuine().statement).reverse()))],
    ['whitespace', () => JSON.stringify(genuine().statement, null, 1)],
    ['a number spelled 0.0', () => base().replace('"seq":0', '"seq":0.0')],
  ];
  // A signature over non-canonical bytes would cover bytes an auditor can never rebuild from
  // the transcript entry (which stores the parsed object): such statements are refused.
  for (const [name, text] of nonCanonical) {
    it(`H9 openEnvelope refuses a correctly signed statement in a non-canonical spelling (${name}) → malformed-statement`, () => {
      const err = refusal(() => openEnvelope(signedText(text()), keys.broker.publicKey, expectMedia));
      expect(err.failure).toBe('malformed-statement');
    });
  }

  // Consequence of the bug above at the channel: the statement passes openEnvelope, the receive
  // sequence number is consumed (channel.ts line ≈77), and only then the transcript writer
  // refuses it with a plain Error (writer.ts line ≈379) — which the gRPC adapter turns into
  // INTERNAL instead of INVALID_ARGUMENT; the sender's next message is then "out-of-order".
  it('H9 SessionChannel.open refuses a correctly signed non-canonical statement as an EnvelopeError (INVALID_ARGUMENT)', () => {
    const media = new SessionChannel(id.media, 's-hardening', TranscriptWriter.open(tempDir('tx'), 'media', 's-hardening'));
    const err = refusal(() => media.open(signedText(nonCanonical[0]![1]()), 'broker', ['BLIND'], BlindedBatchCodec));
    expect(err.failure).toBe('malformed-statement');
  });

  it('H9 what holds today: a non-canonical statement never lands in the transcript (the writer refuses it)', () => {
    const dir = tempDir('tx');
    const media = new SessionChannel(id.media, 's-hardening', TranscriptWriter.open(dir, 'media', 's-hardening'));
    expect(() => media.open(signedText(nonCanonical[0]![1]()), 'broker', ['BLIND'], BlindedBatchCodec)).toThrow(/canonical/);
    media.close();
    expect(readFileSync(join(dir, 's-hardening', 'media.jsonl'), 'utf8')).toBe('');
  });
});

describe('H10 signatures, types, replays and addressing', () => {
  const bad: [string, () => Envelope][] = [
    ['the payload type edited after signing', () => {
      const { envelope } = genuine();
      return { ...envelope, statement: enc.encode(dec.decode(envelope.statement).replace('cleanroom.v1.BlindedBatch', 'cleanroom.v1.TokenBatch')) };
    }],
    ['the DSSE type swapped (the broker signed the bytes as a policy)', () => {
      const { envelope } = genuine();
      return { ...envelope, signatures: [keys.broker.sign(POLICY_TYPE, envelope.statement)] };
    }],
    ['an unknown signing key (its own keyid)', () => signedText(dec.decode(genuine().envelope.statement), SigningKey.generate())],
    ["an unknown signing key presenting the broker's keyid", () => {
      const env = signedText(dec.decode(genuine().envelope.statement), SigningKey.generate());
      return { ...env, signatures: [{ keyid: keys.broker.keyid, sig: env.signatures[0]!.sig }] };
    }],
    ["the broker's keyid with a bad signature (one bit flipped)", () => {
      const { envelope } = genuine();
      const sig = Uint8Array.from(envelope.signatures[0]!.sig);
      sig[10]! ^= 0x01;
      return { ...envelope, signatures: [{ keyid: keys.broker.keyid, sig }] };
    }],
    ["another party's genuine key (the advertiser signs as the broker)", () => signedText(dec.decode(genuine().envelope.statement), keys.advertiser)],
  ];
  for (const [name, make] of bad) {
    it(`H10 ${name} → bad-signature (PERMISSION_DENIED), by openEnvelope and SessionChannel.open`, () => {
      const env = make();
      const direct = refusal(() => openEnvelope(env, keys.broker.publicKey, expectMedia));
      expect(direct.failure).toBe('bad-signature');
      expect(direct.code).toBe('PERMISSION_DENIED');
      const dir = tempDir('tx');
      const media = new SessionChannel(id.media, 's-hardening', TranscriptWriter.open(dir, 'media', 's-hardening'));
      expect(refusal(() => media.open(env, 'broker', ['BLIND'], BlindedBatchCodec)).failure).toBe('bad-signature');
      // nothing consumed, nothing recorded: the genuine seq-0 envelope still opens, and only it is recorded
      media.open(genuine().envelope, 'broker', ['BLIND'], BlindedBatchCodec);
      media.close();
      const recorded = readFileSync(join(dir, 's-hardening', 'media.jsonl'), 'utf8').trim().split('\n');
      expect(recorded).toHaveLength(1);
    });
  }

  it('H10 no signature → unsigned; the payload swapped under a genuine statement → digest-mismatch', () => {
    const { envelope } = genuine();
    expect(refusal(() => openEnvelope({ ...envelope, signatures: [] }, keys.broker.publicKey, expectMedia)).failure).toBe('unsigned');
    const other = BlindedBatchCodec.encode({ offset: 0, items: [new Uint8Array(32).fill(8)] });
    const err = refusal(() => openEnvelope({ ...envelope, payload: other }, keys.broker.publicKey, expectMedia));
    expect(err.failure).toBe('digest-mismatch');
    expect(err.code).toBe('INVALID_ARGUMENT');
  });

  it('H10 a correctly signed statement of another payload type → wrong-type (INVALID_ARGUMENT)', () => {
    const broker = new SessionChannel(id.broker, 's-hardening');
    const media = new SessionChannel(id.media, 's-hardening');
    const env = broker.seal('media', 'BLIND', TokenBatchCodec, { offset: 0, items: [new Uint8Array(TOKEN_BYTES)] });
    const err = refusal(() => media.open(env, 'broker', ['BLIND'], BlindedBatchCodec));
    expect(err.failure).toBe('wrong-type');
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(refusal(() => openEnvelope(env, keys.broker.publicKey, expectMedia)).failure).toBe('wrong-type');
  });

  it('H10 an already received envelope → replay (ALREADY_EXISTS), recorded once', () => {
    const dir = tempDir('tx');
    const broker = new SessionChannel(id.broker, 's-hardening');
    const media = new SessionChannel(id.media, 's-hardening', TranscriptWriter.open(dir, 'media', 's-hardening'));
    const first = broker.seal('media', 'BLIND', BlindedBatchCodec, { offset: 0, items: [randomElement()] });
    const second = broker.seal('media', 'BLIND', BlindedBatchCodec, { offset: 1, items: [randomElement()] });
    media.open(first, 'broker', ['BLIND'], BlindedBatchCodec);
    const err = refusal(() => media.open(first, 'broker', ['BLIND'], BlindedBatchCodec));
    expect(err.failure).toBe('replay');
    expect(err.code).toBe('ALREADY_EXISTS');
    media.open(second, 'broker', ['BLIND'], BlindedBatchCodec);
    expect(refusal(() => media.open(second, 'broker', ['BLIND'], BlindedBatchCodec)).failure).toBe('replay');
    media.close();
    const recorded = readFileSync(join(dir, 's-hardening', 'media.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { statement: Statement });
    expect(recorded.map((e) => e.statement.seq)).toEqual([0, 1]);
  });

  it('H10 a skipped sequence number → out-of-order (FAILED_PRECONDITION)', () => {
    const broker = new SessionChannel(id.broker, 's-hardening');
    const media = new SessionChannel(id.media, 's-hardening');
    broker.seal('media', 'BLIND', BlindedBatchCodec, { offset: 0, items: [randomElement()] }); // never delivered
    const err = refusal(() => media.open(broker.seal('media', 'BLIND', BlindedBatchCodec, { offset: 1, items: [randomElement()] }), 'broker', ['BLIND'], BlindedBatchCodec));
    expect(err.failure).toBe('out-of-order');
    expect(err.code).toBe('FAILED_PRECONDITION');
  });

  it('H10 a misaddressed envelope → misaddressed (PERMISSION_DENIED): to another receiver, or naming another sender', () => {
    const broker = new SessionChannel(id.broker, 's-hardening');
    const media = new SessionChannel(id.media, 's-hardening');
    const toAdvertiser = broker.seal('advertiser', 'BLIND', BlindedBatchCodec, { offset: 0, items: [randomElement()] });
    const err = refusal(() => media.open(toAdvertiser, 'broker', ['BLIND'], BlindedBatchCodec));
    expect(err.failure).toBe('misaddressed');
    expect(err.code).toBe('PERMISSION_DENIED');
    expect(err.message).toMatch(/addressed to advertiser, this node is media/);
    // the broker signs a statement claiming to come from the advertiser
    const { envelope } = sealEnvelope(keys.broker, {
      sessionId: 's-hardening', round: 'BLIND', sender: 'advertiser', receiver: 'media', seq: 0, chunk: 0, last: true, payloadType: 'cleanroom.v1.BlindedBatch',
    }, PAYLOAD);
    expect(refusal(() => media.open(envelope, 'broker', ['BLIND'], BlindedBatchCodec)).failure).toBe('misaddressed');
    // another session or another round
    expect(refusal(() => media.open(genuine({ sessionId: 's-other' }).envelope, 'broker', ['BLIND'], BlindedBatchCodec)).failure).toBe('wrong-session');
    expect(refusal(() => media.open(genuine({ round: 'AGGREGATE' }).envelope, 'broker', ['BLIND'], BlindedBatchCodec)).failure).toBe('wrong-round');
    // and none of these consumed the link's sequence number
    media.open(genuine().envelope, 'broker', ['BLIND'], BlindedBatchCodec);
  });

  it('H10 replays through the media node: PrepareSession again → ALREADY_EXISTS; an Evaluate again → replay (ALREADY_EXISTS), evaluated once', async () => {
    const universe = tinyUniverse(10);
    const publication = await testPublication(universe);
    const node = new MediaNode({
      identity: id.media, universe, publication, stateDir: tempDir('state'), transcriptDir: tempDir('tx'), deadlineMs: 600_000,
      maxPaddedCount: 1_000_000, evalThreads: 1, log: silentLog, ...mediaDefaults(),
    });
    try {
      const peer = inMemoryPeer('Media', 'broker', () => node.handlers());
      let prepare: Envelope | undefined;
      const recording = { call: (m: Parameters<typeof peer.call>[0], req: Envelope[], d?: number) => ((prepare ??= req[0]), peer.call(m, req, d)) };
      const ch = await openMediaSession(id.broker, recording, 4, 4, publication.version);
      const again = await peer.call('PrepareSession', [prepare!]).then(() => undefined, (e: unknown) => e);
      expect(again).toBeInstanceOf(ProtocolError);
      expect((again as ProtocolError).code).toBe('ALREADY_EXISTS');

      const req = evaluateRequest(ch, [[randomElement(), randomElement()]]);
      await peer.call('Evaluate', req);
      expect(node.sessions.get(ch.sessionId)!.progress.evaluated).toBe(2);
      const replay = await peer.call('Evaluate', req).then(() => undefined, (e: unknown) => e);
      expect(replay).toBeInstanceOf(EnvelopeError);
      expect((replay as EnvelopeError).failure).toBe('replay');
      expect((replay as EnvelopeError).code).toBe('ALREADY_EXISTS');
      expect(node.sessions.get(ch.sessionId)!.progress.evaluated).toBe(2);
    } finally {
      node.close();
    }
  });

  it('H10 an Abort sealed for one session cannot be replayed into another (wrong-session)', () => {
    const broker = new SessionChannel(id.broker, 's-one');
    const media = new SessionChannel(id.media, 's-two');
    const env = broker.seal('media', 'ABORT', AbortCodec, { reason: 'stop' });
    expect(refusal(() => media.open(env, 'broker', ['ABORT'], AbortCodec)).failure).toBe('wrong-session');
  });
});
