/**
 * Media (B) protocol role: one state machine, no network, no filesystem.
 *
 * Flow (docs/protocol.md):
 *   new ─prepare(PrepareSession)─▶ prepared ─evaluate(batch)*─▶ evaluating
 *   ─lookalike(CohortProfile)─▶ done                                   (fail() ▶ failed)
 *
 * - prepare: checks the session runs on media's current publication (the broker holds its
 *   tokens and encrypted attributes; the publication's BFV secret key never leaves media).
 * - evaluate: OPRF evaluation of blinded elements under the universe key, at most the
 *   session's evaluation quota in total (= the padded size announced) — the throttle
 *   against enumerating the phone-number space through media. Every element is validated
 *   (length, canonical, not low-order) before the key touches it.
 * - lookalike: decrypts the single aggregate profile, checks it is an aggregate (every
 *   block equal) over at least the minimum cohort (the stricter of the session's and
 *   media's own floor), scores the universe, selects the audience. Below the minimum
 *   nothing is built or released.
 *
 * - retargeting / joint-activate (after BLIND): the DH-PSI in pages — activatePage receives
 *   the broker's padded set, then psiOfferPage gives one page of media's set and activatePage
 *   takes its answer, matched on arrival, page by page; the last answer gives the audience.
 *   Media holds at most one page of its set (the set's order as 4-byte positions aside).
 *
 * What media learns: the padded size bucket (from the BLIND round) and the noised
 * per-attribute totals over the advertiser's real matched users. It receives no list of
 * users: not the real matches, not decoys. The audience is therefore not "seeds excluded":
 * it is media's top-scored users, some of whom may be A's customers (docs/protocol.md §2).
 */
import { randomUUID } from 'node:crypto';
import { BfvFormatError, type MediaBfv } from '../crypto/bfv.ts';
import { ELEMENT_BYTES, InvalidElementError, validatePacked, validateStrided } from '../crypto/group.ts';
import { evaluatePackedParallel } from '../crypto/oprf-pool.ts';
import { copyBytes, PackedList, type StridedItems } from '../common/packed-list.ts';
import { countPrimitive } from '../common/op-counts.ts';
import { ATTRIBUTES, GROUP_OF_INDEX } from '../common/attributes.ts';
import { buildLookalike } from './lookalike.ts';
import { seal } from '../crypto/sealed-box.ts';
import { canonicalBytes } from '../crypto/jcs.ts';
import { cryptoUniform, discreteLaplace, shuffleInPlace, sizeClass, type Uniform } from './policy.ts';
import { OprfKey } from '../crypto/oprf.ts';
import { randomElementsInto } from '../crypto/group.ts';
import { ElementTable, hashPositions } from '../crypto/dh-psi.ts';
import type { Universe } from './universe.ts';
import type { SessionKind } from '../common/names.ts';
import { parsePredicateText, type CompiledPredicate } from './predicate.ts';
import { compileMediaPredicate, packedPredicateTest } from './predicate-schemas.ts';
import { PACKED_BYTES } from './universe.ts';

/** The kinds this role runs (the lookup and federated kinds add themselves here). */
export const MEDIA_KINDS: readonly SessionKind[] = ['lookalike', 'profile', 'joint-count', 'retargeting', 'joint-activate', 'lookup'];
import {
  ProtocolError,
  type CohortProfile, type ElementBytes, type LookalikeResult, type PrepareSession, type SessionReady,
} from './messages.ts';

/** The publication media serves: its version and the key pair that decrypts its profiles. */
export interface MediaPublication {
  epoch: string;
  version: string;
  bfv: MediaBfv;
  /** position → universe row (media only): the joint kinds and retargeting read a user's position. */
  order: Uint32Array;
  /**
   * H(version ‖ p) of the given positions (dh-psi.ts hashPositions), precomputed by the node
   * (a file beside the publication, services/media/src/psi-positions.ts), or undefined while
   * that is not ready — the role then hashes its own positions. A slot `users + j` (users =
   * the publication's users) is the input of padding element j: a random group element stored
   * with the hashes, so that padding costs media what a position costs (read, raised to b).
   * Packed: 32 bytes per slot asked, in the order asked.
   */
  positionHashes?: (positions: ArrayLike<number>) => Uint8Array | undefined;
}

/**
 * Purpose-level consent per universe row (data/format.ts): `ads` (ad targeting: audiences,
 * joint counts), `share` (data sharing: labels). 1 = consented. A node without it has no
 * purpose consent at all: no user is ever in an audience.
 */
export interface PurposeConsent {
  ads: Uint8Array;
  share: Uint8Array;
}

export interface MediaParams {
  universe: Universe;
  publication: MediaPublication;
  /** Largest padded size media accepts for one session. */
  maxPaddedCount: number;
  /** Worker threads for OPRF evaluation (1 = inline). */
  threads: number;
  /** Media's own minimum cohort; the stricter of this and the session's policy applies. */
  minCohort?: number;
  /** The label publication media serves beside the tokens (lookup kind), if any. */
  labelsVersion?: string;
  /** Purpose-level consent per universe row (absent: nobody consented to any purpose). */
  purposes?: PurposeConsent;
  /** Discrete Laplace draws for media's own noised counts (tests: seeded). */
  uniform?: Uniform;
}

/** An audience media built: its own users, kept by media, never sent to anyone. */
export interface Audience {
  audienceId: string;
  rows: Uint32Array;
}

/** What a running session holds: its request, evaluations so far, the compiled media predicate, the kind's AGGREGATE state. */
interface Running {
  request: PrepareSession;
  evaluated: number;
  mediaPredicate: CompiledPredicate | undefined;
  /** joint-count: how many positions' indicators are 1 (−1 before they were sent). */
  indicatorsSent: number;
  /** retargeting / joint-activate: the DH-PSI in pages, from the broker's first page on. */
  psi: PsiState | undefined;
}

/**
 * Media's side of the paged DH-PSI (docs/protocol.md §7.4). The stream it receives from the
 * broker (activatePage) is the broker's padded set first — elements [0, P), P the session's
 * padded size — then, page by page, media's offer under both scalars, each page answering the
 * offer page media sent last (psiOfferPage). What it holds, whatever the universe: the offer's
 * order as positions (4 B per offered element, −1 − j for padding element j; never an element of the offer),
 * the broker's set (P elements: while it arrives `pending`, then under b as `brokerSet`) and the
 * audience rows found so far; one offer page exists only while it is computed and sent.
 */
interface PsiState {
  /** Media's fresh scalar b. */
  key: OprfKey;
  /** Per element of the offer, in its (shuffled) order, its position, or −1 − j for padding element j. */
  offered: Int32Array;
  /** The publication's users: padding element j's input is slot users + j of the position hashes. */
  users: number;
  /** The broker's set as received so far (P·32 B), until it is whole. */
  pending: Uint8Array | undefined;
  /** The broker's set under b (H(x)^{ab}), once whole. */
  brokerSet: ElementTable | undefined;
  /** Offer elements sent so far (psiOfferPage). */
  sent: number;
  /** Elements of the broker's stream received so far (its set, then the offer's pages under both scalars). */
  received: number;
  /** Universe rows of the offered positions found in the broker's set so far. */
  rows: number[];
}

/**
 * The most elements one page of the DH-PSI may carry, either way (one Indicators or Activate
 * call: 4 MiB of elements, sent as BlindedBatch chunks of at most 2 MiB): media's offer is
 * ≈ 0.87·U elements, so it and its answer are paged whatever the universe size and no call —
 * nor either party — holds more of it than this.
 */
export const PSI_PAGE_ITEMS = 131_072;
/** Places in a page as psiOfferPage sorts them (slot · PAGE_PLACES + place): a power of two ≥ PSI_PAGE_ITEMS. */
const PAGE_PLACES = 131_072;
if (PAGE_PLACES < PSI_PAGE_ITEMS) throw new Error('PAGE_PLACES must be at least PSI_PAGE_ITEMS');

/** Where the paged reply stands after a page: `result` once the page completing it arrived. */
export interface ActivationProgress {
  received: number;
  expected: number;
  result?: LookalikeResult;
}

/** Each phase carries exactly the state valid in it. */
export type MediaPhase =
  | { name: 'new' }
  | ({ name: 'prepared' } & Running)
  | ({ name: 'evaluating' } & Running)
  | { name: 'done'; audience: Audience | undefined }
  | { name: 'failed'; reason: string };

export class MediaRole {
  private phase_: MediaPhase = { name: 'new' };
  private readonly params: MediaParams;

  constructor(params: MediaParams) {
    this.params = params;
  }

  get phase(): MediaPhase['name'] {
    return this.phase_.name;
  }

  get audience(): Audience | undefined {
    return this.phase_.name === 'done' ? this.phase_.audience : undefined;
  }

  get failure(): string | undefined {
    return this.phase_.name === 'failed' ? this.phase_.reason : undefined;
  }

  /** The session's kind, while it runs. */
  get kind(): SessionKind | undefined {
    return 'request' in this.phase_ ? this.phase_.request.kind : undefined;
  }

  /** The session's policy, while it runs. */
  get policy(): PrepareSession['policy'] | undefined {
    return 'request' in this.phase_ ? this.phase_.request.policy : undefined;
  }

  private expect<N extends MediaPhase['name']>(call: string, ...names: N[]): Extract<MediaPhase, { name: N }> {
    if (!(names as string[]).includes(this.phase_.name)) {
      throw new ProtocolError('FAILED_PRECONDITION', `media: called ${call} in phase '${this.phase_.name}', expected one of: ${names.join(', ')}`);
    }
    return this.phase_ as Extract<MediaPhase, { name: N }>;
  }

  /**
   * Round OPEN: accepts the session on the current publication — or, when the node's own
   * privacy ledger refused it (`budgetRefusal`), answers BUDGET_EXHAUSTED and ends.
   */
  prepare(msg: PrepareSession, budgetRefusal?: string): SessionReady {
    this.expect('prepare', 'new');
    const { universe, publication } = this.params;
    if (!universe.idTypes.includes(msg.idType)) {
      throw new ProtocolError('FAILED_PRECONDITION', `media has no prepared universe for ID type '${msg.idType}'`);
    }
    if (msg.universeVersion !== publication.version) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker holds publication ${msg.universeVersion.slice(0, 12) || '(none)'}, media serves ${publication.version.slice(0, 12)}: resync the universe`);
    }
    if (!Number.isSafeInteger(msg.paddedCount) || msg.paddedCount < 1 || msg.paddedCount > this.params.maxPaddedCount) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `expected padded size in [1, ${this.params.maxPaddedCount}], got ${msg.paddedCount}`);
    }
    if (msg.kind === 'lookup' && (!this.params.labelsVersion || msg.labelsVersion !== this.params.labelsVersion)) {
      throw new ProtocolError('FAILED_PRECONDITION', `lookup: broker holds labels ${msg.labelsVersion?.slice(0, 12) || '(none)'}, media serves ${this.params.labelsVersion?.slice(0, 12) || 'none'}: resync the universe`);
    }
    if (!MEDIA_KINDS.includes(msg.kind)) {
      throw new ProtocolError('FAILED_PRECONDITION', `session kind '${msg.kind}' is not served by this media node (it serves: ${MEDIA_KINDS.join(', ')})`);
    }
    // Media's predicate is validated here, where it is evaluated: an unknown attribute is named.
    const mediaPredicate = msg.mediaPredicate === '' ? undefined : compileMediaPredicate(parsePredicateText(msg.mediaPredicate));
    if (msg.policy.evaluationQuota > msg.paddedCount) {
      throw new ProtocolError('INVALID_ARGUMENT', `evaluation quota ${msg.policy.evaluationQuota} exceeds the padded size ${msg.paddedCount}`);
    }
    const base = { universeEpoch: universe.epoch, universeVersion: publication.version, universeSizeClass: sizeClass(universe.size) };
    if (budgetRefusal !== undefined) {
      this.phase_ = { name: 'done', audience: undefined };
      return { ...base, outcome: 'BUDGET_EXHAUSTED', reason: budgetRefusal };
    }
    this.phase_ = { name: 'prepared', request: msg, evaluated: 0, mediaPredicate, indicatorsSent: -1, psi: undefined };
    return { ...base, outcome: 'COMPLETED', reason: '' };
  }

  /** Round BLIND: evaluates one batch of blinded elements; cumulative quota enforced. */
  async evaluate(batch: PackedList): Promise<PackedList> {
    const p = this.expect('evaluate', 'prepared', 'evaluating');
    try {
      if (batch.width !== ELEMENT_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `expected ${ELEMENT_BYTES}-byte elements, got ${batch.width}-byte ones`);
      validatePacked(batch.bytes);
    } catch (err) {
      if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
      throw err;
    }
    const quota = p.request.policy.evaluationQuota;
    if (p.evaluated + batch.length > quota) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `evaluation quota of ${quota} for this session exceeded (${p.evaluated} done, ${batch.length} more asked)`);
    }
    this.phase_ = { ...p, name: 'evaluating', evaluated: p.evaluated + batch.length };
    try {
      return await evaluatePackedParallel(this.params.universe.key, batch, this.params.threads);
    } catch (err) {
      if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', err.message);
      throw err;
    }
  }

  /**
   * Lookup kind: media's part ends with BLIND — nothing else reaches it. Called on the
   * broker's final checkpoint; refused unless every element of the padded list was evaluated.
   */
  endLookup(): void {
    const p = this.expect('endLookup', 'prepared', 'evaluating');
    if (p.request.kind !== 'lookup') throw new ProtocolError('FAILED_PRECONDITION', `media: endLookup in a '${p.request.kind ?? 'lookalike'}' session`);
    if (p.evaluated !== p.request.paddedCount) throw new ProtocolError('FAILED_PRECONDITION', `expected ${p.request.paddedCount} evaluations before the end of the lookup, got ${p.evaluated}`);
    this.phase_ = { name: 'done', audience: undefined };
  }

  /** The published positions selected in this session (selectedPositions below). */
  private selectedPositions(predicate: CompiledPredicate | undefined): Uint8Array {
    const { universe, publication, purposes } = this.params;
    return selectedPositions(publication.order, purposes, universe.packed, predicate);
  }

  /**
   * Round AGGREGATE (joint-count): one encrypted bit per published position — media's
   * predicate ∧ consent_ads — under the publication's key, once per session, after every
   * evaluation. The broker sums the matched slots under a zero-sum mask (BrokerBfv.sumIndicators).
   * `alloc(bytes)`: where each ciphertext's wire bytes go (MediaBfv.encryptIndicators), e.g. its
   * place in the message that carries it.
   */
  indicators(alloc?: (bytes: number) => Uint8Array): Uint8Array[] {
    const p = this.expect('indicators', 'prepared', 'evaluating');
    if (p.request.kind !== 'joint-count') throw new ProtocolError('FAILED_PRECONDITION', `media: indicators are part of a joint-count session, this one is ${p.request.kind}`);
    if (p.indicatorsSent >= 0) throw new ProtocolError('FAILED_PRECONDITION', 'media: the indicators of this session were sent already');
    if (p.evaluated !== p.request.paddedCount) throw new ProtocolError('FAILED_PRECONDITION', `expected ${p.request.paddedCount} evaluations before the indicators, got ${p.evaluated}`);
    const bits = this.selectedPositions(p.mediaPredicate);
    const out = this.params.publication.bfv.encryptIndicators(bits, alloc);
    let sent = 0;
    for (let i = 0; i < bits.length; i++) sent += bits[i]!;
    p.indicatorsSent = sent;
    return out;
  }

  /**
   * The PSI state, created with the broker's first page: media's fresh scalar b and its offer's
   * order — every published position whose user consented to ad targeting (and satisfies the
   * joint-activate predicate), padded with −1 to the next power of two, shuffled in place. Once
   * per session, after every evaluation of the BLIND round.
   */
  private startPsi(p: Extract<MediaPhase, { name: 'prepared' | 'evaluating' }>): PsiState {
    if (p.request.kind !== 'retargeting' && p.request.kind !== 'joint-activate') {
      throw new ProtocolError('FAILED_PRECONDITION', `media: a PSI set is part of a retargeting or joint-activate session, this one is ${p.request.kind}`);
    }
    if (p.evaluated !== p.request.paddedCount) throw new ProtocolError('FAILED_PRECONDITION', `expected ${p.request.paddedCount} evaluations before the PSI set, got ${p.evaluated}`);
    const bits = this.selectedPositions(p.mediaPredicate);
    let mine = 0;
    for (let pos = 0; pos < bits.length; pos++) mine += bits[pos]!;
    let size = 1;
    while (size < mine) size *= 2;
    const offered = new Int32Array(size);
    for (let pos = 0, k = 0; pos < bits.length; pos++) if (bits[pos] === 1) offered[k++] = pos;
    for (let k = mine; k < size; k++) offered[k] = -1 - (k - mine); // padding element k − mine
    shuffleInPlace(offered, this.params.uniform ?? cryptoUniform);
    const psi: PsiState = { key: OprfKey.generate(), offered, users: bits.length, pending: undefined, brokerSet: undefined, sent: 0, received: 0, rows: [] };
    p.psi = psi;
    return psi;
  }

  /**
   * Round AGGREGATE (retargeting, joint-activate), one page of media's PSI set: elements
   * [offset, offset + maxItems) of the offer — H(position)^b of its offered positions, R_j^b
   * for its padding (R_j: padding input j, stored beside the position hashes) — in the offer's
   * shuffled order. Every element costs the same: one read and one X25519 under b, so the
   * page's time does not tell how much of it is padding. (While the node's position-hash file
   * is not ready, positions are hashed here and padding is drawn at random: not equal work.) Only once the broker's padded set
   * arrived whole, and only the page after the last one the broker answered: media never holds
   * more than one page of its offer, nor does the broker (pages in order, none skipped or asked
   * twice; at most PSI_PAGE_ITEMS).
   */
  async psiOfferPage(offset: number, maxItems: number): Promise<PackedList> {
    const p = this.expect('psiOfferPage', 'prepared', 'evaluating');
    if (p.request.kind !== 'retargeting' && p.request.kind !== 'joint-activate') {
      throw new ProtocolError('FAILED_PRECONDITION', `media: a PSI set is part of a retargeting or joint-activate session, this one is ${p.request.kind}`);
    }
    const psi = p.psi;
    const padded = p.request.paddedCount;
    if (!psi || !psi.brokerSet) throw new ProtocolError('FAILED_PRECONDITION', `media: asked for its PSI set before the broker's padded set arrived whole (${psi?.received ?? 0} of ${padded} elements)`);
    const n = psi.offered.length;
    if (!Number.isSafeInteger(maxItems) || maxItems < 1 || maxItems > PSI_PAGE_ITEMS) throw new ProtocolError('RESOURCE_EXHAUSTED', `PSI set page at element ${offset}: expected 1..${PSI_PAGE_ITEMS} elements asked, got ${maxItems}`);
    if (offset !== psi.sent) throw new ProtocolError('INVALID_ARGUMENT', `PSI set page at element ${offset}: expected the page starting at element ${psi.sent} (pages in order, none skipped or asked twice)`);
    if (psi.sent !== psi.received - padded) throw new ProtocolError('FAILED_PRECONDITION', `PSI set page at element ${offset}: the broker has answered elements up to ${psi.received - padded} of the ${psi.sent} sent (one page at a time)`);
    if (offset >= n) throw new ProtocolError('INVALID_ARGUMENT', `PSI set page at element ${offset}: media's set has ${n} elements`);
    const to = Math.min(n, offset + maxItems);
    // every element's input slot — a position, or users + j for padding element j — in
    // ascending order (the file is read through a window), evaluated under b in one batch and
    // put back in the offer's order. Sorted as slot · 2^17 + place in the page (a page is at
    // most PSI_PAGE_ITEMS ≤ 2^17 elements; slots < 2^32: exact in a double) — one typed-array
    // sort, no object per element.
    const slotOf = (i: number): number => (psi.offered[i]! >= 0 ? psi.offered[i]! : psi.users - 1 - psi.offered[i]!);
    const count = to - offset;
    const keys = new Float64Array(count);
    for (let k = 0; k < count; k++) keys[k] = slotOf(offset + k) * PAGE_PLACES + k;
    keys.sort();
    const slots = new Float64Array(count);
    for (let k = 0; k < count; k++) slots[k] = Math.floor(keys[k]! / PAGE_PLACES);
    const pub = this.params.publication;
    psi.sent = to; // claimed before the first await: a page is produced once
    const out = PackedList.alloc(count, ELEMENT_BYTES);
    const inputs = pub.positionHashes?.(slots);
    if (inputs) {
      const raised = (await evaluatePackedParallel(psi.key, new PackedList(inputs, ELEMENT_BYTES), this.params.threads)).bytes;
      const dst = out.bytes;
      for (let k = 0; k < count; k++) {
        const to32 = (keys[k]! % PAGE_PLACES) * ELEMENT_BYTES;
        const from32 = k * ELEMENT_BYTES;
        for (let b = 0; b < ELEMENT_BYTES; b++) dst[to32 + b] = raised[from32 + b]!;
      }
      return out;
    }
    const all: number[] = [];
    for (let i = offset; i < to; i++) all.push(i);
    const at = all.filter((i) => psi.offered[i]! >= 0);
    const hashed = await evaluatePackedParallel(psi.key, PackedList.from(hashPositions(pub.version, at.map((i) => psi.offered[i]!)), ELEMENT_BYTES), this.params.threads);
    const pads = PackedList.alloc(out.length - at.length, ELEMENT_BYTES);
    randomElementsInto(pads.bytes, 0, pads.length);
    at.forEach((i, k) => out.bytes.set(hashed.at(k), (i - offset) * ELEMENT_BYTES));
    for (let i = offset, k = 0; i < to; i++) if (psi.offered[i]! < 0) out.bytes.set(pads.at(k++), (i - offset) * ELEMENT_BYTES);
    return out;
  }

  /**
   * Round LOOKALIKE (retargeting, joint-activate), one page of the broker's stream: elements
   * [offset, offset + elements.length) of — first — its padded set (H(x)^a of A's matched
   * positions, padded to the session's padded size P, shuffled), then media's offer under both
   * scalars, each page the answer to exactly the offer page media sent last (same order):
   * P + |offer| elements in all. Pages come in order, each starting where the last ended, none
   * empty, larger than PSI_PAGE_ITEMS, straddling the end of the broker's set, answering an
   * offer page not sent or beyond the total; a page that breaks this fails the session with the
   * reason. Each answer page is matched as it arrives: its offered positions whose doubly-keyed
   * element is in the broker's set under b are the audience. The page completing the stream
   * gives the result (complete). The page comes as one list or as its consecutive parts (the
   * batches of one call), read in place (StridedItems: no copy of an answer page).
   */
  async activatePage(offset: number, page: StridedItems | readonly StridedItems[]): Promise<ActivationProgress> {
    const p = this.expect('activatePage', 'prepared', 'evaluating');
    const parts: readonly StridedItems[] = Array.isArray(page) ? page : [page as StridedItems];
    let count = 0;
    for (const part of parts) count += part.length;
    const elements = { length: count };
    const psi = p.psi ?? (offset === 0 && elements.length > 0 && elements.length <= PSI_PAGE_ITEMS ? this.startPsi(p) : undefined);
    const received = psi?.received ?? 0;
    const padded = p.request.paddedCount;
    const expected = psi ? padded + psi.offered.length : undefined;
    const where = `PSI reply page at element ${offset}`;
    if (offset < received) throw new ProtocolError('INVALID_ARGUMENT', `${where}: elements up to ${received} were received already (a replayed page)`);
    if (offset > received) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected the page starting at element ${received} (pages in order, none skipped)`);
    if (elements.length === 0) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected 1..${PSI_PAGE_ITEMS} elements, got none`);
    if (elements.length > PSI_PAGE_ITEMS) throw new ProtocolError('RESOURCE_EXHAUSTED', `${where}: expected at most ${PSI_PAGE_ITEMS} elements, got ${elements.length}`);
    if (!psi || expected === undefined) throw new ProtocolError('FAILED_PRECONDITION', 'media: called activatePage before the PSI started');
    const end = received + elements.length;
    if (end > expected) {
      throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected ${expected} elements in all (the padded size ${padded}, then media's set of ${psi.offered.length}), this page ends at ${end}`);
    }
    if (received < padded && end > padded) throw new ProtocolError('INVALID_ARGUMENT', `${where}: the broker's padded set ends at element ${padded}, this page ends at ${end} (a page is part of the broker's set or the answer to one page of media's set)`);
    if (received >= padded && end !== padded + psi.sent) {
      throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected the answer to media's set up to element ${psi.sent} (the page it sent last), this page ends at element ${end - padded} of it`);
    }
    for (const part of parts) if (part.width !== ELEMENT_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected ${ELEMENT_BYTES}-byte elements, got ${part.width}-byte ones`);
    try {
      let first = 0;
      for (const part of parts) {
        validateStrided(part.bytes, part.start, part.stride, part.length, first);
        first += part.length;
      }
    } catch (err) {
      if (err instanceof InvalidElementError) throw new ProtocolError('INVALID_ARGUMENT', `${where}: ${err.message}`);
      throw err;
    }
    psi.received = end;
    if (received < padded) {
      // the broker's padded set: kept packed until whole, then under b in a table (P elements)
      const pending = psi.pending ?? new Uint8Array(padded * ELEMENT_BYTES);
      let at = received * ELEMENT_BYTES;
      for (const part of parts) {
        for (let k = 0; k < part.length; k++, at += ELEMENT_BYTES) copyBytes(pending, at, part.bytes, part.start + k * part.stride, ELEMENT_BYTES);
      }
      psi.pending = pending;
      if (end === padded) {
        psi.pending = undefined;
        psi.brokerSet = ElementTable.fromPacked(await evaluatePackedParallel(psi.key, new PackedList(pending, ELEMENT_BYTES), this.params.threads));
      }
    } else {
      const { brokerSet, offered, rows } = psi;
      if (!brokerSet) throw new ProtocolError('FAILED_PRECONDITION', 'media: an answer to its PSI set before the broker\'s padded set');
      const { order } = this.params.publication;
      const first = received - padded;
      let i = first;
      for (const part of parts) {
        const { bytes, start, stride } = part;
        for (let k = 0; k < part.length; k++, i++) {
          const pos = offered[i]!;
          if (pos >= 0 && brokerSet.has(bytes, start + k * stride)) rows.push(order[pos]!);
        }
      }
      countPrimitive('psiLookup', elements.length - countPadding(offered, first, first + elements.length));
    }
    if (end < expected) return { received: end, expected };
    return { received: end, expected, result: this.complete(p, psi.rows) };
  }

  /**
   * The audience once the broker's stream is whole: exactly the offered positions in the
   * broker's set — A's matched users who consented to ad targeting (and satisfy media's
   * predicate). Below the minimum (compared with a noisy size) nothing is created; A gets the
   * handle and the noised size.
   */
  private complete(p: Extract<MediaPhase, { name: 'prepared' | 'evaluating' }>, rows: readonly number[]): LookalikeResult {
    const noiseOff = p.request.policy.noiseScale === 0;
    const noisy = noiseOff ? rows.length : Math.max(0, rows.length + discreteLaplace(1 / p.request.policy.epsilonCount, this.params.uniform ?? cryptoUniform));
    if (noisy < Math.max(p.request.policy.minCohort, this.params.minCohort ?? 0)) {
      this.phase_ = { name: 'done', audience: undefined };
      return { outcome: 'COHORT_TOO_SMALL', audienceId: '', audienceSize: 0, quality: 0, sealedInsight: new Uint8Array(0) };
    }
    const audience = { audienceId: `aud_${randomUUID()}`, rows: Uint32Array.from(rows) };
    this.phase_ = { name: 'done', audience };
    return { outcome: 'COMPLETED', audienceId: audience.audienceId, audienceSize: noisy, quality: 0, sealedInsight: new Uint8Array(0) };
  }

  /** Round AGGREGATE → LOOKALIKE: decrypts the profile and builds the audience. */
  lookalike(msg: CohortProfile): LookalikeResult {
    const p = this.expect('lookalike', 'prepared', 'evaluating');
    if (p.request.kind === 'lookup') throw new ProtocolError('FAILED_PRECONDITION', 'media: a lookup session has no cohort profile');
    if (p.request.kind === 'joint-count' && msg.outcome !== 'COHORT_TOO_SMALL') return this.jointCount(p, msg);
    const empty: LookalikeResult = {
      outcome: 'COHORT_TOO_SMALL', audienceId: '', audienceSize: 0, quality: 0, sealedInsight: new Uint8Array(0),
    };
    if (msg.outcome === 'COHORT_TOO_SMALL') {
      this.phase_ = { name: 'done', audience: undefined };
      return empty;
    }
    if (p.evaluated !== p.request.paddedCount) {
      throw new ProtocolError('FAILED_PRECONDITION', `expected ${p.request.paddedCount} evaluations before the profile, got ${p.evaluated}`);
    }
    let decrypted: { totals: number[]; consistent: boolean };
    try {
      decrypted = this.params.publication.bfv.decryptProfile(msg.profile);
    } catch (err) {
      if (err instanceof BfvFormatError) throw new ProtocolError('INVALID_ARGUMENT', `cohort profile: ${err.message}`);
      throw err;
    }
    if (!decrypted.consistent) {
      throw new ProtocolError('INVALID_ARGUMENT', 'cohort profile is not an aggregate: its blocks differ (per-user values would be exposed); refused');
    }
    const { totals } = decrypted;
    // Every user has exactly one value in each single-valued group: the first group's
    // totals sum to the (noised) cohort size.
    const firstGroup = GROUP_OF_INDEX[0];
    const cohortSize = totals.reduce((a, t, j) => (GROUP_OF_INDEX[j] === firstGroup ? a + t : a), 0);
    if (cohortSize < Math.max(p.request.policy.minCohort, this.params.minCohort ?? 0)) {
      this.phase_ = { name: 'done', audience: undefined };
      return empty;
    }
    const u = this.params.universe;
    const insight = (shares: readonly number[]) => seal(canonicalBytes({
      cohortSize,
      totals: ATTRIBUTES.map((a, j) => ({
        name: a.name, total: totals[j]!, share: round6(shares[j]!), universeShare: round6(u.shares[j]!),
      })),
    }), p.request.resultKey);
    if (p.request.kind === 'profile') {
      // The second-party profile of A's selected cohort: the insight alone, no audience.
      this.phase_ = { name: 'done', audience: undefined };
      return { outcome: 'COMPLETED', audienceId: '', audienceSize: 0, quality: 0, sealedInsight: insight(totals.map((t) => Math.max(0, t) / Math.max(1, cohortSize))) };
    }
    const built = buildLookalike({
      totals, cohortSize, universeShares: u.shares, packed: u.packed, users: u.size,
      exclude: new Set(), audienceSize: msg.audienceSize,
    });
    const audience = { audienceId: `aud_${randomUUID()}`, rows: built.rows };
    this.phase_ = { name: 'done', audience };
    return {
      outcome: 'COMPLETED',
      audienceId: audience.audienceId,
      audienceSize: built.rows.length,
      quality: built.quality,
      sealedInsight: insight(built.shares),
    };
  }

  /**
   * joint-count, LOOKALIKE: decrypts the broker's masked sum — the only readable value is the
   * sum of all slots, |A's matches ∧ predicate ∧ consent_ads| + the broker's noise — and
   * seals it to A with media's own noised count of the predicate over its whole universe.
   */
  private jointCount(p: Extract<MediaPhase, { name: 'prepared' | 'evaluating' }>, msg: CohortProfile): LookalikeResult {
    if (p.indicatorsSent < 0) throw new ProtocolError('FAILED_PRECONDITION', 'media: a joint count before the indicators were sent');
    let joint: number;
    try {
      joint = this.params.publication.bfv.decryptSlotSum(msg.profile);
    } catch (err) {
      if (err instanceof BfvFormatError) throw new ProtocolError('INVALID_ARGUMENT', `joint count: ${err.message}`);
      throw err;
    }
    const noise = p.request.policy.noiseScale === 0 ? 0 : discreteLaplace(1 / p.request.policy.epsilonCount, this.params.uniform ?? cryptoUniform);
    const mediaOnly = Math.max(0, p.indicatorsSent + noise);
    this.phase_ = { name: 'done', audience: undefined };
    return {
      outcome: 'COMPLETED', audienceId: '', audienceSize: 0, quality: 0,
      sealedInsight: seal(canonicalBytes({ joint: Math.max(0, joint), mediaOnly }), p.request.resultKey),
    };
  }

  fail(reason: string): void {
    this.phase_ = { name: 'failed', reason };
  }
}

/**
 * The published positions (position p holds user order[p]) whose user consented to ad targeting
 * (`purposes.ads[row] === 1`) and satisfies `predicate`, if any: 1 byte per position; none
 * without consent data. Evaluated by media only; never sent in clear. Row by row first (the
 * packed vectors and the consent bytes read front to back; the predicate's verdict memoised on
 * the attribute bits it reads, packedPredicateTest), then gathered into position order: one
 * random read per position in a byte per user, instead of two cache misses per position (its
 * user's consent byte and packed vector, in the publication's random order) — about half the
 * CPU at 10^6 users (`node bench/selection-steps.ts`).
 */
export function selectedPositions(order: Uint32Array, purposes: PurposeConsent | undefined, packed: Uint8Array, predicate: CompiledPredicate | undefined): Uint8Array {
  const bits = new Uint8Array(order.length);
  if (!purposes) return bits;
  const { ads } = purposes;
  let byRow = ads;
  if (predicate) {
    const test = packedPredicateTest(predicate);
    byRow = new Uint8Array(Math.min(ads.length, Math.floor(packed.length / PACKED_BYTES)));
    for (let row = 0; row < byRow.length; row++) if (ads[row] === 1 && test(packed, row * PACKED_BYTES)) byRow[row] = 1;
  }
  for (let pos = 0; pos < order.length; pos++) bits[pos] = byRow[order[pos]!] === 1 ? 1 : 0;
  return bits;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** How many of `offered[from, to)` are padding (−1): elements media never looks up. */
function countPadding(offered: Int32Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (offered[i]! < 0) n++;
  return n;
}
