/**
 * The lookup kind (应用四 member data delivery, 应用五 leads scoring): the advertiser (A)
 * sends IDs and receives, for each of its own IDs that is a media user who consented to
 * data sharing, media's label; nothing for the others. Two state machines, no network.
 *
 * Flow (docs/protocol.md §8):
 *   OPEN    A → C OpenSession(kind lookup, n); C checks the minimum batch and the quotas,
 *           C → B PrepareSession(kind lookup, P, publication and label versions); B → C SessionReady
 *   BLIND   exactly as in the look-alike session (padding.ts): media evaluates P elements;
 *           A blinds (and later unblinds) in slices with the shell AdvertiserRole runs
 *           (token-rounds.ts TokenRole: beginBlind/blindSome, beginUnblind/unblindSome)
 *   TOKENS  A → C F_k(x) for its n IDs
 *   LOOKUP  C → A one label box per token, in A's order: the box published for that token,
 *           or random bytes of the same size when the token matched nothing
 * Media's part ends with BLIND: it receives nothing that depends on which users are looked up.
 *
 * What each party learns:
 *   A  for each of its IDs, the label if the user is a media user who consented to data
 *      sharing (its box opens), else nothing — a non-consenting media user and a
 *      non-user look the same (both boxes are random to A); P; the epoch.
 *   C  n, P, the real-match count and which published tokens matched (pseudonymous, as in
 *      the look-alike session); never a label (the key is not derivable from the token) and
 *      not who consented (real and random boxes look alike).
 *   B  P (a bucket) and that a lookup ran — no list of users, not n.
 */
import { LABEL_BOX_BYTES, labelAd, labelKey, openLabel, randomLabelBox, type LabelBoxBytes, type LabelKey } from '../crypto/label-box.ts';
import { boxKeyPair } from '../crypto/sealed-box.ts';
import { normalizeRows } from '../common/ids.ts';
import { decodeLabel, type Label } from '../common/labels.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { cryptoUniform, settlePolicy, sizeClass, type BrokerPolicyConfig, type Uniform } from './policy.ts';
import type { ItemSource, PackedList } from '../common/packed-list.ts';
import { drawSomeDummies, padStep, readyPhase, unpadStep, type PaddingPhase } from './broker-padding.ts';
import type { BrokerUniverse } from './broker.ts';
import {
  expectPhase, ProtocolError,
  type ElementBytes, type IdType, type OpenSession, type PrepareSession, type SessionAccepted, type SessionReady, type TokenBytes,
} from './messages.ts';
import { TokenRole, utf8, type AskedPolicy, type SeedReport, type TokenRoundPhase, type UnblindSlices } from './token-rounds.ts';

/** The lookup's own limits, at the broker (service/config.ts). */
export interface LookupLimits {
  /** Fewest valid IDs a lookup may ask for. */
  minBatch: number;
}

export const DEFAULT_LOOKUP_LIMITS: Readonly<LookupLimits> = Object.freeze({ minBatch: 100 });

/** One of A's IDs and what the lookup returned for it. */
export interface LookupRow {
  /** The normalised ID. */
  id: string;
  /** Index of the ID among the raw IDs A gave. */
  index: number;
  label: Label | undefined;
}

// ---------------------------------------------------------------------------------------
// Advertiser

export interface LookupAdvertiserParams {
  idType: IdType;
  /** Raw IDs (normalised here; invalid rows rejected one by one, duplicates dropped). */
  ids: readonly string[];
  decoyRatio: number;
  signingPublicKey: Uint8Array;
  rng?: (n: number) => Uint8Array;
}

/** blinding, blinded, unblinding: the token rounds' phases (token-rounds.ts), carrying the accepted session. */
export type LookupAdvertiserPhase = LookupOwnPhase | TokenRoundPhase;

type LookupOwnPhase =
  | { name: 'new' }
  | { name: 'opened' }
  | { name: 'tokens-sent'; epoch: string; tokens: TokenBytes[]; keys: LabelKey[] }
  | { name: 'done'; rows: LookupRow[] }
  | { name: 'failed'; reason: string };

export class LookupAdvertiserRole extends TokenRole<LookupOwnPhase> {
  protected phase_: LookupAdvertiserPhase = { name: 'new' };
  protected readonly party = 'advertiser (lookup)';
  readonly report: SeedReport;
  protected readonly ids: string[];
  private readonly indexOf: number[];
  private readonly params: LookupAdvertiserParams;
  constructor(params: LookupAdvertiserParams) {
    super();
    const { valid, validIndex, rejected, duplicates } = normalizeRows(params.idType, params.ids);
    this.report = { rows: params.ids.length, valid: valid.length, rejected, duplicates };
    if (valid.length === 0) throw new ProtocolError('INVALID_ARGUMENT', `expected at least one valid ${params.idType} ID, got none of ${params.ids.length} rows`);
    this.ids = valid;
    this.indexOf = validIndex; // the raw index of each valid ID (first occurrence)
    this.params = params;
  }

  get phase(): LookupAdvertiserPhase['name'] {
    return this.phase_.name;
  }

  get count(): number {
    return this.ids.length;
  }

  get rows(): LookupRow[] | undefined {
    return this.phase_.name === 'done' ? this.phase_.rows : undefined;
  }

  private expect<N extends LookupAdvertiserPhase['name']>(call: string, ...names: N[]): Extract<LookupAdvertiserPhase, { name: N }> {
    expectPhase('advertiser (lookup)', this.phase_.name, names, call);
    return this.phase_ as Extract<LookupAdvertiserPhase, { name: N }>;
  }

  /** Round OPEN: only the count leaves A. */
  open(): OpenSession {
    this.expect('open', 'new');
    this.phase_ = { name: 'opened' };
    return {
      kind: 'lookup', mediaPredicate: '', countSession: '', idType: this.params.idType, seedCount: this.ids.length, audienceSize: 0, decoyRatio: this.params.decoyRatio, minCohort: 0,
      advertiserKey: this.params.signingPublicKey, resultKey: boxKeyPair().publicKey,
    };
  }

  // TokenRole: the BLIND and TOKENS rounds over the normalised IDs (no minimum cohort in a lookup)
  protected get idType(): IdType {
    return this.params.idType;
  }

  protected get policyAsked(): AskedPolicy {
    return { decoyRatio: this.params.decoyRatio, minCohort: undefined };
  }

  protected get rng(): ((n: number) => Uint8Array) | undefined {
    return this.params.rng;
  }

  /** Round TOKENS done: each ID's label key kept (never sent), the scalars dropped. */
  protected tokensSent(accepted: SessionAccepted, work: UnblindSlices): LookupOwnPhase {
    const { tokens, unblinded } = work;
    const keys = unblinded.map((u, i) => labelKey(utf8(this.ids[i]!), u));
    return { name: 'tokens-sent', epoch: accepted.universeEpoch, tokens, keys };
  }

  /** Round LOOKUP: opens the boxes; a box that does not open is "no label" (no match, or no consent). */
  finish(boxes: readonly LabelBoxBytes[]): LookupRow[] {
    const p = this.expect('finish', 'tokens-sent');
    if (boxes.length !== p.tokens.length) throw new ProtocolError('INVALID_ARGUMENT', `expected ${p.tokens.length} label boxes (one per token), got ${boxes.length}`);
    const rows = boxes.map((box, i): LookupRow => {
      const opened = openLabel(p.keys[i]!, box, labelAd(p.epoch, this.params.idType, p.tokens[i]!));
      let label: Label | undefined;
      if (opened) {
        try {
          label = decodeLabel(opened);
        } catch (err) {
          throw new ProtocolError('INVALID_ARGUMENT', `label ${i}: opened but malformed: ${(err as Error).message}`);
        }
      }
      return { id: this.ids[i]!, index: this.indexOf[i]!, label };
    });
    this.phase_ = { name: 'done', rows };
    return rows;
  }

  fail(reason: string): void {
    this.phase_ = { name: 'failed', reason };
  }
}

// ---------------------------------------------------------------------------------------
// Broker

export interface LookupCounts {
  seedCount: number;
  paddedCount: number;
  /** Exact: the broker's own knowledge, never released (A would learn non-consenting matches from it). */
  realMatches: number;
}

/** opened … evaluated: the padding rounds every broker role shares (broker-padding.ts). */
export type LookupBrokerPhase =
  | { name: 'new' }
  | PaddingPhase
  | { name: 'done'; counts: LookupCounts }
  | { name: 'failed'; reason: string };

export interface LookupBrokerParams {
  config: BrokerPolicyConfig;
  limits: LookupLimits;
  universe: BrokerUniverse;
  advertiser: string;
  uniform?: Uniform;
  rng?: (n: number) => Uint8Array;
}

export class LookupBrokerRole {
  private phase_: LookupBrokerPhase = { name: 'new' };
  private readonly params: LookupBrokerParams;
  private readonly u: Uniform;

  constructor(params: LookupBrokerParams) {
    this.params = params;
    this.u = params.uniform ?? cryptoUniform;
  }

  get phase(): LookupBrokerPhase['name'] {
    return this.phase_.name;
  }

  get paddedCount(): number {
    return 'paddedCount' in this.phase_ ? this.phase_.paddedCount : 0;
  }

  get counts(): LookupCounts | undefined {
    return this.phase_.name === 'done' ? this.phase_.counts : undefined;
  }

  get failure(): string | undefined {
    return this.phase_.name === 'failed' ? this.phase_.reason : undefined;
  }

  private expect<N extends LookupBrokerPhase['name']>(call: string, ...names: N[]): Extract<LookupBrokerPhase, { name: N }> {
    expectPhase('broker (lookup)', this.phase_.name, names, call);
    return this.phase_ as Extract<LookupBrokerPhase, { name: N }>;
  }

  /** Round OPEN (from A): the minimum batch, the label publication, the padded size; what media is told. */
  open(msg: OpenSession): PrepareSession {
    this.expect('open', 'new');
    if (msg.kind !== 'lookup') throw new ProtocolError('INVALID_ARGUMENT', `expected a lookup session, got kind '${msg.kind ?? 'lookalike'}'`);
    if (!Number.isSafeInteger(msg.seedCount) || msg.seedCount < this.params.limits.minBatch) {
      throw new ProtocolError('FAILED_PRECONDITION', `lookup batch too small: ${msg.seedCount} IDs, the minimum batch is ${this.params.limits.minBatch}`);
    }
    const u = this.params.universe;
    if (!u.tables.has(msg.idType)) {
      throw new ProtocolError('FAILED_PRECONDITION', `media's published universe has no '${msg.idType}' tokens (it has: ${[...u.tables.keys()].join(', ') || 'none'})`);
    }
    if (!u.labels || u.labels.publicationVersion !== u.version || !u.labels.boxes.has(msg.idType)) {
      throw new ProtocolError('FAILED_PRECONDITION', `the broker holds no '${msg.idType}' labels for publication ${u.version.slice(0, 12)}: media publishes none, or the sync is pending`);
    }
    const { policy, paddedCount } = settlePolicy({ seedCount: msg.seedCount, decoyRatio: msg.decoyRatio, minCohort: 0 }, this.params.config);
    this.phase_ = { name: 'opened', open: msg, policy, paddedCount };
    return {
      kind: 'lookup', mediaPredicate: '', idType: msg.idType, paddedCount, audienceSize: 0, policy, resultKey: msg.resultKey,
      universeVersion: u.version, advertiser: this.params.advertiser, labelsVersion: u.labels.version,
    };
  }

  /** Round OPEN (from media): media accepts on the publication the broker holds. */
  ready(msg: SessionReady): SessionAccepted {
    const p = this.expect('ready', 'opened');
    const u = this.params.universe;
    if (msg.outcome !== 'COMPLETED') throw new ProtocolError('FAILED_PRECONDITION', `media refused the lookup: ${msg.reason || msg.outcome}`);
    if (msg.universeVersion !== u.version || msg.universeEpoch !== u.epoch) {
      throw new ProtocolError('FAILED_PRECONDITION', `media serves publication ${msg.universeVersion.slice(0, 12)}, broker holds ${u.version.slice(0, 12)}: resync the universe`);
    }
    this.phase_ = readyPhase(p);
    return { policy: p.policy, paddedCount: p.paddedCount, universeSizeClass: sizeClass(u.users), universeEpoch: u.epoch, privacy: undefined };
  }

  /** Draws the dummies ahead of time (right after OPEN); optional, pad() draws what is missing. */
  prepareDummies(max = Infinity): boolean {
    return this.phase_.name !== 'ready' || drawSomeDummies(this.phase_, max, this.params.rng);
  }

  /** Round BLIND (from A): checks the count, pads with dummies, shuffles. */
  pad(blinded: readonly ElementBytes[]): PackedList {
    const { padded, next } = padStep(this.expect('pad', 'ready'), blinded, this.u, this.params.rng);
    this.phase_ = next;
    return padded;
  }

  /** Round BLIND (from media): A's evaluations, in A's order (packed). */
  unpad(evaluated: ItemSource): PackedList {
    const { own, next } = unpadStep(this.expect('unpad', 'padded'), evaluated);
    this.phase_ = next;
    return own;
  }

  /**
   * Rounds TOKENS → LOOKUP: one box per token, in A's order — the published box of a
   * matched token, fresh random bytes otherwise. Same size and order whatever matched.
   */
  lookup(tokens: readonly TokenBytes[]): LabelBoxBytes[] {
    const p = this.expect('lookup', 'evaluated');
    const n = p.open.seedCount;
    if (tokens.length !== n) throw new ProtocolError('INVALID_ARGUMENT', `expected ${n} tokens, got ${tokens.length}`);
    const u = this.params.universe;
    const published = u.tables.get(p.open.idType);
    const boxes = u.labels?.boxes.get(p.open.idType);
    if (!published || !boxes) throw new ProtocolError('FAILED_PRECONDITION', `the broker holds no '${p.open.idType}' labels`);
    let real = 0;
    const out = tokens.map((t, i) => {
      if (t.length !== TOKEN_BYTES) throw new ProtocolError('INVALID_ARGUMENT', `token ${i}: expected ${TOKEN_BYTES} bytes, got ${t.length}`);
      const row = published.rowOf(t);
      if (row < 0) return randomLabelBox();
      real++;
      return boxes.read(row, row + 1);
    });
    this.phase_ = { name: 'done', counts: { seedCount: n, paddedCount: p.paddedCount, realMatches: real } };
    return out;
  }

  fail(reason: string): void {
    this.phase_ = { name: 'failed', reason };
  }
}

