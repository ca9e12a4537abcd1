/**
 * Test fixture: the three nodes in one process over in-memory peers — the same signed
 * envelopes as over gRPC, real OPRF, real BFV, a real SQLite store per node — with every
 * payload each node receives recorded. One place builds them, so every test that runs a
 * session gets the same wiring as the node entry points.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AdvertiserNode } from '../../services/advertiser/src/node.ts';
import { BrokerNode } from '../../services/broker/src/node.ts';
import { MediaNode } from '../../services/media/src/node.ts';
import { alignPurposes } from '../../services/media/src/purposes.ts';
import { inMemoryPeer } from '@cleanroom/shared/rpc/peer.ts';
import { DEFAULT_BROKER_POLICY, type BrokerPolicyConfig } from '@cleanroom/shared/protocol/policy.ts';
import { DEFAULT_PRIVACY } from '@cleanroom/shared/protocol/privacy.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import type { CrmRow } from '@cleanroom/shared/data/files.ts';
import type { Statement } from '@cleanroom/shared/transcript/statement.ts';
import { SqliteStore } from '@cleanroom/shared/store/sqlite.ts';
import type { Store } from '@cleanroom/shared/store/store.ts';
import type { World } from './world.ts';
import type { LabelPublication } from '@cleanroom/shared/protocol/label-publication.ts';
import type { LookupLimits } from '@cleanroom/shared/protocol/lookup.ts';

export const silent = pino({ level: 'silent' });

export interface Received {
  round: string;
  payloadType: string;
  payload: Uint8Array;
}

/** A real SQLite store in a fresh temporary directory. */
export function tempStore(): Store {
  return SqliteStore.open(join(mkdtempSync(join(tmpdir(), 'cleanroom-db-')), 'state.db'));
}

/** Media's store, quotas and budget with test defaults (generous: tests of the limits set their own). */
export function mediaDefaults(o: { store?: Store; quota?: Partial<{ evaluationsPerBroker: number; evaluationsPerAdvertiser: number; windowMs: number; now: () => number }>; budget?: number } = {}) {
  return {
    store: o.store ?? tempStore(),
    quota: { evaluationsPerBroker: 1e12, evaluationsPerAdvertiser: 1e12, windowMs: 86_400_000, ...o.quota },
    privacy: { budget: o.budget ?? 1e6, refreshMs: 0 },
  };
}

export interface ClusterOptions {
  crm?: readonly CrmRow[];
  policy?: Partial<BrokerPolicyConfig>;
  /** The broker's privacy policy (budget, ε, differencing); defaults to DEFAULT_PRIVACY with a large budget. */
  privacy?: Partial<BrokerPolicyConfig['privacy']>;
  mediaBudget?: number;
  /** Enumeration quotas; `now` is their clock (tests move it instead of sleeping). */
  quota?: { broker?: number; media?: number; windowMs?: number; now?: () => number };
  /** Seeded noise at the broker (deterministic runs). */
  uniform?: () => number;
  stores?: Partial<Record<Party, Store>>;
  deadlineMs?: number;
  /** CLEANROOM_SESSION_DEADLINE_MS of the advertiser and the broker. */
  sessionDeadlineMs?: number;
  /** Media's label publication (lookup kind) and the broker's lookup limits. */
  labels?: LabelPublication;
  lookup?: LookupLimits & { idsPerAdvertiser: number };
  /** The broker's worker threads (CLEANROOM_EVAL_THREADS) and the ciphertexts from which a sync uses them. */
  brokerThreads?: { threads: number; syncWorkersFrom?: number };
  /** Ciphertexts per segment file of the broker's synced copy (default CIPHERTEXTS_PER_FILE). */
  brokerCiphertextsPerFile?: number;
  /** The broker's state directory (default: `broker` in the cluster's temporary state directory). */
  brokerStateDir?: string;
  /** Media's state directory (default: `media` in the cluster's temporary state directory). */
  mediaStateDir?: string;
}

export interface Cluster {
  media: MediaNode;
  broker: BrokerNode;
  advertiser: AdvertiserNode;
  /**
   * Replaces the advertiser node by one with another CRM — the same organisation (identity,
   * store, broker), its data changed between sessions. Sessions run one at a time.
   */
  useCrm(crm: readonly CrmRow[]): AdvertiserNode;
  stores: Record<Party, Store>;
  /** Everything each party received, by session id. */
  received: Record<Party, Map<string, Received[]>>;
  stateDir: string;
  transcriptDir: string;
}

export function cluster(w: World, o: ClusterOptions = {}): Cluster {
  const received: Cluster['received'] = { advertiser: new Map(), media: new Map(), broker: new Map() };
  const observer = (me: Party, s: Statement, payload: Uint8Array) => {
    const list = received[me].get(s.sessionId) ?? [];
    list.push({ round: s.round, payloadType: s.payloadType, payload: payload.slice() });
    received[me].set(s.sessionId, list);
  };
  const transcriptDir = mkdtempSync(join(tmpdir(), 'cleanroom-tx-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'cleanroom-state-'));
  const stores = { advertiser: o.stores?.advertiser ?? tempStore(), media: o.stores?.media ?? tempStore(), broker: o.stores?.broker ?? tempStore() };
  const deadlineMs = o.deadlineMs ?? 120_000;
  const windowMs = o.quota?.windowMs ?? 86_400_000;
  let broker!: BrokerNode;
  let advertiser!: AdvertiserNode;
  const media = new MediaNode({
    identity: w.identities.media, universe: w.universe, publication: w.publication, stateDir: o.mediaStateDir ?? join(stateDir, 'media'), transcriptDir, deadlineMs,
    maxPaddedCount: 1_000_000, evalThreads: 1, log: silent, observer, ...(o.labels ? { labels: o.labels } : {}), purposes: alignPurposes(w.universe.userIds, w.users),
    ...mediaDefaults({ store: stores.media, budget: o.mediaBudget, quota: { evaluationsPerAdvertiser: o.quota?.media ?? 1e12, windowMs, ...(o.quota?.now ? { now: o.quota.now } : {}) } }),
  });
  broker = new BrokerNode({
    identity: w.identities.broker, media: inMemoryPeer('Media', 'broker', () => media.handlers()),
    advertiser: inMemoryPeer('Advertiser', 'broker', () => advertiser.handlers()),
    policy: { ...DEFAULT_BROKER_POLICY, ...o.policy, privacy: { ...DEFAULT_PRIVACY, budget: 1e6, ...o.privacy } },
    store: stores.broker, quota: { evaluationsPerAdvertiser: o.quota?.broker ?? 1e12, windowMs, ...(o.quota?.now ? { now: o.quota.now } : {}) },
    ...(o.uniform ? { uniform: o.uniform } : {}), ...(o.lookup ? { lookup: o.lookup } : {}),
    ...(o.brokerThreads ? { evalThreads: o.brokerThreads.threads, ...(o.brokerThreads.syncWorkersFrom !== undefined ? { syncWorkersFrom: o.brokerThreads.syncWorkersFrom } : {}) } : {}),
    ...(o.brokerCiphertextsPerFile ? { ciphertextsPerFile: o.brokerCiphertextsPerFile } : {}),
    transcriptDir, stateDir: o.brokerStateDir ?? join(stateDir, 'broker'), deadlineMs, ...(o.sessionDeadlineMs ? { sessionDeadlineMs: o.sessionDeadlineMs } : {}), log: silent, observer,
  });
  const makeAdvertiser = (crm: readonly CrmRow[]) => new AdvertiserNode({
    identity: w.identities.advertiser, broker: inMemoryPeer('Broker', 'advertiser', () => broker.handlers()),
    crm, store: stores.advertiser, transcriptDir, deadlineMs, ...(o.sessionDeadlineMs ? { sessionDeadlineMs: o.sessionDeadlineMs } : {}), log: silent, observer,
  });
  advertiser = makeAdvertiser(o.crm ?? w.crm);
  const c: Cluster = {
    media, broker, advertiser, stores, received, stateDir, transcriptDir,
    useCrm(crm) {
      advertiser = makeAdvertiser(crm);
      c.advertiser = advertiser;
      return advertiser;
    },
  };
  return c;
}
