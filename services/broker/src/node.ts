/**
 * The broker node: serves the advertiser, drives media, holds media's publication.
 *
 * Per session it runs the BrokerRole: OPEN (settle policy, media accepts on the publication
 * the broker holds) → BLIND (pad, relay to media, unpad) → TOKENS (match A's tokens in the
 * published table, aggregate the real matches' ciphertexts itself) → AGGREGATE (one
 * encrypted cohort profile to media) → LOOKALIKE (media's result relayed to the
 * advertiser). Media never receives a list of users. If anything fails, the session is
 * failed on both sides (Abort to the other peer) and nothing partial is released.
 * The publication (tokens, positions, encrypted attributes, public keys) is kept on disk
 * (universe-store.ts), loaded at start, and re-synced when media publishes a new version.
 */
import { logMemory } from '@cleanroom/shared/service/memory.ts';
import { nodeMetrics } from '@cleanroom/shared/service/metrics.ts';
import { DEFAULT_SESSION_DEADLINE_MS } from '@cleanroom/shared/service/config.ts';
import { ProtocolError, type Party } from '@cleanroom/shared/protocol/messages.ts';
import { BrokerRole, type MatchCounts } from '@cleanroom/shared/protocol/broker.ts';
import { PSI_PAGE_ITEMS } from '@cleanroom/shared/protocol/media.ts';
import { DEFAULT_LOOKUP_LIMITS, LookupBrokerRole, type LookupCounts, type LookupLimits } from '@cleanroom/shared/protocol/lookup.ts';
import type { OpenSession } from '@cleanroom/shared/protocol/messages.ts';
import type { SessionKind } from '@cleanroom/shared/common/names.ts';
import type { BrokerPolicyConfig } from '@cleanroom/shared/protocol/policy.ts';
import {
  AbortCodec, AckCodec, BlindedBatchInPlaceCodec, IndicatorRequestCodec, joinInPlace, BATCH_BYTES, BATCH_ITEMS, BlindedBatchCodec, CiphertextBatchCodec, CohortProfileCodec, joinBatches, joinManifest, joinPacked, PackedBlindedBatchCodec, splitPacked, LookalikeResultCodec,
  OpenSessionCodec, PrepareSessionCodec, SessionAcceptedCodec, SessionReadyCodec, SessionResultCodec, splitBatches, TokenBatchCodec,
  LabelBatchCodec, UniverseManifestCodec, UniverseRequestCodec, type UniverseRequest,
} from '@cleanroom/shared/rpc/codec.ts';
import { PackedUniverseLabelsCodec, PackedUniverseTokensCodec } from '@cleanroom/shared/rpc/sync-codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { PackedList } from '@cleanroom/shared/common/packed-list.ts';
import type { Handlers } from '@cleanroom/shared/rpc/grpc.ts';
import type { FederatedMethod } from '@cleanroom/shared/common/methods.ts';
import { callEach, type Peer } from '@cleanroom/shared/rpc/peer.ts';
import { openEnvelope, type Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';
import type { NodeCommonOptions } from '@cleanroom/shared/service/identity.ts';
import { paddedCallDeadlineMs, PEER_WORK_MS_PER_ELEMENT, SessionRegistry, type SessionPhase, type SessionRecord } from '@cleanroom/shared/service/sessions.ts';
import { randomUUID } from 'node:crypto';
import type { SignedTree } from '@cleanroom/shared/transcript/checkpoint.ts';
import { abortHandler, collectCheckpoint } from '@cleanroom/shared/rpc/session-control.ts';
import type { Round } from '@cleanroom/shared/protocol/messages.ts';
import { loadHeld, UniverseDownload, type HeldUniverse } from './universe-store.ts';
import { SyncWorkers } from './sync-workers.ts';
import { startGcTally } from '@cleanroom/shared/service/gc-tally.ts';
import { keyidOf } from '@cleanroom/shared/crypto/dsse.ts';
import { sessionReservation } from '@cleanroom/shared/protocol/privacy.ts';
import type { Outcome, PrivacyStatus } from '@cleanroom/shared/protocol/messages.ts';
import type { Store } from '@cleanroom/shared/store/store.ts';
import { BrokerBfv, BfvFormatError } from '@cleanroom/shared/crypto/bfv.ts';

interface State {
  /** The session kind's role: look-alike, or lookup (protocol/lookup.ts). */
  role: BrokerRole | LookupBrokerRole;
  channel: SessionChannel;
  /** The last tree each peer co-signed. */
  signed: Partial<Record<Party, SignedTree>>;
  /** Joint kinds: media's predicate as A sent it (recorded in the session's view, for the activation check). */
  mediaPredicate?: string;
  /** joint-activate: the joint-count session it confirms. */
  countSession?: string;
}

/** What the broker keeps of a session that ended: its outcome, the match counts and the ledger after it. */
export interface BrokerSessionResult {
  outcome: Outcome;
  /** The session's kind and, for a joint-count, media's predicate (what a joint-activate must confirm). */
  kind?: SessionKind | undefined;
  mediaPredicate?: string | undefined;
  counts?: MatchCounts | LookupCounts | undefined;
  privacy?: PrivacyStatus | undefined;
}

export interface BrokerNodeOptions extends NodeCommonOptions {
  media: Peer<'Media'>;
  advertiser: Peer<'Advertiser'>;
  policy: BrokerPolicyConfig;
  /** Holds the copy of media's publication (tokens, encrypted attributes, public keys). */
  stateDir: string;
  /** Sessions, the privacy ledger, released cohorts and quota usage (service/store). */
  store: Store;
  /** OPRF evaluations one advertiser may have media perform over a rolling window. */
  /** `now`: the quota's clock (tests move it instead of sleeping); Date.now by default. */
  quota: { evaluationsPerAdvertiser: number; windowMs: number; now?: () => number };
  /** Tests inject a seeded source for the noise; the default is cryptographic. */
  uniform?: () => number;
  /** Lookup kind: the minimum batch and the IDs one advertiser may look up per quota window. */
  lookup?: LookupLimits & { idsPerAdvertiser: number };
  /**
   * Worker threads (CLEANROOM_EVAL_THREADS) of the DH-PSI exponentiations (default
   * DEFAULT_PSI_THREADS) and of a universe sync's ciphertexts (default 1: this thread).
   */
  evalThreads?: number;
  /** A sync converts its ciphertexts on the worker threads from this many (default SYNC_WORKERS_FROM; tests lower it). */
  syncWorkersFrom?: number;
  /** Ciphertexts per segment file of a synced copy (default CIPHERTEXTS_PER_FILE; tests lower it). */
  ciphertextsPerFile?: number;
  /** Elements per page of the DH-PSI reply to media (one Activate call each); default PSI_PAGE_ITEMS, at most that (tests: smaller). */
  psiPageItems?: number;
  /**
   * Held for each universe sync that transfers a publication, from its manifest to its end
   * (installed or failed), then undone by the function it returns: main.ts passes
   * service/gc-policy.ts applySyncGcPolicy (V8's collection policy is process-wide, so tests
   * running three nodes in one process pass none).
   */
  syncGcPolicy?: () => () => void;
}

/** The lookup limits when none are configured (service/config.ts has the settings). */
export const DEFAULT_LOOKUP = Object.freeze({ ...DEFAULT_LOOKUP_LIMITS, idsPerAdvertiser: 100_000 });

/**
 * Entries per token page and ciphertexts per page of one SyncUniverse call. A token page is
 * decoded whole (its envelopes; since the packed decode, rpc/sync-codec.ts, 16 bytes per entry
 * in two buffers), so its size bounds the sync's heap: at 10^6 users the broker's peak at its
 * `sync-tokens` memory line was 438 MiB with pages of 262,144 and 387 MiB with 65,536 decoded
 * as objects (`node bench/memory.ts --universe 1000000`, paired); 16 calls per 10^6 tokens.
 * Ciphertext pages are media's largest (MAX_CIPHERTEXT_PAGE, 64: ≈ 12.6 MB held per call): the
 * broker's major GCs followed the number of calls — 41 / 34 / 27 in one 200,000-user sync with
 * pages of 15 / 48 / 64 (`node bench/sync.ts` with a GC observer, loaded machine).
 */
const TOKEN_PAGE = 65_536;
const CIPHERTEXT_PAGE = 64;
/** Ciphertexts from which a sync converts them on worker threads (below: starting them, ≈ 0.5 s, costs more than it saves). */
const SYNC_WORKERS_FROM = 256;

/** Dummies drawn per turn of the event loop (≈ 0.15 s of X25519 on this machine's cores). */
const DUMMY_SLICE = 4096;

/**
 * Draws a session's dummies while the advertiser blinds its seeds, DUMMY_SLICE per turn of the
 * event loop, so that the node keeps answering (a padded size of 2·10^6 is a minute of X25519:
 * drawn in one go it held the OpenSession reply and the admin API past their deadlines on a
 * loaded machine). pad() draws whatever is still missing.
 */
function drawDummiesSoon(role: { prepareDummies(max: number): boolean }): void {
  const slice = (): void => {
    try {
      if (!role.prepareDummies(DUMMY_SLICE)) setImmediate(slice);
    } catch {
      // pad() draws them itself if this did not happen
    }
  };
  setImmediate(slice);
}

export class BrokerNode {
  readonly sessions: SessionRegistry<State, BrokerSessionResult>;
  universe: HeldUniverse | undefined;
  private readonly o: BrokerNodeOptions;
  /** Deadline of the calls that wait on media's O(U) work (Indicators, Activate). */
  private get sessionDeadlineMs(): number {
    return this.o.sessionDeadlineMs ?? DEFAULT_SESSION_DEADLINE_MS;
  }
  private syncing: Promise<HeldUniverse> | undefined;

  constructor(o: BrokerNodeOptions) {
    this.o = o;
    this.sessions = new SessionRegistry<State, BrokerSessionResult>(o.deadlineMs, (rec) => this.fail(rec, `no message from a peer for ${o.deadlineMs} ms`, true));
    this.sessions.persist(o.store, 'broker', (err) => o.log.error({ err: (err as Error).message }, 'could not persist a session outcome'));
  }

  /** Where the ledger stands for this advertiser, media and epoch. */
  private async privacyStatus(advertiser: string, charged: number): Promise<PrivacyStatus> {
    const budget = this.o.policy.privacy.budget;
    const spent = await this.o.store.spent('broker', this.ledgerKey(advertiser), Date.now(), this.o.policy.privacy.refreshMs);
    return { epsilonCharged: charged, epsilonSpent: round6(spent), epsilonRemaining: round6(Math.max(0, budget - spent)), budget };
  }

  private ledgerKey(advertiser: string): { advertiser: string; media: string; epoch: string } {
    return { advertiser, media: keyidOf(this.o.identity.peerKey('media')), epoch: this.universe?.epoch ?? '' };
  }

  /** Loads the publication held on disk from an earlier run, if any (sessions can start at once). */
  async loadHeld(): Promise<HeldUniverse | undefined> {
    const had = this.universe;
    this.universe ??= await loadHeld(this.o.stateDir);
    if (this.universe) this.o.log.info({ epoch: this.universe.epoch, version: this.universe.version.slice(0, 12), users: this.universe.users }, 'publication loaded from the state directory');
    if (this.universe && this.universe !== had) this.warm(this.universe);
    if (this.universe) logMemory(this.o.log, 'loaded');
    return this.universe;
  }

  /**
   * The sessions' aggregation path compiled now, once per publication taken (BrokerBfv.warmAggregate:
   * counts nothing, no session is charged), rather than in the first session's aggregate phase;
   * logged with its CPU ("aggregation path warmed up").
   */
  private warm(held: HeldUniverse): void {
    const c0 = process.cpuUsage();
    held.bfv.warmAggregate(held.ciphertexts, held.ciphertexts.count);
    const c = process.cpuUsage(c0);
    this.o.log.info({ cpuMs: Math.round((c.user + c.system) / 1000) }, 'aggregation path warmed up');
  }

  /**
   * Brings the broker's copy of media's publication up to date: asks for the manifest and,
   * when media's version differs from the one held, pages through the token tables and the
   * encrypted attributes (each page one signed request/response on one UNIVERSE transcript).
   * Concurrent calls share one sync.
   */
  syncUniverse(): Promise<HeldUniverse> {
    this.syncing ??= this.doSync().then((held) => {
      this.lastSyncError_ = undefined;
      return held;
    }, (err: unknown) => {
      this.lastSyncError_ = { message: (err as Error).message, at: new Date().toISOString() };
      nodeMetrics.universeSyncFailed(err instanceof ProtocolError ? err.code : 'UNKNOWN');
      throw err;
    }).finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /** Why the last universe sync failed, and when (undefined once one succeeds): for /readyz. */
  get lastSyncError(): { message: string; at: string } | undefined {
    return this.lastSyncError_;
  }

  private lastSyncError_: { message: string; at: string } | undefined;

  private async doSync(): Promise<HeldUniverse> {
    const sessionId = `universe-${randomUUID()}`;
    const ch = new SessionChannel(this.o.identity, sessionId, TranscriptWriter.open(this.o.transcriptDir, 'broker', sessionId), this.o.observer);
    let have = this.universe?.version ?? '';
    const ask = async (req: Omit<UniverseRequest, 'haveVersion' | 'idType'> & { idType?: UniverseRequest['idType'] }) =>
      this.o.media.call('SyncUniverse', [ch.seal('media', 'UNIVERSE', UniverseRequestCodec, { haveVersion: have, idType: 'phone', ...req })]);
    let download: UniverseDownload | undefined;
    let workers: SyncWorkers | undefined;
    let gc: ReturnType<typeof startGcTally> | undefined;
    let undoGcPolicy: (() => void) | undefined;
    try {
      let manifest = joinManifest(ch.openChunks(await ask({ part: 'MANIFEST', offset: 0, limit: 0 }), 'media', ['UNIVERSE'], UniverseManifestCodec));
      if (manifest.unchanged && this.universe && manifest.version === this.universe.version) {
        if (manifest.labelsVersion === (this.universe.labels?.version ?? '')) {
          ch.open((await ask({ part: 'DONE', offset: 0, limit: 0 }))[0]!, 'media', ['UNIVERSE'], AckCodec);
          return this.universe;
        }
        // Labels published (or published anew) beside a publication held here: fetch it whole
        // again, labels with it (rare: an operator turning CLEANROOM_LABELS on for an epoch).
        this.o.log.info({ version: manifest.version.slice(0, 12), labels: manifest.labelsVersion.slice(0, 12) || '(none)' }, 'media\'s labels changed beside the publication held here: syncing it again');
        have = '';
        manifest = joinManifest(ch.openChunks(await ask({ part: 'MANIFEST', offset: 0, limit: 0 }), 'media', ['UNIVERSE'], UniverseManifestCodec));
      }
      undoGcPolicy = this.o.syncGcPolicy?.();
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const faults0 = process.resourceUsage().minorPageFault;
      gc = startGcTally();
      let bfv: BrokerBfv;
      try {
        bfv = await BrokerBfv.fromPublicMaterial(manifest.bfv, manifest.attributeCount);
      } catch (err) {
        if (err instanceof BfvFormatError || err instanceof RangeError) throw new ProtocolError('INVALID_ARGUMENT', `publication keys: ${err.message}`);
        throw err;
      }
      download = new UniverseDownload(this.o.stateDir, manifest, bfv, this.o.ciphertextsPerFile);
      for (const { idType, tokens } of manifest.idTypes) {
        while (download.tokensHeld(idType) < tokens) {
          const before = download.tokensHeld(idType);
          for (const page of ch.openChunks(await ask({ part: 'TOKENS', idType, offset: before, limit: TOKEN_PAGE }), 'media', ['UNIVERSE'], PackedUniverseTokensCodec)) {
            if (page.idType !== idType) throw new ProtocolError('INVALID_ARGUMENT', `asked for '${idType}' tokens, got '${page.idType}'`);
            download.addTokens(idType, page.offset, page.tokens, page.positions);
          }
          if (download.tokensHeld(idType) === before) throw new ProtocolError('INVALID_ARGUMENT', `media sent no '${idType}' tokens from offset ${before}`);
        }
      }
      logMemory(this.o.log, 'sync-tokens');
      if (manifest.labelsVersion) {
        for (const { idType, tokens } of manifest.idTypes) {
          while (download.labelsHeld(idType) < tokens) {
            const before = download.labelsHeld(idType);
            for (const page of ch.openChunks(await ask({ part: 'LABELS', idType, offset: before, limit: TOKEN_PAGE }), 'media', ['UNIVERSE'], PackedUniverseLabelsCodec)) {
              if (page.idType !== idType) throw new ProtocolError('INVALID_ARGUMENT', `asked for '${idType}' labels, got '${page.idType}'`);
              download.addLabels(idType, page.offset, page.boxes);
            }
            if (download.labelsHeld(idType) === before) throw new ProtocolError('INVALID_ARGUMENT', `media sent no '${idType}' labels from offset ${before}`);
          }
        }
      }
      // Each message of a ciphertext page is verified and stored as it arrives: the broker holds
      // one message (≈ 3 MB), not the call's, and its buffer dies young (fewer full collections).
      // With worker threads, each message's ciphertexts are converted (validated, NTT, digest)
      // off this thread while it receives the next, and appended in order as they come back.
      const threads = this.o.evalThreads ?? 1;
      workers = threads > 1 && manifest.ciphertexts >= (this.o.syncWorkersFrom ?? SYNC_WORKERS_FROM) ? new SyncWorkers(manifest.bfv, manifest.attributeCount, download.workerPlaces(), threads) : undefined;
      // Pages are asked for one after the other; with workers, the next page is asked for as soon
      // as this one has arrived, while its last ciphertexts are still converted (at most two
      // pages in flight), and `received` counts what arrived, `ciphertextsHeld` what is stored.
      const dl = download;
      const pool = workers;
      let received = dl.ciphertextsHeld;
      let appended: Promise<void> = Promise.resolve();
      let pageBefore: Promise<void> = Promise.resolve();
      while (received < manifest.ciphertexts) {
        const before = received;
        const chunks = ch.chunkReader('media', ['UNIVERSE'], CiphertextBatchCodec);
        await callEach(this.o.media, 'SyncUniverse', [ch.seal('media', 'UNIVERSE', UniverseRequestCodec, { haveVersion: have, idType: 'phone', part: 'CIPHERTEXTS', offset: before, limit: CIPHERTEXT_PAGE })], (env) => {
          const b = chunks.open(env);
          if (!pool) {
            dl.addCiphertexts(b.offset, b.items);
            received = dl.ciphertextsHeld;
            return;
          }
          dl.checkCiphertexts(b.offset, b.items.length, received);
          received += b.items.length;
          const converted = pool.convert(b.offset, b.items);
          converted.catch(() => undefined); // awaited in order below
          appended = appended.then(async () => dl.addWritten(b.offset, await converted));
          appended.catch(() => undefined);
        });
        chunks.end();
        if (received === before) throw new ProtocolError('INVALID_ARGUMENT', `media sent no ciphertexts from offset ${before}`);
        await pageBefore; // the page before this one is stored: never more than two in flight
        pageBefore = appended;
      }
      await appended;
      const syncThreads = workers?.size ?? 1;
      await workers?.close();
      workers = undefined;
      logMemory(this.o.log, 'sync-ciphertexts');
      const held = await download.finish();
      download = undefined;
      logMemory(this.o.log, 'sync-finish');
      ch.open((await ask({ part: 'DONE', offset: 0, limit: 0 }))[0]!, 'media', ['UNIVERSE'], AckCodec);
      const old = this.universe;
      held.syncSeconds = Math.round((performance.now() - t0) / 100) / 10;
      const c = process.cpuUsage(c0);
      const faults = process.resourceUsage().minorPageFault - faults0;
      held.syncCpuSeconds = Math.round((c.user + c.system) / 1e5) / 10;
      held.syncThreads = syncThreads;
      this.universe = held;
      UniverseDownload.prune(this.o.stateDir, held.version);
      // Sessions still running on the old publication keep reading it; its files (whose directory
      // prune just removed: their space is freed when closed) and keys are released once none can.
      if (old) setTimeout(() => old.close(), this.o.deadlineMs * 2).unref();
      const gcs = await gc.stop(); // the publication is already in use
      this.o.log.info({
        epoch: held.epoch, version: held.version.slice(0, 12), users: held.users, ciphertexts: held.ciphertexts.count,
        bytesOnDisk: held.bytesOnDisk, seconds: held.syncSeconds, threads: syncThreads,
        // process CPU split: system time is the kernel's share (TLS reads, file writes, page reclaim)
        cpuUserSeconds: Math.round(c.user / 1e5) / 10, cpuSystemSeconds: Math.round(c.system / 1e5) / 10,
        // garbage collections during the sync (main thread): mostly of the calls' buffers
        gcMajor: gcs.major, gcMinor: gcs.minor, gcMs: gcs.ms,
        // fresh pages the process touched (kernel time: call buffers, page cache of the files written)
        minorPageFaults: faults,
      }, 'publication synced from media');
      this.warm(held);
      return held;
    } catch (err) {
      throw this.volumeFull(err) ?? err;
    } finally {
      void workers?.close();
      undoGcPolicy?.();
      void gc?.stop();
      download?.abandon();
      ch.close();
    }
  }

  /**
   * A sync that failed because the state volume filled up while it wrote (ENOSPC, here or in a
   * sync worker: something else took the space checkDownloadSpace saw) as RESOURCE_EXHAUSTED,
   * saying what is kept; else undefined. The download is removed either way (doSync's finally).
   */
  private volumeFull(err: unknown): ProtocolError | undefined {
    const e = err as NodeJS.ErrnoException;
    if (e?.code !== 'ENOSPC' && !/\bENOSPC\b/.test(String(e?.message))) return undefined;
    const held = this.universe ? `the copy held (${this.universe.version.slice(0, 12)}) still serves sessions` : 'no copy is held yet';
    return new ProtocolError('RESOURCE_EXHAUSTED', `universe sync: ${this.o.stateDir} filled up while storing the publication (${e.message}); the download is removed and ${held}: free space or grow the volume`);
  }

  /**
   * joint-activate: the session it confirms must be a joint-count this broker completed, with
   * the same media predicate (its cohort is compared after matching, BrokerRole.match).
   */
  private async checkCountSession(id: string, mediaPredicate: string): Promise<void> {
    if (id === '') throw new ProtocolError('INVALID_ARGUMENT', 'a joint-activate session must name the joint-count session it confirms, got none');
    const live = this.sessions.get(id);
    const view = (live ? { status: live.status, result: live.result } : await this.o.store.getSession('broker', id)) as { status: string; result: unknown } | undefined | null;
    const r = view?.result as { kind?: string; mediaPredicate?: string } | undefined;
    if (!view || r?.kind !== 'joint-count') throw new ProtocolError('NOT_FOUND', `no joint-count session ${id} at this broker to confirm`);
    if (view.status !== 'completed') throw new ProtocolError('FAILED_PRECONDITION', `joint-count session ${id} did not complete (${view.status}): nothing to confirm`);
    if (r.mediaPredicate !== mediaPredicate) throw new ProtocolError('FAILED_PRECONDITION', `the media predicate differs from the one joint-count session ${id} counted`);
  }

  private session(caller: Party, env: Envelope | undefined): SessionRecord<State, BrokerSessionResult> {
    return this.sessions.forEnvelope(env, caller, 'broker', this.o.identity.peerKey(caller));
  }

  /** One phase's work; on failure the session fails everywhere and the caller gets the status. */
  private step<T>(rec: SessionRecord<State, BrokerSessionResult>, phase: SessionPhase, work: () => Promise<T>): Promise<T> {
    return this.sessions.step(rec, phase, work, (reason) => this.fail(rec, reason, true));
  }

  private fail(rec: SessionRecord<State, BrokerSessionResult>, reason: string, tellMedia: boolean): void {
    if (rec.status !== 'running') return;
    this.o.log.warn({ sessionId: rec.sessionId, phase: rec.phase, reason }, 'session failed');
    rec.state.role.fail(reason);
    this.sessions.finish(rec, 'failed', undefined, reason);
    if (tellMedia) {
      const env = rec.state.channel.seal('media', 'ABORT', AbortCodec, { reason });
      this.o.media.call('Abort', [env], 5000).catch(() => undefined).finally(() => rec.state.channel.close());
    } else {
      rec.state.channel.close();
    }
  }

  /** The checkpoint after `afterRound`, co-signed by the advertiser and media (rpc/session-control.ts). */
  private checkpoint(rec: SessionRecord<State, BrokerSessionResult>, afterRound: Round): Promise<void> {
    const key = (p: Party) => this.o.identity.peerKey(p);
    return collectCheckpoint(rec.state.channel, [
      { party: 'advertiser', peer: this.o.advertiser, key: key('advertiser') },
      { party: 'media', peer: this.o.media, key: key('media') },
    ], rec.state.signed, afterRound);
  }

  /** The look-alike methods (the federated ones are the federation hub's, services/broker/src/federated.ts). */
  handlers(): Omit<Handlers<'Broker'>, FederatedMethod> {
    return {
      OpenSession: (caller, envs) => this.openSession(caller, envs),
      Blind: (caller, envs) => this.blind(caller, envs),
      SubmitTokens: (caller, envs) => this.submitTokens(caller, envs),
      Lookup: (caller, envs) => this.lookup(caller, envs),
      Abort: abortHandler({
        session: (caller, env) => this.session(caller, env),
        channelOf: (rec) => ({ sessionId: rec.sessionId, channel: rec.state.channel }),
        onAbort: (rec, caller, reason) => this.fail(rec, `aborted by ${caller}: ${reason}`, caller !== 'media'),
      }),
    };
  }

  private async openSession(caller: Party, [env]: Envelope[]): Promise<Envelope[]> {
    if (!env) throw new ProtocolError('INVALID_ARGUMENT', 'expected one OpenSession message');
    const s = openEnvelope(env, this.o.identity.peerKey(caller), { sender: caller, receiver: 'broker', rounds: ['OPEN'] });
    if (!this.universe) throw new ProtocolError('UNAVAILABLE', 'broker does not hold media\'s publication yet (universe sync pending)');
    await this.sessions.reserveId(s.sessionId, 'open');
    const advertiser = keyidOf(this.o.identity.peerKey('advertiser'));
    const channel = new SessionChannel(this.o.identity, s.sessionId, TranscriptWriter.open(this.o.transcriptDir, 'broker', s.sessionId), this.o.observer);
    const role = new BrokerRole({ config: this.o.policy, universe: this.universe, advertiser, ...(this.o.uniform ? { uniform: this.o.uniform } : {}), ...(this.o.evalThreads ? { threads: this.o.evalThreads } : {}) });
    const rec = this.sessions.create(s.sessionId, { role, channel, signed: {} }, 'open');
    rec.bytes = () => channel.bytes;
    return this.step(rec, 'open', async () => {
      const open = channel.open(env, caller, ['OPEN'], OpenSessionCodec).value;
      if (open.kind === 'lookup') return this.openLookup(rec, open, advertiser);
      const prepare = role.open(open);
      if (open.kind === 'joint-count') rec.state.mediaPredicate = open.mediaPredicate;
      if (open.kind === 'joint-activate') {
        await this.checkCountSession(open.countSession, open.mediaPredicate);
        rec.state.countSession = open.countSession;
      }
      rec.progress = { seedCount: open.seedCount, paddedCount: role.paddedCount };
      const now = Date.now();
      // Enumeration quota, before any OPRF work: media's evaluations on this advertiser's behalf.
      const { evaluationsPerAdvertiser: limit, windowMs } = this.o.quota;
      const q = await this.o.store.takeQuota('broker', { scope: 'evaluations:advertiser', subject: advertiser, sessionId: s.sessionId, amount: prepare.paddedCount, limit, windowMs, nowMs: this.o.quota.now?.() ?? now });
      if (!q.ok) {
        throw new ProtocolError('RESOURCE_EXHAUSTED', `evaluation quota: this advertiser may have ${limit} OPRF evaluations per ${windowMs / 3_600_000} h, ${q.used} used, this session needs ${prepare.paddedCount}; retry in ${Math.ceil(q.retryAfterMs / 1000)} s`);
      }
      // The privacy budget, before any OPRF work: reserve the most this session can cost.
      const privacy = this.o.policy.privacy;
      const reserved = sessionReservation(privacy);
      const key = this.ledgerKey(advertiser);
      const r = await this.o.store.reserve('broker', { ...key, sessionId: s.sessionId, epsilon: reserved, budget: privacy.budget, nowMs: now, refreshMs: privacy.refreshMs });
      const ledger = { ...key, budget: privacy.budget, refreshMs: privacy.refreshMs, reserved: r.ok ? reserved : 0, spentBefore: r.ok ? r.spentBefore : r.spent };
      channel.recordPolicy({ ...prepare.policy, paddedCount: prepare.paddedCount, ledger, kind: prepare.kind });
      if (!r.ok) {
        const retry = r.retryAtMs ? `; the oldest charge stops counting at ${new Date(r.retryAtMs).toISOString()}` : '; the budget does not refresh (a new universe epoch starts a new one)';
        const reason = `privacy budget exhausted: ${round6(r.spent)} of ${privacy.budget} ε spent for this advertiser, media and epoch, a session needs up to ${reserved}${retry}`;
        role.fail(reason);
        this.sessions.finish(rec, 'refused', { outcome: 'BUDGET_EXHAUSTED' }, reason);
        // The refusal is the session's final message: a SessionResult, in the OPEN round.
        const out = [channel.seal('advertiser', 'OPEN', SessionResultCodec, {
          outcome: 'BUDGET_EXHAUSTED', reason, paddedCount: 0, realMatches: 0, lookalike: undefined, privacy: await this.privacyStatus(advertiser, 0),
        })];
        channel.close();
        return out;
      }
      const [readyEnv] = await this.o.media.call('PrepareSession', [channel.seal('media', 'OPEN', PrepareSessionCodec, prepare)]);
      const ready = channel.open(readyEnv!, 'media', ['OPEN'], SessionReadyCodec).value;
      if (ready.outcome !== 'COMPLETED') await this.o.store.settle('broker', s.sessionId, 0, Date.now()); // nothing ran
      const accepted = role.ready(ready, await this.privacyStatus(advertiser, ready.outcome === 'COMPLETED' ? reserved : 0));
      if ('outcome' in accepted) {
        this.sessions.finish(rec, 'refused', { outcome: accepted.outcome }, accepted.reason);
        const out = [channel.seal('advertiser', 'OPEN', SessionResultCodec, accepted)];
        channel.close();
        return out;
      }
      await this.checkpoint(rec, 'OPEN');
      drawDummiesSoon(role);
      // A's Blind comes once A has blinded its seeds: O(P) (PEER_WORK_MS_PER_ELEMENT).
      this.sessions.expectPeerWork(rec, accepted.paddedCount * PEER_WORK_MS_PER_ELEMENT);
      return [channel.seal('advertiser', 'OPEN', SessionAcceptedCodec, accepted)];
    });
  }

  private async blind(caller: Party, envs: Envelope[]): Promise<Envelope[]> {
    const rec = this.session(caller, envs[0]);
    const { role, channel } = rec.state;
    return this.step(rec, 'blind', async () => {
      const blinded = joinBatches(channel.openChunks(envs, caller, ['BLIND'], BlindedBatchCodec), 'blinded elements');
      // the padded list stays packed (one buffer) here, on the wire's encoder and in media's reply
      const padded = role.pad(blinded);
      const resp = await this.o.media.call('Evaluate', channel.sealChunks('media', 'BLIND', PackedBlindedBatchCodec, splitPacked(padded, BATCH_ITEMS, BATCH_BYTES)), paddedCallDeadlineMs(this.o.deadlineMs, padded.length));
      // read in place from media's messages: only A's elements are copied out (unpad)
      const evaluated = joinInPlace(channel.openChunks(resp, 'media', ['BLIND'], BlindedBatchInPlaceCodec), 'evaluated elements');
      const mine = role.unpad(evaluated);
      await this.checkpoint(rec, 'BLIND');
      return channel.sealChunks('advertiser', 'BLIND', PackedBlindedBatchCodec, splitPacked(mine, BATCH_ITEMS, BATCH_BYTES));
    });
  }

  private async submitTokens(caller: Party, envs: Envelope[]): Promise<Envelope[]> {
    const rec = this.session(caller, envs[0]);
    const { role, channel } = rec.state;
    if (!(role instanceof BrokerRole)) throw new ProtocolError('FAILED_PRECONDITION', 'a lookup session sends its tokens with Lookup, not SubmitTokens');
    const tokens = await this.step(rec, 'tokens', async () =>
      joinBatches(channel.openChunks(envs, caller, ['TOKENS'], TokenBatchCodec), 'tokens'));
    const advertiser = keyidOf(this.o.identity.peerKey('advertiser'));
    const epoch = this.universe?.epoch ?? '';
    const outcome = await this.step(rec, 'match', async () => {
      const releases = await this.o.store.releases('broker', advertiser, epoch);
      // joint-activate: the cohort of the joint-count session it confirms (checked at OPEN).
      const confirms = rec.state.countSession ? releases.find((r) => r.sessionId === rec.state.countSession)?.sketch : undefined;
      return role.match(tokens, releases.map((r) => r.sketch), confirms);
    });
    rec.progress = { ...rec.progress, realMatches: role.counts!.realMatches };
    const kind = role.kind;
    const psi = kind === 'retargeting' || kind === 'joint-activate';
    // joint-count: media's encrypted indicators (one bit per published position) first;
    // retargeting / joint-activate: media's DH-PSI set (its consenting positions, under its scalar).
    // (retargeting / joint-activate: media's DH-PSI set comes page by page after the broker's
    // padded set, in the LOOKALIKE step: activatePaged)
    const indicators = outcome === 'release' && kind === 'joint-count'
      ? await this.step(rec, 'aggregate', async () => {
        const resp = await this.o.media.call('Indicators', [channel.seal('media', 'AGGREGATE', IndicatorRequestCodec, { universeVersion: this.universe?.version ?? '', offset: 0, maxItems: 0 })], this.sessionDeadlineMs);
        return joinBatches(channel.openChunks(resp, 'media', ['AGGREGATE'], CiphertextBatchCodec), 'indicator ciphertexts');
      })
      : undefined;
    const toMedia = await this.step(rec, 'aggregate', async () => {
      const p = outcome !== 'release' ? { profile: role.refusedProfile() }
        : psi ? { psi: await role.psiPadded() } : indicators ? { profile: role.jointSum(indicators) } : { profile: role.aggregate() };
      // The charge and the released cohort are committed before media can see anything.
      if (outcome === 'release') {
        await this.o.store.recordRelease('broker', { sessionId: rec.sessionId, advertiser, epoch, sketch: role.releasedSketch!, size: role.counts!.realMatches, nowMs: Date.now() });
      }
      await this.o.store.settle('broker', rec.sessionId, role.charge!, Date.now());
      return p;
    });
    const result = await this.step(rec, 'lookalike', async () => {
      const [resp] = toMedia.psi !== undefined
        ? await this.activatePaged(channel, role, toMedia.psi)
        : await this.o.media.call('BuildLookalike', [channel.seal('media', 'AGGREGATE', CohortProfileCodec, toMedia.profile ?? role.refusedProfile())]);
      const lookalike = channel.open(resp!, 'media', ['LOOKALIKE'], LookalikeResultCodec).value;
      const result = role.finish(lookalike, await this.privacyStatus(advertiser, role.charge!));
      channel.recordLedgerSettlement({ charged: role.charge!, spentAfter: result.privacy!.epsilonSpent, budget: result.privacy!.budget });
      await this.checkpoint(rec, 'LOOKALIKE');
      return result;
    });
    const out = [channel.seal('advertiser', 'LOOKALIKE', SessionResultCodec, result)];
    const status = result.outcome === 'COMPLETED' ? 'completed' : result.outcome === 'COHORT_TOO_SMALL' ? 'cohort-too-small' : 'refused';
    this.sessions.finish(rec, status, { kind, mediaPredicate: rec.state.mediaPredicate, counts: role.counts, outcome: result.outcome, privacy: result.privacy });
    channel.close();
    this.o.log.info({ sessionId: rec.sessionId, phase: 'done', outcome: result.outcome, charged: role.charge, ...role.counts }, 'session finished');
    return out;
  }

  /**
   * The DH-PSI with media in pages (retargeting, joint-activate; docs/protocol.md §7.4): the
   * broker's padded set first, one Activate call per page of at most `psiPageItems` elements
   * (PSI_PAGE_ITEMS), each acknowledged; then media's set one page at a time — an Indicators
   * call asks for the page at the next offset, the page goes back under a (same order) in one
   * Activate call — until media answers a page with its LookalikeResult instead of an Ack. Every
   * call is a stream of BlindedBatch chunks whose offsets count in the whole stream, so no call,
   * no message and no state here grows with the universe: the broker holds its padded set and
   * one page of media's. Each Ack's `received` (elements so far) is checked.
   */
  private async activatePaged(channel: SessionChannel, role: BrokerRole, padded: PackedList): Promise<Envelope[]> {
    const per = this.o.psiPageItems ?? PSI_PAGE_ITEMS;
    const P = padded.length;
    const send = async (from: number, chunks: { offset: number; items: PackedList }[]) =>
      this.o.media.call('Activate', channel.sealChunks('media', 'AGGREGATE', PackedBlindedBatchCodec, chunks.map((b) => ({ offset: from + b.offset, items: b.items }))), this.sessionDeadlineMs);
    const acked = (resp: Envelope[], through: number): Envelope[] | undefined => {
      const [env] = resp;
      if (!env || resp.length !== 1) throw new ProtocolError('INVALID_ARGUMENT', `media answered the PSI page ending at element ${through} with ${resp.length} messages, expected one Ack or its LookalikeResult`);
      if (channel.names(env, LookalikeResultCodec)) return resp; // opened (and checked) by the caller
      const { received } = channel.open(env, 'media', ['AGGREGATE'], AckCodec).value;
      if (received !== through) throw new ProtocolError('INVALID_ARGUMENT', `media acknowledged ${received} PSI elements after the page ending at ${through}`);
      return undefined;
    };
    for (let from = 0; from < P; from += per) {
      const to = Math.min(P, from + per);
      const done = acked(await send(from, splitPacked(padded.slice(from, to), BATCH_ITEMS, BATCH_BYTES)), to);
      if (done) throw new ProtocolError('INVALID_ARGUMENT', `media answered with its LookalikeResult before its PSI set was sent (after the broker's padded set up to element ${to})`);
    }
    const version = this.universe?.version ?? '';
    for (let offset = 0; ;) {
      const resp = await this.o.media.call('Indicators', [channel.seal('media', 'AGGREGATE', IndicatorRequestCodec, { universeVersion: version, offset, maxItems: per })], this.sessionDeadlineMs);
      const page = joinPacked(channel.openChunks(resp, 'media', ['AGGREGATE'], PackedBlindedBatchCodec), 'PSI set page', offset);
      const answer = await role.psiReplyPage(offset, page, per);
      offset += page.length;
      const done = acked(await send(P + offset - page.length, splitPacked(answer, BATCH_ITEMS, BATCH_BYTES)), P + offset);
      if (done) return done;
    }
  }

  private async lookup(caller: Party, envs: Envelope[]): Promise<Envelope[]> {
    const rec = this.session(caller, envs[0]);
    const { role, channel } = rec.state;
    if (!(role instanceof LookupBrokerRole)) throw new ProtocolError('FAILED_PRECONDITION', 'Lookup is the lookup kind\'s last call; this session is a look-alike');
    const boxes = await this.step(rec, 'lookup', async () => {
      const tokens = joinBatches(channel.openChunks(envs, caller, ['TOKENS'], TokenBatchCodec), 'tokens');
      const boxes = role.lookup(tokens);
      rec.progress = { ...rec.progress, realMatches: role.counts?.realMatches ?? 0 };
      await this.checkpoint(rec, 'LOOKUP');
      return boxes;
    });
    const out = channel.sealChunks('advertiser', 'LOOKUP', LabelBatchCodec, splitBatches(boxes, BATCH_ITEMS, BATCH_BYTES));
    this.sessions.finish(rec, 'completed', { kind: 'lookup', counts: role.counts, outcome: 'COMPLETED' });
    channel.close();
    this.o.log.info({ sessionId: rec.sessionId, phase: 'done', kind: 'lookup', ...role.counts }, 'lookup finished');
    return out;
  }

  /**
   * Round OPEN of a lookup: the minimum batch and the label publication (role), the
   * advertiser's lookup quota (IDs per window) and its evaluation quota, all before any
   * OPRF work; no ε is reserved (a lookup releases no aggregate). Then media accepts.
   */
  private async openLookup(rec: SessionRecord<State, BrokerSessionResult>, open: OpenSession, advertiser: string) {
    const { channel } = rec.state;
    const universe = this.universe;
    if (!universe) throw new ProtocolError('UNAVAILABLE', 'broker does not hold media\'s publication yet (universe sync pending)');
    const limits = this.o.lookup ?? DEFAULT_LOOKUP;
    const role = new LookupBrokerRole({ config: this.o.policy, limits, universe, advertiser, ...(this.o.uniform ? { uniform: this.o.uniform } : {}) });
    rec.state.role = role;
    const prepare = role.open(open);
    rec.progress = { seedCount: open.seedCount, paddedCount: prepare.paddedCount };
    const now = Date.now();
    const windowMs = this.o.quota.windowMs;
    const hours = windowMs / 3_600_000;
    const lq = await this.o.store.takeQuota('broker', { scope: 'lookups:advertiser', subject: advertiser, sessionId: rec.sessionId, amount: open.seedCount, limit: limits.idsPerAdvertiser, windowMs, nowMs: now });
    if (!lq.ok) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `lookup quota: this advertiser may look up ${limits.idsPerAdvertiser} IDs per ${hours} h, ${lq.used} used, this lookup has ${open.seedCount}; retry in ${Math.ceil(lq.retryAfterMs / 1000)} s`);
    }
    const limit = this.o.quota.evaluationsPerAdvertiser;
    const q = await this.o.store.takeQuota('broker', { scope: 'evaluations:advertiser', subject: advertiser, sessionId: rec.sessionId, amount: prepare.paddedCount, limit, windowMs, nowMs: now });
    if (!q.ok) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `evaluation quota: this advertiser may have ${limit} OPRF evaluations per ${hours} h, ${q.used} used, this session needs ${prepare.paddedCount}; retry in ${Math.ceil(q.retryAfterMs / 1000)} s`);
    }
    channel.recordPolicy({ ...prepare.policy, paddedCount: prepare.paddedCount, kind: 'lookup', minBatch: limits.minBatch, lookupQuota: limits.idsPerAdvertiser, labelsVersion: prepare.labelsVersion ?? '' });
    const [readyEnv] = await this.o.media.call('PrepareSession', [channel.seal('media', 'OPEN', PrepareSessionCodec, prepare)]);
    const accepted = role.ready(channel.open(readyEnv!, 'media', ['OPEN'], SessionReadyCodec).value);
    await this.checkpoint(rec, 'OPEN');
    drawDummiesSoon(role);
    this.sessions.expectPeerWork(rec, accepted.paddedCount * PEER_WORK_MS_PER_ELEMENT);
    return [channel.seal('advertiser', 'OPEN', SessionAcceptedCodec, accepted)];
  }

  close(): void {
    this.sessions.close();
  }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
