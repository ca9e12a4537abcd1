/**
 * The media node: serves the broker. Holds the prepared universe, its current publication
 * (the tokens and encrypted attributes the broker holds, and the publication's BFV secret
 * key) and, per session, a MediaRole. Media never receives a list of users in a session;
 * audiences it builds stay here (state dir); only their handle, size, quality and the
 * cohort insight (sealed to the advertiser) leave.
 */
import { universeCosineWeights, warmLookalike } from '@cleanroom/shared/protocol/lookalike.ts';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MediaRole, type MediaPublication, type PurposeConsent } from '@cleanroom/shared/protocol/media.ts';
import { ProtocolError, type Outcome, type Party } from '@cleanroom/shared/protocol/messages.ts';
import { warmUserIdLines, type Universe } from '@cleanroom/shared/protocol/universe.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { sizeClass } from '@cleanroom/shared/protocol/policy.ts';
import { MediaBfv } from '@cleanroom/shared/crypto/bfv.ts';
import type { Publication } from '@cleanroom/shared/protocol/publication.ts';
import type { LabelPublication } from '@cleanroom/shared/protocol/label-publication.ts';
import { LABEL_BOX_BYTES } from '@cleanroom/shared/crypto/label-box.ts';
import {
  AckCodec, BlindedBatchInPlaceCodec, IndicatorRequestCodec, BATCH_BYTES, BATCH_ITEMS, BlindedBatchCodec, checkContiguous, splitPacked, PackedBlindedBatchCodec, CiphertextBatchCodec, CiphertextBatchWriter, EncodedCiphertextBatchCodec, CohortProfileCodec, LookalikeResultCodec, PrepareSessionCodec,
  SessionReadyCodec, splitBatches, joinBatches, splitManifest, UniverseLabelsCodec, UniverseManifestCodec, UniverseRequestCodec, UniverseTokensCodec,
} from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { warmPayloadTypes } from '@cleanroom/shared/rpc/proto.ts';
import { afterSend, type Handlers } from '@cleanroom/shared/rpc/grpc.ts';
import { openEnvelope, type Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';
import { removeStaleTemps } from '@cleanroom/shared/service/temp-dirs.ts';
import type { NodeCommonOptions } from '@cleanroom/shared/service/identity.ts';
import { PEER_WORK_MS_PER_ELEMENT, SessionRegistry, type SessionPhase, type SessionRecord } from '@cleanroom/shared/service/sessions.ts';
import type { SignedTree } from '@cleanroom/shared/transcript/checkpoint.ts';
import { abortHandler, cosignHandler } from '@cleanroom/shared/rpc/session-control.ts';
import { keyidOf } from '@cleanroom/shared/crypto/dsse.ts';
import { sessionReservation } from '@cleanroom/shared/protocol/privacy.ts';
import { uncounted } from '@cleanroom/shared/common/op-counts.ts';
import type { Store } from '@cleanroom/shared/store/store.ts';

interface State {
  role: MediaRole;
  channel: SessionChannel;
  /** The last checkpoint tree this node co-signed. */
  lastSigned: SignedTree | undefined;
}

/** What media keeps of a session that ended: its outcome and the audience it built (kept here). */
export interface MediaSessionResult {
  outcome: Outcome;
  /** Absent: a look-alike session. */
  kind?: 'lookup';
  audienceId?: string;
  audienceSize?: number;
}

export interface MediaNodeOptions extends NodeCommonOptions {
  universe: Universe;
  /** The publication the broker syncs, with the key pair that decrypts its profiles. */
  publication: Publication & { bfv: MediaBfv } & Pick<MediaPublication, 'positionHashes'>;
  /** The sealed labels beside the publication's tokens (lookup kind); none: media offers no lookups. */
  labels?: LabelPublication;
  stateDir: string;
  maxPaddedCount: number;
  evalThreads: number;
  /** Media's own minimum cohort (the stricter of this and the session's applies). */
  minCohort?: number;
  /** Sessions, media's own privacy ledger and quota usage (service/store). */
  store: Store;
  /** OPRF evaluations over a rolling window: per broker (all its advertisers) and per advertiser. */
  /** `now`: the quota's clock (tests move it instead of sleeping); Date.now by default. */
  quota: { evaluationsPerBroker: number; evaluationsPerAdvertiser: number; windowMs: number; now?: () => number };
  /** Purpose-level consent per universe row (consent_ads, consent_share); absent: no user is in any audience. */
  purposes?: PurposeConsent;
  /** Media's own privacy budget per (advertiser, epoch): the stricter of the broker's and this wins. */
  privacy: { budget: number; refreshMs: number };
}

const CT_BATCH_BYTES = 3 * 1024 * 1024;

/** A session whose paged PSI reply stopped part-way: where (for the reason it fails with). */
function pagesStopped(progress: Record<string, number>): string {
  const { psiReplyReceived: got, psiReplyExpected: want } = progress;
  return got !== undefined && want !== undefined && got < want ? `; the broker's PSI reply stopped at ${got} of ${want} elements (its final page never came)` : '';
}
const MANIFEST_CHUNK_BYTES = 2 * 1024 * 1024;
/** Most entries / ciphertexts media serves in one SyncUniverse call, whatever the broker asks. */
const MAX_TOKEN_PAGE = 262_144;
const MAX_CIPHERTEXT_PAGE = 64;

export class MediaNode {
  readonly sessions: SessionRegistry<State, MediaSessionResult>;
  private readonly o: MediaNodeOptions;
  /** Open universe syncs (one transcript each), by sync id. */
  private readonly syncs = new Map<string, { channel: SessionChannel; timer: NodeJS.Timeout }>();

  constructor(o: MediaNodeOptions) {
    this.o = o;
    removeStaleTemps(join(o.stateDir, 'audiences')); // audiences a stopped process left half-written (saveAudience)
    this.sessions = new SessionRegistry<State, MediaSessionResult>(o.deadlineMs, (rec) => this.fail(rec, `no message from the broker for ${o.deadlineMs} ms${pagesStopped(rec.progress)}`));
    this.sessions.persist(o.store, 'media', (err) => o.log.error({ err: (err as Error).message }, 'could not persist a session outcome'));
    // Start-up warm-ups: no session's work, so tallied in none (op-counts uncounted), whatever
    // session of this process runs meanwhile.
    uncounted(() => {
      // The universe's look-alike cosine weights (cohort-independent, one pass): computed with
      // the universe, not in the first session's LOOKALIKE.
      universeCosineWeights(o.universe.packed, o.universe.size);
      // The look-alike's scoring and selection, and the id lookup that writes an audience, compiled
      // now rather than in the first session's LOOKALIKE (each runs once per session: unoptimised,
      // about twice their CPU). The ids read are discarded; many small calls, as warmLookalike
      // explains (two large ones left the first session to compile the id pass again).
      warmLookalike();
      warmUserIdLines(o.universe);
      // SEAL's decryption path (WebAssembly, compiled on first call) likewise: one profile of its own.
      o.publication.bfv.warmDecrypt();
      // And its encryption path (the joint-count indicators), with the wire form's layout found: not in the first joint-count's AGGREGATE.
      o.publication.bfv.warmEncrypt();
      // The protobuf code of the messages media receives and sends in a session, generated now (not in the first session's rounds).
      warmPayloadTypes([PrepareSessionCodec, SessionReadyCodec, PackedBlindedBatchCodec, IndicatorRequestCodec, CiphertextBatchCodec, CohortProfileCodec, LookalikeResultCodec, AckCodec].map((c) => c.type));
    });
  }

  /** The publication the PSI kinds hash positions of (warmed up by the entry point). */
  get publicationForPsi(): MediaNodeOptions['publication'] {
    return this.o.publication;
  }

  private session(caller: Party, env: Envelope | undefined, allowFinished = false): SessionRecord<State, MediaSessionResult> {
    return this.sessions.forEnvelope(env, caller, 'media', this.o.identity.peerKey(caller), allowFinished);
  }

  private step<T>(rec: SessionRecord<State, MediaSessionResult>, phase: SessionPhase, work: () => Promise<T>): Promise<T> {
    return this.sessions.step(rec, phase, work, (reason) => this.fail(rec, reason));
  }

  private fail(rec: SessionRecord<State, MediaSessionResult>, reason: string): void {
    if (rec.status !== 'running') return;
    this.o.log.warn({ sessionId: rec.sessionId, phase: rec.phase, reason }, 'session failed; nothing released');
    rec.state.role.fail(reason);
    this.sessions.finish(rec, 'failed', undefined, reason);
    rec.state.channel.close();
  }

  handlers(): Handlers<'Media'> {
    return {
      PrepareSession: (caller, envs) => this.prepareSession(caller, envs),
      Evaluate: (caller, envs) => this.evaluate(caller, envs),
      Indicators: (caller, envs) => this.indicators(caller, envs),
      Activate: (caller, envs) => this.activate(caller, envs),
      BuildLookalike: (caller, envs) => this.buildLookalike(caller, envs),
      SyncUniverse: (caller, envs) => this.syncUniverse(caller, envs),
      Cosign: cosignHandler({
        session: (caller, env) => this.session(caller, env, true),
        channelOf: (rec) => ({ sessionId: rec.sessionId, channel: rec.state.channel }),
        lastSigned: { get: (rec) => rec.state.lastSigned, set: (rec, tree) => (rec.state.lastSigned = tree) },
        // the broker's checkpoint after the last round ends media's part of the session
        afterCosign: (rec, afterRound) => {
          if (afterRound === 'LOOKUP') {
            // a lookup ends here for media: it evaluated the padded list; nothing else reaches it
            rec.state.role.endLookup();
            if (rec.status === 'running') this.sessions.finish(rec, 'completed', { outcome: 'COMPLETED', kind: 'lookup' });
          }
          if (afterRound === 'LOOKALIKE' || afterRound === 'LOOKUP') rec.state.channel.close();
        },
      }),

      Abort: abortHandler({
        session: (caller, env) => this.session(caller, env),
        channelOf: (rec) => ({ sessionId: rec.sessionId, channel: rec.state.channel }),
        onAbort: (rec, caller, reason) => this.fail(rec, `aborted by ${caller}: ${reason}`),
      }),
    };
  }

  private async prepareSession(caller: Party, [env]: Envelope[]): Promise<Envelope[]> {
    if (!env) throw new ProtocolError('INVALID_ARGUMENT', 'expected one PrepareSession message');
    const s = openEnvelope(env, this.o.identity.peerKey(caller), { sender: caller, receiver: 'media', rounds: ['OPEN'] });
    await this.sessions.reserveId(s.sessionId, 'open');
    const channel = new SessionChannel(this.o.identity, s.sessionId, TranscriptWriter.open(this.o.transcriptDir, 'media', s.sessionId), this.o.observer);
    const role = new MediaRole({
      universe: this.o.universe, publication: this.o.publication, maxPaddedCount: this.o.maxPaddedCount, threads: this.o.evalThreads, minCohort: this.o.minCohort,
      ...(this.o.labels && this.o.labels.publicationVersion === this.o.publication.version ? { labelsVersion: this.o.labels.version } : {}),
      ...(this.o.purposes ? { purposes: this.o.purposes } : {}),
    });
    const rec = this.sessions.create(s.sessionId, { role, channel, lastSigned: undefined }, 'open');
    rec.bytes = () => channel.bytes;
    return this.step(rec, 'open', async () => {
      const req = channel.open(env, caller, ['OPEN'], PrepareSessionCodec).value;
      rec.progress = { paddedCount: req.paddedCount };
      // Evaluate comes once A has blinded its seeds and the broker has drawn its dummies: O(P).
      this.sessions.expectPeerWork(rec, req.paddedCount * PEER_WORK_MS_PER_ELEMENT);
      if (!/^[0-9a-f]{8,64}$/.test(req.advertiser)) throw new ProtocolError('INVALID_ARGUMENT', `expected the advertiser's key id (hex), got '${req.advertiser.slice(0, 80)}'`);
      // Enumeration quotas, before any OPRF work: per broker and per advertiser, rolling window.
      const now = Date.now();
      const { windowMs } = this.o.quota;
      const broker = keyidOf(this.o.identity.peerKey('broker'));
      for (const [scope, subject, limit] of [
        ['evaluations:broker', broker, this.o.quota.evaluationsPerBroker],
        ['evaluations:advertiser', req.advertiser, this.o.quota.evaluationsPerAdvertiser],
      ] as const) {
        const q = await this.o.store.takeQuota('media', { scope, subject, sessionId: s.sessionId, amount: req.paddedCount, limit, windowMs, nowMs: this.o.quota.now?.() ?? now });
        if (!q.ok) {
          throw new ProtocolError('RESOURCE_EXHAUSTED', `media's evaluation quota per ${scope.split(':')[1]}: ${limit} per ${windowMs / 3_600_000} h, ${q.used} used, this session needs ${req.paddedCount}; retry in ${Math.ceil(q.retryAfterMs / 1000)} s`);
        }
      }
      if (req.kind === 'lookup') {
        // A lookup releases no aggregate: no ε is reserved; the quotas above bound it.
        channel.recordPolicy({ ...req.policy, paddedCount: req.paddedCount, universeEpoch: this.o.universe.epoch, kind: 'lookup', labelsVersion: req.labelsVersion ?? '' });
        return [channel.seal('broker', 'OPEN', SessionReadyCodec, role.prepare(req))];
      }
      // Media's own privacy ledger for this advertiser and epoch.
      const reserved = sessionReservation({ ...req.policy, budget: this.o.privacy.budget, refreshMs: this.o.privacy.refreshMs });
      const key = { advertiser: req.advertiser, media: keyidOf(this.o.identity.key.publicKey), epoch: this.o.universe.epoch };
      const r = await this.o.store.reserve('media', { ...key, sessionId: s.sessionId, epsilon: reserved, budget: this.o.privacy.budget, nowMs: now, refreshMs: this.o.privacy.refreshMs });
      channel.recordPolicy({ ...req.policy, kind: req.kind, paddedCount: req.paddedCount, universeEpoch: this.o.universe.epoch, ledger: { ...key, budget: this.o.privacy.budget, reserved: r.ok ? reserved : 0, spentBefore: r.ok ? r.spentBefore : r.spent } });
      const refusal = r.ok ? undefined : `media's privacy budget for this advertiser and epoch is exhausted (${Math.round(r.spent * 1e6) / 1e6} of ${this.o.privacy.budget} ε spent, a session needs up to ${reserved})`;
      const ready = role.prepare(req, refusal);
      if (refusal) this.sessions.finish(rec, 'refused', { outcome: 'BUDGET_EXHAUSTED' }, refusal);
      const out = [channel.seal('broker', 'OPEN', SessionReadyCodec, ready)];
      if (refusal) channel.close();
      return out;
    });
  }

  private async evaluate(caller: Party, envs: Envelope[]): Promise<Envelope[]> {
    const rec = this.session(caller, envs[0]);
    const { role, channel } = rec.state;
    return this.step(rec, 'blind', async () => {
      // packed: one buffer per batch in and out, no object per element (the padded list)
      const batches = channel.openChunks(envs, caller, ['BLIND'], PackedBlindedBatchCodec);
      checkContiguous(batches, 'blinded elements');
      const out = [];
      for (const b of batches) {
        out.push({ offset: b.offset, items: await role.evaluate(b.items) });
        rec.progress = { ...rec.progress, evaluated: b.offset + b.items.length };
        this.sessions.touch(rec);
      }
      return channel.sealChunks('broker', 'BLIND', PackedBlindedBatchCodec, out);
    });
  }

  private async indicators(caller: Party, [env]: Envelope[]): Promise<Envelope[]> {
    const rec = this.session(caller, env);
    const { role, channel } = rec.state;
    return this.step(rec, 'aggregate', async () => {
      const req = channel.open(env!, caller, ['AGGREGATE'], IndicatorRequestCodec).value;
      if (req.universeVersion !== this.o.publication.version) {
        throw new ProtocolError('FAILED_PRECONDITION', `broker asks for indicators of publication ${req.universeVersion.slice(0, 12)}, media serves ${this.o.publication.version.slice(0, 12)}`);
      }
      if (role.kind === 'joint-count') {
        // each ciphertext written once, straight into the CiphertextBatch payload that carries it,
        // all payloads in one buffer (CiphertextBatchWriter's expectedItems: one large allocation, not one per batch)
        const writer = new CiphertextBatchWriter(1024, CT_BATCH_BYTES, MediaBfv.indicatorCiphertexts(this.o.publication.order.length));
        role.indicators((bytes) => writer.next(bytes));
        // freed as soon as gRPC has serialized the reply, not left to a full GC (CiphertextBatchWriter.release)
        return afterSend(channel.sealChunks('broker', 'AGGREGATE', EncodedCiphertextBatchCodec, writer.finish()), () => writer.release());
      }
      // retargeting / joint-activate: one page of media's PSI set (role.psiOfferPage), offsets in the whole set
      const page = await role.psiOfferPage(req.offset, req.maxItems);
      this.sessions.touch(rec);
      return channel.sealChunks('broker', 'AGGREGATE', PackedBlindedBatchCodec, splitPacked(page, BATCH_ITEMS, BATCH_BYTES).map((b) => ({ offset: req.offset + b.offset, items: b.items })));
    });
  }

  /**
   * Round LOOKALIKE of retargeting / joint-activate: one page of the broker's PSI reply per
   * call (BlindedBatch chunks with offsets in the whole reply). Every page but the last is
   * answered with an Ack (AGGREGATE) of the elements received so far; the page completing
   * the reply with the LookalikeResult. A page out of order, replayed, too large or beyond
   * the total fails the session with that reason (role.activatePage).
   */
  private async activate(caller: Party, envs: Envelope[]): Promise<Envelope[]> {
    const rec = this.session(caller, envs[0]);
    const { role, channel } = rec.state;
    const out = await this.step(rec, 'lookalike', async () => {
      // the elements read where the messages hold them: no packed copy of the page, no join
      const batches = channel.openChunks(envs, caller, ['AGGREGATE'], BlindedBatchInPlaceCodec);
      const offset = batches[0]?.offset ?? 0; // openChunks refuses an empty call
      checkContiguous(batches, 'PSI reply page', offset);
      const page = await role.activatePage(offset, batches.map((b) => b.items));
      rec.progress = { ...rec.progress, psiReplyReceived: page.received, psiReplyExpected: page.expected };
      if (!page.result) return { result: undefined, envs: [channel.seal('broker', 'AGGREGATE', AckCodec, { received: page.received })] };
      const result = page.result;
      const pol = role.policy;
      if (pol) await this.o.store.settle('media', rec.sessionId, result.outcome === 'COMPLETED' ? pol.epsilonProfile + pol.epsilonCount + pol.epsilonDifferencing : pol.epsilonCount + pol.epsilonDifferencing, Date.now());
      if (role.audience) this.saveAudience(role.audience.audienceId, role.audience.rows);
      return { result, envs: [channel.seal('broker', 'LOOKALIKE', LookalikeResultCodec, result)] };
    });
    if (!out.result) return out.envs;
    this.sessions.finish(rec, out.result.outcome === 'COMPLETED' ? 'completed' : 'cohort-too-small', {
      outcome: out.result.outcome, audienceId: out.result.audienceId, audienceSize: out.result.audienceSize,
    });
    setTimeout(() => channel.close(), this.o.deadlineMs).unref();
    this.o.log.info({ sessionId: rec.sessionId, phase: 'done', outcome: out.result.outcome, audienceSize: out.result.audienceSize }, 'session finished (audience)');
    return out.envs;
  }

  private async buildLookalike(caller: Party, [env]: Envelope[]): Promise<Envelope[]> {
    const rec = this.session(caller, env);
    const { role, channel } = rec.state;
    const out = await this.step(rec, 'lookalike', async () => {
      const profile = channel.open(env!, caller, ['AGGREGATE'], CohortProfileCodec).value;
      const pol = role.policy;
      const result = role.lookalike(profile);
      // Media's own ledger: the whole reservation once it has decrypted a profile, else the count and differencing checks.
      if (pol) {
        const charged = result.outcome === 'COMPLETED' ? pol.epsilonProfile + pol.epsilonCount + pol.epsilonDifferencing : pol.epsilonCount + pol.epsilonDifferencing;
        await this.o.store.settle('media', rec.sessionId, charged, Date.now());
      }
      if (role.audience) this.saveAudience(role.audience.audienceId, role.audience.rows);
      return { result, envs: [channel.seal('broker', 'LOOKALIKE', LookalikeResultCodec, result)] };
    });
    this.sessions.finish(rec, out.result.outcome === 'COMPLETED' ? 'completed' : 'cohort-too-small', {
      outcome: out.result.outcome, audienceId: out.result.audienceId, audienceSize: out.result.audienceSize,
    });
    // The channel stays open for the broker's final checkpoint; closed then, or after the deadline.
    setTimeout(() => channel.close(), this.o.deadlineMs).unref();
    this.o.log.info({ sessionId: rec.sessionId, phase: 'done', outcome: out.result.outcome, audienceSize: out.result.audienceSize }, 'session finished');
    return out.envs;
  }

  private async syncUniverse(caller: Party, [env]: Envelope[]): Promise<Envelope[]> {
    if (!env) throw new ProtocolError('INVALID_ARGUMENT', 'expected one UniverseRequest');
    const s = openEnvelope(env, this.o.identity.peerKey(caller), { sender: caller, receiver: 'media', rounds: ['UNIVERSE'] });
    if (!s.sessionId.startsWith('universe-')) throw new ProtocolError('INVALID_ARGUMENT', `expected a universe sync id ('universe-…'), got '${s.sessionId}'`);
    let sync = this.syncs.get(s.sessionId);
    if (!sync) {
      const channel = new SessionChannel(this.o.identity, s.sessionId, TranscriptWriter.open(this.o.transcriptDir, 'media', s.sessionId));
      sync = { channel, timer: setTimeout(() => this.endSync(s.sessionId), this.o.deadlineMs) };
      sync.timer.unref();
      this.syncs.set(s.sessionId, sync);
    }
    sync.timer.refresh();
    const ch = sync.channel;
    try {
      const req = ch.open(env, caller, ['UNIVERSE'], UniverseRequestCodec).value;
      const pub = this.o.publication;
      switch (req.part) {
        case 'MANIFEST': {
          const unchanged = req.haveVersion === pub.version;
          return ch.sealChunks('broker', 'UNIVERSE', UniverseManifestCodec, splitManifest({
            epoch: pub.epoch, version: pub.version, users: pub.users, ciphertexts: pub.ciphertexts.count,
            attributeCount: pub.layout.attributeCount, usersPerCiphertext: pub.layout.usersPerCiphertext,
            idTypes: [...pub.tokens].map(([idType, t]) => ({ idType, tokens: t.count })),
            sizeClass: sizeClass(pub.users), unchanged,
            labelsVersion: this.o.labels?.publicationVersion === pub.version ? this.o.labels.version : '',
            bfv: unchanged ? { params: new Uint8Array(0), publicKey: new Uint8Array(0), galoisKeys: new Uint8Array(0) } : pub.material,
          }, MANIFEST_CHUNK_BYTES));
        }
        case 'TOKENS': {
          const t = pub.tokens.get(req.idType);
          if (!t) throw new ProtocolError('NOT_FOUND', `the publication has no '${req.idType}' tokens`);
          const end = Math.min(t.count, req.offset + Math.min(req.limit, MAX_TOKEN_PAGE));
          // chunks of ≤ 65,536 entries; at least one (empty past the end)
          const pages = [];
          let off = Math.min(req.offset, end);
          do {
            const stop = Math.min(end, off + 65_536);
            const page = t.page(off, stop);
            const tokens = [];
            for (let i = 0; i < stop - off; i++) tokens.push(page.tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES));
            pages.push({ idType: req.idType, offset: off, tokens, positions: Array.from(page.positions) });
            off = stop;
          } while (off < end);
          return ch.sealChunks('broker', 'UNIVERSE', UniverseTokensCodec, pages);
        }
        case 'LABELS': {
          const boxes = this.o.labels?.publicationVersion === pub.version ? this.o.labels.boxes.get(req.idType) : undefined;
          if (!boxes) throw new ProtocolError('NOT_FOUND', `the publication has no '${req.idType}' labels`);
          const end = Math.min(boxes.count, req.offset + Math.min(req.limit, MAX_TOKEN_PAGE));
          const pages = [];
          let off = Math.min(req.offset, end);
          do {
            const stop = Math.min(end, off + 32_768);
            const read = boxes.read(off, stop); // one page from media's file, not a table of every box
            const list = [];
            for (let i = 0; i < stop - off; i++) list.push(read.subarray(i * LABEL_BOX_BYTES, (i + 1) * LABEL_BOX_BYTES));
            pages.push({ idType: req.idType, offset: off, boxes: list });
            off = stop;
          } while (off < end);
          return ch.sealChunks('broker', 'UNIVERSE', UniverseLabelsCodec, pages);
        }
        case 'CIPHERTEXTS': {
          const end = Math.min(pub.ciphertexts.count, req.offset + Math.min(req.limit, MAX_CIPHERTEXT_PAGE));
          const list = [];
          for (let c = req.offset; c < end; c++) list.push(pub.ciphertexts.get(c));
          const batches = splitBatches(list, 1024, CT_BATCH_BYTES).map((b) => ({ offset: b.offset + req.offset, items: b.items }));
          return ch.sealChunks('broker', 'UNIVERSE', CiphertextBatchCodec, batches);
        }
        case 'DONE': {
          const reply = ch.seal('broker', 'UNIVERSE', AckCodec, { received: 0 });
          this.endSync(s.sessionId);
          return [reply];
        }
      }
    } catch (err) {
      this.endSync(s.sessionId);
      throw err;
    }
  }

  private endSync(syncId: string): void {
    const sync = this.syncs.get(syncId);
    if (!sync) return;
    clearTimeout(sync.timer);
    sync.channel.close();
    this.syncs.delete(syncId);
  }

  /**
   * Writes the audience's IDs, one line each, to <state>/audiences/<id>.txt (owner-only: they
   * are media's users): into a temporary file, synced, then renamed, so that a file of that name
   * is always a whole audience, on disk before the session says it completed. A failure midway
   * (a full volume, a crash) leaves no audience file; the temporary file is removed here, or at
   * the next start (removeStaleTemps). A full volume fails the session RESOURCE_EXHAUSTED,
   * naming the volume. Written in chunks of bytes: no string per member, never one buffer of the
   * whole audience; the IDs come from one pass over the universe's users (userIdLines).
   */
  private saveAudience(audienceId: string, rows: Uint32Array): void {
    const dir = join(this.o.stateDir, 'audiences');
    const path = join(dir, `${audienceId}.txt`);
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      mkdirSync(dir, { recursive: true });
      const fd = openSync(tmp, 'w', 0o600);
      try {
        for (const chunk of this.o.universe.userIdLines(rows)) writeSync(fd, chunk);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new ProtocolError('RESOURCE_EXHAUSTED', `media could not store the audience: its state volume (${this.o.stateDir}) is full (ENOSPC); nothing was released: free space or grow the volume`);
      }
      throw err;
    }
  }

  close(): void {
    this.sessions.close();
    for (const id of [...this.syncs.keys()]) this.endSync(id);
  }
}
