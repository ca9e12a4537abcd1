/**
 * Broker (C) protocol role: one state machine, no network, no filesystem.
 *
 * Flow (docs/protocol.md):
 *   new ─open(OpenSession)─▶ opened ─ready(SessionReady)─▶ ready ─pad(A's blinded)─▶ padded
 *   ─unpad(media's evaluations)─▶ evaluated ─match(A's tokens)─▶ matched | too-small
 *   ─aggregate()─▶ aggregated ─finish(LookalikeResult)─▶ done      (fail() ▶ failed)
 *
 * - open: settles the policy (never weaker than asked), picks the padded size bucket.
 * - pad: adds paddedCount − seedCount dummy elements (uniform group elements, exactly as
 *   distributed as blinded real IDs) and shuffles; media evaluates all of them and cannot
 *   tell which are A's, nor how many there are. The permutation stays here.
 * - unpad: drops the dummies' evaluations, returns A's in A's order.
 * - match: looks A's tokens up in media's published token table: the positions of A's real
 *   matches. The minimum cohort is compared with a NOISY count (protocol/privacy.ts), and
 *   a cohort too close to one released before to the same advertiser is refused (the
 *   differencing rule, noisy too). Either way nothing more happens.
 * - aggregate: masks and sums the ciphertexts of those positions in media's published
 *   encrypted universe (held here), rotates so every block holds the totals, adds the
 *   policy's noise, re-randomises — never decrypts. Media receives only this one
 *   ciphertext: no list of users, real or decoy, ever reaches media.
 * - retargeting / joint-activate, instead of aggregate: psiPadded (A's matches under the
 *   broker's fresh scalar, padded, shuffled: sent to media first), then psiReplyPage for each
 *   page of media's DH-PSI set, answered and dropped — nothing of media's set is kept.
 *
 * What C learns: set sizes (seed count, padded size, universe size), the number of real
 * matches, which published positions matched (pseudonymous). Never a plaintext ID,
 * attribute value or the decrypted profile.
 */
import type { LabelBoxes } from './label-publication.ts';
import { BfvFormatError, type BrokerBfv } from '../crypto/bfv.ts';
import type { SessionKind } from '../common/names.ts';
import { checkElement } from './padding.ts';
import { drawSomeDummies, padStep, readyPhase, unpadStep, type PaddingPhase, type Settled } from './broker-padding.ts';
import { ELEMENT_BYTES, randomElementsInto } from '../crypto/group.ts';
import { PackedList, type ItemSource } from '../common/packed-list.ts';
import { PSI_PAGE_ITEMS } from './media.ts';
import { TOKEN_BYTES, type TokenTable } from '../common/token-set.ts';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import {
  cryptoBelow, cryptoUniform, discreteLaplace, settlePolicy, sizeClass,
  type BrokerPolicyConfig, type Uniform,
} from './policy.ts';
import { cohortSketch, differencingCheck, noisyCount, sessionCharge, symmetricDifference } from './privacy.ts';
import { hashPositions } from '../crypto/dh-psi.ts';
import { OprfKey } from '../crypto/oprf.ts';
import { evaluateBatchParallel, evaluatePackedParallel } from '../crypto/oprf-pool.ts';
import type { CiphertextSource } from './publication.ts';
import {
  ProtocolError,
  type CohortProfile, type ElementBytes, type IdType, type LookalikeResult, type OpenSession,
  type Policy, type PrepareSession, type PrivacyStatus, type SessionAccepted, type SessionReady, type SessionResult, type TokenBytes,
} from './messages.ts';

/**
 * Media's publication as the broker holds it: tokens → positions, public keys, and the
 * encrypted attributes in the broker's stored form (BrokerBfv.toStoredForm).
 */
/**
 * One ID type's published tokens, as the broker matches against them: token → the position of
 * its user in the publication. In memory (tokenPositionsInMemory) or a sorted table on disk
 * bucketed by token prefix (services/broker/src/universe-store.ts).
 */
export interface TokenPositions {
  readonly size: number;
  /** The position of `token`'s user, or -1. */
  positionOf(token: Uint8Array): number;
  /** `token`'s row in the publication's token order (the label boxes' order), or -1. */
  rowOf(token: Uint8Array): number;
}

export function tokenPositionsInMemory(table: TokenTable, positions: Uint32Array): TokenPositions {
  if (positions.length !== table.size) throw new RangeError(`expected ${table.size} positions, got ${positions.length}`);
  return {
    size: table.size,
    positionOf(token) {
      const r = table.lookup(token);
      return r < 0 ? -1 : positions[r]!;
    },
    rowOf(token) {
      return table.lookup(token);
    },
  };
}

export interface BrokerUniverse {
  epoch: string;
  version: string;
  users: number;
  tables: ReadonlyMap<IdType, TokenPositions>;
  ciphertexts: CiphertextSource;
  bfv: BrokerBfv;
  /** Media's label publication beside the tokens (lookup kind), when it publishes one. */
  labels?: { version: string; publicationVersion: string; boxes: ReadonlyMap<IdType, LabelBoxes> };
}

/** The kinds this role runs (the lookup and federated kinds add themselves here). */
export const BROKER_KINDS: readonly SessionKind[] = ['lookalike', 'profile', 'joint-count', 'retargeting', 'joint-activate'];

export interface BrokerParams {
  config: BrokerPolicyConfig;
  universe: BrokerUniverse;
  /** The advertiser's key id (ledger, quotas and media's own accounting count per advertiser). */
  advertiser: string;
  uniform?: Uniform;
  rng?: (n: number) => Uint8Array;
  /** Worker threads of the DH-PSI exponentiations (retargeting, joint-activate); default DEFAULT_PSI_THREADS. */
  threads?: number;
}

/** The DH-PSI's worker threads when BrokerParams.threads is not given (at least 2: off the calling thread). */
export const DEFAULT_PSI_THREADS = 2;

export interface MatchCounts {
  seedCount: number;
  paddedCount: number;
  /** Exact: the broker's own knowledge, never released. */
  realMatches: number;
  /** What the threshold compares and the advertiser receives. */
  noisyMatches: number;
}

/** What the session ran, for the privacy charge. */
export interface Ran {
  differencingChecked: boolean;
  profileReleased: boolean;
}

export type MatchOutcome = 'release' | 'too-small' | 'differencing-refused';

/**
 * The broker's side of the paged DH-PSI once its padded set is out (retargeting,
 * joint-activate): its fresh scalar a and how many elements of media's set it has answered.
 * Nothing of media's set is kept: each page is answered and dropped (psiReplyPage).
 */
export interface PsiReplying {
  key: OprfKey;
  answered: number;
}

/** Each phase carries exactly the state valid in it (opened … evaluated: broker-padding.ts). */
export type BrokerPhase =
  | { name: 'new' }
  | PaddingPhase
  | ({ name: 'matched'; counts: MatchCounts; positions: number[]; sketch: Uint8Array; ran: Ran } & Settled)
  | ({ name: 'refused'; outcome: 'COHORT_TOO_SMALL' | 'DIFFERENCING_REFUSED'; counts: MatchCounts; ran: Ran } & Settled)
  | ({ name: 'aggregated'; counts: MatchCounts; sketch: Uint8Array; ran: Ran; psi: PsiReplying | undefined } & Settled)
  | { name: 'done'; counts: MatchCounts; ran: Ran }
  | { name: 'failed'; reason: string };

export class BrokerRole {
  private phase_: BrokerPhase = { name: 'new' };
  private readonly params: BrokerParams;
  private readonly u: Uniform;

  constructor(params: BrokerParams) {
    this.params = params;
    this.u = params.uniform ?? cryptoUniform;
  }

  get phase(): BrokerPhase['name'] {
    return this.phase_.name;
  }

  get policy(): Policy | undefined {
    return 'policy' in this.phase_ ? this.phase_.policy : undefined;
  }

  get paddedCount(): number {
    return 'paddedCount' in this.phase_ ? this.phase_.paddedCount : 0;
  }

  get counts(): MatchCounts | undefined {
    return 'counts' in this.phase_ ? this.phase_.counts : undefined;
  }

  get failure(): string | undefined {
    return this.phase_.name === 'failed' ? this.phase_.reason : undefined;
  }

  /** The ε this session is charged for what it ran so far (the count check always ran once matched). */
  get charge(): number | undefined {
    return 'ran' in this.phase_ ? sessionCharge(this.params.config.privacy, this.phase_.ran) : undefined;
  }

  /** The released cohort's sketch (for the differencing history), once the profile is aggregated. */
  get releasedSketch(): Uint8Array | undefined {
    return this.phase_.name === 'aggregated' ? this.phase_.sketch : undefined;
  }

  private get noiseOff(): boolean {
    return this.params.config.noiseScale === 0;
  }

  private expect<N extends BrokerPhase['name']>(call: string, ...names: N[]): Extract<BrokerPhase, { name: N }> {
    if (!(names as string[]).includes(this.phase_.name)) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker: called ${call} in phase '${this.phase_.name}', expected one of: ${names.join(', ')}`);
    }
    return this.phase_ as Extract<BrokerPhase, { name: N }>;
  }

  /** Round OPEN (from A): settles policy and padded size; returns what media is told. */
  open(msg: OpenSession): PrepareSession {
    this.expect('open', 'new');
    if (!Number.isSafeInteger(msg.seedCount) || msg.seedCount < 1) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected seedCount ≥ 1, got ${msg.seedCount}`);
    }
    if (!Number.isSafeInteger(msg.audienceSize) || msg.audienceSize < 1) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected audienceSize ≥ 1, got ${msg.audienceSize}`);
    }
    if (!BROKER_KINDS.includes(msg.kind)) {
      throw new ProtocolError('FAILED_PRECONDITION', `session kind '${msg.kind}' is not served by this broker (it serves: ${BROKER_KINDS.join(', ')})`);
    }
    const joint = msg.kind === 'joint-count' || msg.kind === 'joint-activate';
    if (joint && msg.mediaPredicate === '') throw new ProtocolError('INVALID_ARGUMENT', `a ${msg.kind} session needs a media predicate, got none`);
    if (!joint && msg.mediaPredicate !== '') throw new ProtocolError('INVALID_ARGUMENT', `a ${msg.kind} session takes no media predicate, got one`);
    if (!this.params.universe.tables.has(msg.idType)) {
      throw new ProtocolError('FAILED_PRECONDITION', `media's published universe has no '${msg.idType}' tokens (it has: ${[...this.params.universe.tables.keys()].join(', ') || 'none'})`);
    }
    const { policy, paddedCount } = settlePolicy(msg, this.params.config);
    this.phase_ = { name: 'opened', open: msg, policy, paddedCount };
    return {
      idType: msg.idType, paddedCount, audienceSize: msg.audienceSize, policy, resultKey: msg.resultKey,
      universeVersion: this.params.universe.version, advertiser: this.params.advertiser,
      kind: msg.kind, mediaPredicate: msg.mediaPredicate,
    };
  }

  /**
   * Round OPEN (from media): media accepts on the publication the broker holds — what A is
   * told, with the broker's ledger status — or refuses on its own budget: then A gets the
   * refusal as its SessionResult and the session ends.
   */
  ready(msg: SessionReady, privacy: PrivacyStatus): SessionAccepted | SessionResult {
    const p = this.expect('ready', 'opened');
    const u = this.params.universe;
    if (msg.outcome === 'BUDGET_EXHAUSTED') {
      this.phase_ = { name: 'failed', reason: `media refused: ${msg.reason}` };
      return { outcome: 'BUDGET_EXHAUSTED', reason: `media's privacy budget: ${msg.reason}`, paddedCount: 0, realMatches: 0, lookalike: undefined, privacy };
    }
    if (msg.outcome !== 'COMPLETED') throw new ProtocolError('INVALID_ARGUMENT', `expected media to accept (COMPLETED) or refuse on budget, got ${msg.outcome}`);
    if (msg.universeVersion !== u.version || msg.universeEpoch !== u.epoch) {
      throw new ProtocolError('FAILED_PRECONDITION', `media serves publication ${msg.universeVersion.slice(0, 12)} (epoch '${msg.universeEpoch}'), broker holds ${u.version.slice(0, 12)} (epoch '${u.epoch}'): resync the universe`);
    }
    this.phase_ = readyPhase(p);
    return { policy: p.policy, paddedCount: p.paddedCount, universeSizeClass: sizeClass(u.users), universeEpoch: u.epoch, privacy };
  }

  /**
   * Draws the paddedCount − seedCount dummy elements ahead of time; the node calls this
   * right after OPEN so the work overlaps with the advertiser's blinding. Optional: pad()
   * draws whatever is missing.
   */
  prepareDummies(max = Infinity): boolean {
    return this.phase_.name !== 'ready' || drawSomeDummies(this.phase_, max, this.params.rng);
  }

  /** Round BLIND (from A): checks the count, pads with dummies, shuffles. */
  pad(blinded: readonly ElementBytes[]): PackedList {
    const { padded, next } = padStep(this.expect('pad', 'ready'), blinded, this.u, this.params.rng);
    this.phase_ = next;
    return padded;
  }

  /** Round BLIND (from media): media's evaluations of the padded list → A's, in A's order (packed). */
  unpad(evaluated: ItemSource): PackedList {
    const { own, next } = unpadStep(this.expect('unpad', 'padded'), evaluated);
    this.phase_ = next;
    return own;
  }

  /**
   * Round TOKENS (from A): finds A's real matches in the published token table, compares
   * the noisy count with the minimum cohort and the cohort with `released` (sketches of the
   * cohorts released before to this advertiser under this epoch).
   */
  match(tokens: readonly TokenBytes[], released: readonly Uint8Array[], confirms?: Uint8Array): MatchOutcome {
    const p = this.expect('match', 'evaluated');
    const n = p.open.seedCount;
    if (tokens.length !== n) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected ${n} tokens, got ${tokens.length}`);
    }
    const table = this.params.universe.tables.get(p.open.idType);
    if (!table) throw new ProtocolError('FAILED_PRECONDITION', `media's published universe has no '${p.open.idType}' tokens`);
    const real = new Set<number>();
    const realTokens: TokenBytes[] = [];
    tokens.forEach((t, i) => {
      if (t.length !== TOKEN_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `token ${i}: expected ${TOKEN_BYTES} bytes, got ${t.length}`);
      const position = table.positionOf(t);
      if (position >= 0 && !real.has(position)) {
        real.add(position);
        realTokens.push(t);
      }
    });
    const privacy = this.params.config.privacy;
    const noisy = this.noiseOff ? real.size : noisyCount(real.size, privacy, this.u);
    const counts: MatchCounts = { seedCount: n, paddedCount: p.paddedCount, realMatches: real.size, noisyMatches: noisy };
    const ran: Ran = { differencingChecked: false, profileReleased: false };
    if (noisy < p.policy.minCohort) {
      this.phase_ = { ...p, name: 'refused', outcome: 'COHORT_TOO_SMALL', counts, ran };
      return 'too-small';
    }
    const sketch = cohortSketch(realTokens);
    if (p.open.kind === 'joint-activate') {
      // An activation confirms a count: the same cohort exactly (it is not a new cohort, so the
      // differencing rule, which would refuse an identical repeat, does not apply).
      if (!confirms || symmetricDifference(sketch, confirms) !== 0) {
        throw new ProtocolError('FAILED_PRECONDITION', 'the activation\'s matched cohort differs from the joint-count session it confirms (A\'s data changed?): count again');
      }
      this.phase_ = { ...p, name: 'matched', counts, positions: [...real], sketch, ran };
      return 'release';
    }
    const diff = differencingCheck(sketch, released, this.noiseOff ? { ...privacy, epsilonDifferencing: Infinity } : privacy, this.u);
    ran.differencingChecked = diff.checked;
    if (diff.refused) {
      this.phase_ = { ...p, name: 'refused', outcome: 'DIFFERENCING_REFUSED', counts, ran };
      return 'differencing-refused';
    }
    this.phase_ = { ...p, name: 'matched', counts, positions: [...real], sketch, ran };
    return 'release';
  }

  /** Round AGGREGATE: the encrypted cohort profile over A's real matches, from the published ciphertexts. */
  aggregate(): CohortProfile {
    const p = this.expect('aggregate', 'matched');
    const u = this.params.universe;
    const noise = Array.from({ length: ATTRIBUTE_COUNT }, () => discreteLaplace(p.policy.noiseScale, this.u));
    const profile = u.bfv.aggregateStored(u.ciphertexts, u.ciphertexts.count, p.positions, noise);
    const { positions: _p, ...rest } = p;
    this.phase_ = { ...rest, name: 'aggregated', ran: { ...p.ran, profileReleased: true }, psi: undefined };
    return { outcome: 'COMPLETED', profile, audienceSize: p.open.audienceSize };
  }

  /**
   * Round AGGREGATE (joint-count): the masked sum of media's indicator ciphertexts over A's
   * real matches, + discrete Laplace noise of scale 1/ε_profile (a count: sensitivity 1).
   * Media decrypts only the total; the broker never learns it (docs/protocol.md, joint-count).
   */
  jointSum(indicators: readonly Uint8Array[]): CohortProfile {
    const p = this.expect('jointSum', 'matched');
    if (p.open.kind !== 'joint-count') throw new ProtocolError('FAILED_PRECONDITION', `broker: a joint sum is part of a joint-count session, this one is ${p.open.kind}`);
    const u = this.params.universe;
    const want = Math.ceil(u.users / u.bfv.layout.slots);
    if (indicators.length !== want) throw new ProtocolError('INVALID_ARGUMENT', `expected ${want} indicator ciphertexts (one bit per published position), got ${indicators.length}`);
    const noise = this.noiseOff ? 0 : discreteLaplace(1 / this.params.config.privacy.epsilonProfile, this.u);
    let profile: Uint8Array;
    try {
      profile = u.bfv.sumIndicators(indicators, p.positions, noise, cryptoBelow);
    } catch (err) {
      if (err instanceof BfvFormatError) throw new ProtocolError('INVALID_ARGUMENT', `indicator ciphertexts: ${err.message}`);
      throw err;
    }
    const { positions: _p, ...rest } = p;
    this.phase_ = { ...rest, name: 'aggregated', ran: { ...p.ran, profileReleased: true }, psi: undefined };
    return { outcome: 'COMPLETED', profile, audienceSize: 0 };
  }

  /**
   * Round AGGREGATE (retargeting, joint-activate), the DH-PSI's first part: the broker's padded
   * set — H(position)^a of A's real matches under its fresh scalar a, padded with random
   * elements to the session's padded size, shuffled — sent to media before media's own set, so
   * that media matches each answer page as it arrives (docs/protocol.md §7.4). One buffer of
   * paddedCount elements: bounded by the session policy, not the universe. Media learns exactly
   * which of its offered positions A matched; never A's other matches, nor their count.
   */
  async psiPadded(): Promise<PackedList> {
    const p = this.expect('psiPadded', 'matched');
    if (p.open.kind !== 'retargeting' && p.open.kind !== 'joint-activate') throw new ProtocolError('FAILED_PRECONDITION', `broker: a PSI reply is part of a retargeting or joint-activate session, this one is ${p.open.kind}`);
    const u = this.params.universe;
    const key = OprfKey.generate(this.params.rng);
    const { positions, ...rest } = p;
    // claimed before the first await: one padded set per session
    this.phase_ = { ...rest, name: 'aggregated', ran: { ...p.ran, profileReleased: true }, psi: { key, answered: 0 } };
    // On the worker pool, never on the calling thread (as every page of media's set: a node
    // whose event loop stops for long misses its peers' keepalive pings, docs/protocol.md §7.6).
    const threads = this.params.threads ?? DEFAULT_PSI_THREADS;
    const mine = await evaluatePackedParallel(key, PackedList.from(hashPositions(u.version, positions), ELEMENT_BYTES), threads, 'own');
    const padded = PackedList.alloc(p.paddedCount, ELEMENT_BYTES);
    padded.bytes.set(mine.bytes, 0);
    randomElementsInto(padded.bytes, mine.length, p.paddedCount - mine.length, this.params.rng);
    shufflePacked(padded, this.u);
    return padded;
  }

  /**
   * Round AGGREGATE (retargeting, joint-activate), one page of media's PSI set answered: the
   * page under a, same order. Pages come in order from element 0 (`offset` = the elements
   * answered so far), each 1..`maxItems` elements (at most PSI_PAGE_ITEMS), media's set at most
   * 2·U elements in all (its published users, padded to a power of two); every element is
   * validated before a scalar touches it. The page is not kept.
   */
  async psiReplyPage(offset: number, page: PackedList, maxItems = PSI_PAGE_ITEMS): Promise<PackedList> {
    const p = this.expect('psiReplyPage', 'aggregated');
    const psi = p.psi;
    if (!psi) throw new ProtocolError('FAILED_PRECONDITION', 'broker: called psiReplyPage before its padded set was made (psiPadded)');
    const limit = 2 * this.params.universe.users;
    const where = `media's PSI set page at element ${offset}`;
    if (offset !== psi.answered) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected the page starting at element ${psi.answered} (pages in order, none skipped or sent twice)`);
    if (page.length === 0) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected 1..${Math.min(maxItems, PSI_PAGE_ITEMS)} elements, got none`);
    if (page.length > Math.min(maxItems, PSI_PAGE_ITEMS)) throw new ProtocolError('RESOURCE_EXHAUSTED', `${where}: expected at most ${Math.min(maxItems, PSI_PAGE_ITEMS)} elements, got ${page.length}`);
    if (offset + page.length > limit) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected media's PSI set of 1..${limit} elements (its published users, padded), this page ends at ${offset + page.length}`);
    if (page.width !== ELEMENT_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected ${ELEMENT_BYTES}-byte elements, got ${page.width}-byte ones`);
    for (let i = 0; i < page.length; i++) checkElement(page.at(i), offset + i);
    psi.answered = offset + page.length; // claimed before the await: a page is answered once
    return evaluatePackedParallel(psi.key, page, this.params.threads ?? DEFAULT_PSI_THREADS, 'own');
  }

  /** The session's kind, once opened. */
  get kind(): SessionKind | undefined {
    return 'open' in this.phase_ ? this.phase_.open.kind : undefined;
  }

  /** Round AGGREGATE when the cohort was refused: media is told, nothing is released. */
  refusedProfile(): CohortProfile {
    this.expect('refusedProfile', 'refused');
    // Media learns only that nothing is released, not why: COHORT_TOO_SMALL either way.
    return { outcome: 'COHORT_TOO_SMALL', profile: new Uint8Array(0), audienceSize: 0 };
  }

  /**
   * Round LOOKALIKE: the result A receives. A refusal carries nothing but its reason: no
   * counts dressed as results. `privacy` is the broker's ledger after settling this session.
   */
  finish(lookalike: LookalikeResult | undefined, privacy: PrivacyStatus): SessionResult {
    const p = this.expect('finish', 'aggregated', 'refused');
    const c = p.counts;
    this.phase_ = { name: 'done', counts: c, ran: p.ran };
    const refused = (outcome: 'COHORT_TOO_SMALL' | 'DIFFERENCING_REFUSED'): SessionResult => ({
      outcome,
      reason: outcome === 'COHORT_TOO_SMALL'
        ? `cohort too small: below the minimum of ${p.policy.minCohort} real matches (compared with a noisy count); nothing was released`
        : `refused: this cohort is too close to one released before to this advertiser under this epoch (differencing rule, minimum ${p.policy.differencingMin}); nothing was released`,
      paddedCount: c.paddedCount,
      realMatches: 0,
      lookalike: undefined,
      privacy,
    });
    if (p.name === 'refused') return refused(p.outcome);
    if (!lookalike || lookalike.outcome === 'COHORT_TOO_SMALL') return refused('COHORT_TOO_SMALL');
    return { outcome: lookalike.outcome, reason: '', paddedCount: c.paddedCount, realMatches: c.noisyMatches, lookalike, privacy };
  }

  fail(reason: string): void {
    this.phase_ = { name: 'failed', reason };
  }
}

/** Fisher–Yates shuffle of a packed list's items in place (one item-sized buffer for the swaps). */
function shufflePacked(list: PackedList, u: Uniform): void {
  const w = list.width;
  const b = list.bytes;
  const tmp = new Uint8Array(w);
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    if (j === i) continue;
    tmp.set(b.subarray(i * w, (i + 1) * w));
    b.copyWithin(i * w, j * w, (j + 1) * w);
    b.set(tmp, j * w);
  }
}
