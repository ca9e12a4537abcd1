/**
 * Fixtures shared by the hardening tests (test/unit/hardening.*.test.ts): a tiny prepared
 * media universe (no generated world needed), the hostile group encodings of
 * requirements H1/H2, a development PKI in a temp dir with the expired and rogue-CA test
 * certificates, a real MediaNode served over gRPC with mutual TLS (with per-method call
 * counters, so a test can prove a handler never ran), and a broker-side driver that opens
 * a media session and seals Evaluate requests exactly as the broker node does.
 */
import { mediaDefaults } from './nodes.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Server } from '@grpc/grpc-js';
import { MediaNode } from '../../services/media/src/node.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { LOW_ORDER_POINTS, P, uToBytes } from '@cleanroom/shared/crypto/group.ts';
import { generatePki, makeTestCerts, type CertPair } from '@cleanroom/shared/pki/pki.ts';
import { PreparedUniverse, type UniverseRecord } from '@cleanroom/shared/protocol/universe.ts';
import { DEFAULT_SIZE_BUCKETS } from '@cleanroom/shared/protocol/policy.ts';
import type { Party, PrepareSession } from '@cleanroom/shared/protocol/messages.ts';
import { loadIdentity, type NodeIdentity } from '@cleanroom/shared/service/identity.ts';
import { addService, bindServer, createServer, PeerClient, type Handler } from '@cleanroom/shared/rpc/grpc.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { BlindedBatchCodec, PrepareSessionCodec, SessionReadyCodec } from '@cleanroom/shared/rpc/codec.ts';
import { testPublication } from '@cleanroom/shared/testing/publication.ts';
import type { Peer } from '@cleanroom/shared/rpc/peer.ts';
import type { Envelope } from '@cleanroom/shared/transcript/statement.ts';

export const silentLog = pino({ level: 'silent' });

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cleanroom-${prefix}-`));
}

/** Valid CN mobile numbers (raw CRM spelling) 138 0013 8000 + i. */
export function rawPhones(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `1380013${String(8000 + i)}`);
}

/** A prepared universe of `n` consented users with phone IDs (rawPhones(n)), under a fresh key. */
export function tinyUniverse(n = 40, epoch = 'e-hardening'): PreparedUniverse {
  const records: UniverseRecord[] = rawPhones(n).map((raw, i) => {
    const id = normalizeId('phone', raw);
    if (!id.ok) throw new Error(`fixture phone ${raw} does not normalise: ${id.reason}`);
    const vector = new Uint8Array(ATTRIBUTE_COUNT);
    for (let j = 0; j < ATTRIBUTE_COUNT; j++) vector[j] = (i + j) % 3 === 0 ? 1 : 0;
    return { userId: `u${String(100000 + i)}`, ids: { phone: id.value }, vector };
  });
  return PreparedUniverse.prepare(records, OprfKey.generate(), epoch, ['phone']).universe;
}

const le = uToBytes;

export interface BadElement {
  name: string;
  bytes: Uint8Array;
  /** What the refusal must say (InvalidElementError wording). */
  says: RegExp;
}

const LOW_ORDER_NAMES = ['identity / all-zero encoding (u = 0)', 'u = 1 (order 4)', 'u = p − 1 (order 4)', 'order-8 point A', 'order-8 point B'];

/** H1: the identity, the all-zero encoding and every low-order point of LOW_ORDER_POINTS. */
export function lowOrderElements(): BadElement[] {
  expectCount(LOW_ORDER_POINTS.length, 5);
  return LOW_ORDER_POINTS.map((p, i) => ({ name: LOW_ORDER_NAMES[i]!, bytes: Uint8Array.from(p), says: /low-order point/ }));
}

/** H2: wrong lengths (0, 31, 33) and non-canonical encodings (u ≥ p, top bit set). */
export function malformedElements(valid: Uint8Array): BadElement[] {
  const topBit = Uint8Array.from(valid);
  topBit[31]! |= 0x80;
  const long = new Uint8Array(33);
  long.set(valid);
  return [
    { name: '0 bytes', bytes: new Uint8Array(0), says: /expected a 32-byte Uint8Array, got 0 bytes/ },
    { name: '31 bytes', bytes: valid.slice(0, 31), says: /expected a 32-byte Uint8Array, got 31 bytes/ },
    { name: '33 bytes', bytes: long, says: /expected a 32-byte Uint8Array, got 33 bytes/ },
    { name: 'u = p', bytes: le(P), says: /expected a u-coordinate below 2\^255-19/ },
    { name: 'u = p + 1', bytes: le(P + 1n), says: /expected a u-coordinate below 2\^255-19/ },
    { name: 'u = 2^255 − 1', bytes: le(2n ** 255n - 1n), says: /expected a u-coordinate below 2\^255-19/ },
    { name: 'valid element with the top bit set', bytes: topBit, says: /expected a u-coordinate below 2\^255-19/ },
  ];
}

function expectCount(got: number, want: number): void {
  if (got !== want) throw new Error(`expected ${want} low-order points in group.ts, got ${got}`);
}

/** What the broker sends media at OPEN, with the given padded size and evaluation quota. */
export function prepareRequest(paddedCount: number, evaluationQuota = paddedCount, universeVersion = ''): PrepareSession {
  return {
    idType: 'phone',
    paddedCount,
    audienceSize: 10,
    policy: { decoyRatio: 9, minCohort: 50, noiseScale: 0, sizeBuckets: [...DEFAULT_SIZE_BUCKETS], evaluationQuota, epsilonProfile: 1, epsilonCount: 0.1, epsilonDifferencing: 0.1, privacyBudget: 10, differencingMin: 50 },
    resultKey: new Uint8Array(randomBytes(32)),
    universeVersion,
    advertiser: 'a1b2c3d4e5f60718',
    kind: 'lookalike',
    mediaPredicate: '',
  };
}

/** The publication version of the media node serveMedia started last (what a broker would hold). */
let servedVersion = '';

/**
 * The broker's side of one media session: PrepareSession sent (and media's signed
 * SessionReady opened), then `evaluate` seals one Evaluate request of contiguous chunks.
 */
export async function openMediaSession(broker: NodeIdentity, media: Peer, paddedCount: number, evaluationQuota = paddedCount, universeVersion = servedVersion): Promise<SessionChannel> {
  const ch = new SessionChannel(broker, randomUUID());
  const keys = await media.call('PrepareSession', [ch.seal('media', 'OPEN', PrepareSessionCodec, prepareRequest(paddedCount, evaluationQuota, universeVersion))]);
  ch.openChunks(keys, 'media', ['OPEN'], SessionReadyCodec);
  return ch;
}

/** One Evaluate request: each inner list is one BlindedBatch chunk, offsets contiguous. */
export function evaluateRequest(ch: SessionChannel, chunks: readonly Uint8Array[][]): Envelope[] {
  let offset = 0;
  const batches = chunks.map((items) => {
    const b = { offset, items };
    offset += items.length;
    return b;
  });
  return ch.sealChunks('media', 'BLIND', BlindedBatchCodec, batches);
}

/** Opens media's evaluated elements (verifying media's signatures) from an Evaluate response. */
export function evaluatedOf(ch: SessionChannel, resp: Envelope[]): Uint8Array[] {
  return ch.openChunks(resp, 'media', ['BLIND'], BlindedBatchCodec).flatMap((b) => b.items);
}

export interface Pki {
  dir: string;
  /** PEM of the three organisation CAs (what every node trusts). */
  ca: Buffer;
  id: Record<Party, NodeIdentity>;
  /** A broker certificate from the broker's genuine CA, expired in 2020. */
  expired: CertPair;
  /** A certificate claiming to be the broker (right subject and SANs) from a CA nobody trusts. */
  rogue: CertPair;
}

/** The development PKI (generatePki) plus the test certificates (makeTestCerts), in a temp dir. */
export function makePki(): Pki {
  const dir = tempDir('pki');
  generatePki(dir);
  const { expired, rogue } = makeTestCerts(dir, { expiredParty: 'broker', rogueParty: 'broker' });
  const id = Object.fromEntries((['advertiser', 'media', 'broker'] as const).map((p) => [p, loadIdentity(p, dir, false)])) as Record<Party, NodeIdentity>;
  const ca = id.media.transport.kind === 'mtls' ? id.media.transport.tls.ca : Buffer.alloc(0);
  return { dir, ca, id, expired, rogue };
}

export interface ServedMedia {
  node: MediaNode;
  universe: PreparedUniverse;
  address: string;
  /** How many times each media handler was entered (after the role table let the call in). */
  calls: Record<string, number>;
  /** What the gRPC adapter logged (warnings and errors), e.g. role-table refusals. */
  serverLog: { level: 'warn' | 'error'; obj: Record<string, unknown>; msg: string }[];
  /** A PeerClient to this media node speaking as `as` with its own TLS material. */
  client(as: Party, opts?: { serverParty?: Party; maxMessageBytes?: number }): PeerClient;
  close(): void;
}

/** The real MediaNode handlers behind createServer/addService/bindServer, mTLS on 127.0.0.1. */
export async function serveMedia(pki: Pki, opts: { maxMessageBytes: number; universe?: PreparedUniverse }): Promise<ServedMedia> {
  const universe = opts.universe ?? tinyUniverse();
  const publication = await testPublication(universe);
  servedVersion = publication.version;
  const node = new MediaNode({
    identity: pki.id.media, universe, publication, stateDir: tempDir('state'), transcriptDir: tempDir('tx'),
    deadlineMs: 600_000, maxPaddedCount: 1_000_000, evalThreads: 1, log: silentLog, ...mediaDefaults(),
  });
  const calls: Record<string, number> = {};
  const counted: Record<string, Handler> = {};
  for (const [method, h] of Object.entries(node.handlers())) {
    counted[method] = (caller, req) => {
      calls[method] = (calls[method] ?? 0) + 1;
      return h(caller, req);
    };
  }
  const serverLog: ServedMedia['serverLog'] = [];
  const log = {
    warn: (obj: object, msg: string) => void serverLog.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    error: (obj: object, msg: string) => void serverLog.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
  };
  const transport = pki.id.media.transport;
  const serverOpts = { transport, maxMessageBytes: opts.maxMessageBytes, maxCallBytes: 1024 * 1024 * 1024, log };
  const server: Server = createServer(serverOpts);
  addService(server, 'Media', counted, serverOpts);
  const port = await bindServer(server, '127.0.0.1:0', transport);
  const address = `localhost:${port}`;
  const clients: PeerClient[] = [];
  return {
    node, universe, address, calls, serverLog,
    client(as, o = {}) {
      const c = new PeerClient('Media', address, {
        transport: pki.id[as].transport, serverParty: o.serverParty ?? 'media', self: as,
        maxMessageBytes: o.maxMessageBytes ?? 64 * 1024 * 1024, deadlineMs: 60_000,
      });
      clients.push(c);
      return c;
    },
    close() {
      for (const c of clients) c.close();
      server.forceShutdown();
      node.close();
    },
  };
}
