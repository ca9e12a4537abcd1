/**
 * The advertiser's token rounds, BLIND and TOKENS, as every advertiser-side role runs them
 * (AdvertiserRole for the look-alike family, LookupAdvertiserRole for the lookup): one
 * definition of the round shell (TokenRole) and of its sliced work (BlindSlices, UnblindSlices).
 *
 *   opened ──blind(accepted)──▶ blinded ──unblind(evaluated)──▶ <the role's tokens-sent phase>
 *   opened ──beginBlind(accepted)──▶ blinding ──blindSome(max)…──▶ blinded
 *   blinded ──beginUnblind(evaluated)──▶ unblinding ──unblindSome(max)…──▶ <tokens-sent>
 *       (the same rounds in slices, so that a node can answer its peers and its admin API
 *       between them: a CRM of 10^5–10^6 seeds is seconds to a minute of one core)
 *
 * BLIND: the broker's policy is checked to be no weaker than the role asked (decoy ratio,
 * minimum cohort where the kind has one) and its padded size to cover the IDs with their
 * decoys; each ID x is hashed into the prime-order group under the universe's domain
 * separation tag, H(x), and blinded with a fresh random scalar r: X25519(r, H(x)). The
 * scalars live only in the blinded and unblinding phases, fresh per session, so blinded
 * values of one ID in two sessions are unlinkable.
 * TOKENS: media's evaluations (relayed by the broker, in the role's order) are unblinded with
 * r⁻¹ and finalised into 12-byte tokens F_k(x); the role's tokens-sent phase (its own) keeps
 * what it needs of them, never the scalars.
 *
 * Guarantees: the same calls, errors and outputs whichever role runs them; slices give the
 * same bytes as one call with the same RNG stream; an invalid evaluation fails with its
 * index in the whole list, whichever slice holds it.
 */
import { blindBatch, unblindBatch, finalizeInto, type Blinded } from '../crypto/oprf.ts';
import { InvalidElementError, TOKEN_BYTES } from '../crypto/group.ts';
import { hashToGroupBatch, oprfDst } from '../crypto/h2c.ts';
import { uncounted } from '../common/op-counts.ts';
import { expectPhase, ProtocolError, type ElementBytes, type IdType, type SessionAccepted, type TokenBytes } from './messages.ts';

/** What the role's constructor made of the raw IDs (common/ids.ts normalizeRows). */
export interface SeedReport {
  rows: number;
  valid: number;
  rejected: { index: number; reason: string }[];
  duplicates: number;
}

/** The phases of the token rounds, each carrying the broker's accepted session (policy, padded size, epoch). */
export type TokenRoundPhase =
  | { name: 'blinding'; accepted: SessionAccepted; work: BlindSlices }
  | { name: 'blinded'; accepted: SessionAccepted; blinded: Blinded[] }
  | { name: 'unblinding'; accepted: SessionAccepted; work: UnblindSlices };

/** What a role asked of the broker's policy at OPEN (minCohort: undefined where the kind has none). */
export interface AskedPolicy {
  decoyRatio: number;
  minCohort: number | undefined;
}

/**
 * The round shell both advertiser-side roles share: `Own` is the role's other phases (new,
 * opened, its tokens-sent, done, failed — never a name of TokenRoundPhase). The role supplies
 * its normalised IDs, what it asked, its ID type and RNG, and the phase it enters once the
 * tokens are out (tokensSent).
 */
export abstract class TokenRole<Own extends { name: string }> {
  protected abstract phase_: Own | TokenRoundPhase;
  /** The party's name in out-of-order errors ('advertiser', 'advertiser (lookup)'). */
  protected abstract readonly party: string;
  /** The normalised IDs, in the order of the blinded elements and the tokens. */
  protected abstract readonly ids: readonly string[];
  protected abstract readonly idType: IdType;
  protected abstract readonly policyAsked: AskedPolicy;
  protected abstract readonly rng: ((n: number) => Uint8Array) | undefined;
  /** The role's phase once the tokens are out (the scalars are dropped with `work`'s phase). */
  protected abstract tokensSent(accepted: SessionAccepted, work: UnblindSlices): Own;

  /** Round BLIND: checks the broker's policy is no weaker than asked, then blinds the IDs. */
  blind(accepted: SessionAccepted): ElementBytes[] {
    this.claimBlind('blind', accepted);
    return this.blindSome(Infinity) as ElementBytes[]; // all at once: done
  }

  /**
   * Round BLIND in slices: checks the broker's policy as blind() does and claims the round;
   * blindSome then blinds the IDs `max` at a time, in order.
   */
  beginBlind(accepted: SessionAccepted): void {
    this.claimBlind('beginBlind', accepted);
  }

  /**
   * Blinds the next `max` IDs (hash to group, fresh scalar, X25519); returns the blinded
   * elements, in ID order, once the last ID is blinded (phase blinded), else undefined.
   */
  blindSome(max: number): ElementBytes[] | undefined {
    const p = this.round('blindSome', 'blinding');
    if (!p.work.step(max)) return undefined;
    this.phase_ = { name: 'blinded', accepted: p.accepted, blinded: p.work.blinded };
    return p.work.blinded.map((b) => b.blinded);
  }

  /** Round TOKENS: unblinds media's evaluations (relayed by the broker, in this role's order). */
  unblind(evaluated: readonly ElementBytes[]): TokenBytes[] {
    this.claimUnblind('unblind', evaluated);
    return this.unblindSome(Infinity) as TokenBytes[]; // all at once: done
  }

  /** Round TOKENS in slices: checks the evaluations' count and claims the round; unblindSome does the work. */
  beginUnblind(evaluated: readonly ElementBytes[]): void {
    this.claimUnblind('beginUnblind', evaluated);
  }

  /**
   * Unblinds and finalises the next `max` evaluations; returns the tokens, in ID order (views
   * of one packed buffer), once the last is done (the role's tokens-sent phase: the scalars
   * are dropped), else undefined. An invalid evaluation fails here with its index, whichever
   * slice holds it.
   */
  unblindSome(max: number): TokenBytes[] | undefined {
    const p = this.round('unblindSome', 'unblinding');
    if (!p.work.step(max)) return undefined;
    this.phase_ = this.tokensSent(p.accepted, p.work);
    return p.work.tokens;
  }

  private claimBlind(call: string, accepted: SessionAccepted): void {
    expectPhase(this.party, this.phase_.name, ['opened'], call);
    const asked = this.policyAsked;
    if (accepted.policy.decoyRatio < asked.decoyRatio) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker policy has decoy ratio ${accepted.policy.decoyRatio}, expected ≥ ${asked.decoyRatio}`);
    }
    if (asked.minCohort !== undefined && accepted.policy.minCohort < asked.minCohort) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker policy has minimum cohort ${accepted.policy.minCohort}, expected ≥ ${asked.minCohort}`);
    }
    const n = this.ids.length;
    if (accepted.paddedCount < n * (1 + accepted.policy.decoyRatio)) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker announced padded size ${accepted.paddedCount}, expected ≥ ${n * (1 + accepted.policy.decoyRatio)}`);
    }
    this.phase_ = { name: 'blinding', accepted, work: new BlindSlices(this.ids, oprfDst(this.idType, accepted.universeEpoch), this.rng) };
  }

  private claimUnblind(call: string, evaluated: readonly ElementBytes[]): void {
    const p = this.round(call, 'blinded');
    this.phase_ = { name: 'unblinding', accepted: p.accepted, work: new UnblindSlices(this.ids, p.blinded, evaluated) };
  }

  /** The current phase, which must be token round `name` (else the out-of-order error). */
  private round<N extends TokenRoundPhase['name']>(call: string, name: N): Extract<TokenRoundPhase, { name: N }> {
    expectPhase(this.party, this.phase_.name, [name], call);
    // the name is one of TokenRoundPhase's, which no phase of Own carries
    return this.phase_ as Extract<TokenRoundPhase, { name: N }>;
  }
}

const UTF8 = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return UTF8.encode(s);
}

/**
 * utf8(ids[i]) for i in [from, to): views of one packed buffer per call (the same bytes; no
 * ArrayBuffer per ID — an ID's bytes are read once, by its hash or its finalize, per slice).
 */
export function utf8Slice(ids: readonly string[], from: number, to: number): Uint8Array[] {
  let bound = 0;
  for (let i = from; i < to; i++) bound += 3 * ids[i]!.length; // UTF-8 takes ≤ 3 bytes per UTF-16 unit
  const buf = Buffer.alloc(bound);
  const out = new Array<Uint8Array>(to - from);
  let at = 0;
  for (let i = from; i < to; i++) {
    const n = buf.write(ids[i]!, at, 'utf8'); // as TextEncoder: a lone surrogate becomes U+FFFD
    out[i - from] = new Uint8Array(buf.buffer, buf.byteOffset + at, n);
    at += n;
  }
  return out;
}

/**
 * finalize(utf8(ids[i]), unblinded[i]) for every i: the tokens are views of one packed buffer
 * (finalizeInto: no message, digest or token array per ID).
 */
export function finalizeAll(ids: readonly string[], unblinded: readonly ElementBytes[]): TokenBytes[] {
  const packed = new Uint8Array(TOKEN_BYTES * unblinded.length);
  const tokens = new Array<TokenBytes>(unblinded.length);
  const inputs = utf8Slice(ids, 0, unblinded.length);
  for (let i = 0; i < unblinded.length; i++) {
    finalizeInto(packed, TOKEN_BYTES * i, inputs[i]!, unblinded[i]!);
    tokens[i] = packed.subarray(TOKEN_BYTES * i, TOKEN_BYTES * (i + 1));
  }
  return tokens;
}

/**
 * IDs a node blinds, or unblinds and finalises, per event-loop turn (BlindSlices.step,
 * UnblindSlices.step): ≈ 0.2 s of one core at 2,048 (hash to group + X25519 ≈ 0.09 ms per ID).
 * A CRM of 10^5–10^6 seeds is seconds to a minute of work; done at once, it would stop the
 * node's event loop that long (its admin API and its peers' keepalive pings unanswered).
 */
export const TOKEN_SLICE = 2048;

/**
 * Blinding of `ids` under `dst` in slices, in order: each step hashes the next IDs to the
 * group and blinds them with fresh scalars (blindBatch: its batch inversion per slice). The
 * result equals blinding them all at once with the same RNG stream.
 */
export class BlindSlices {
  readonly blinded: Blinded[] = [];
  private readonly ids: readonly string[];
  private readonly dst: string;
  private readonly rng: ((n: number) => Uint8Array) | undefined;

  constructor(ids: readonly string[], dst: string, rng?: (n: number) => Uint8Array) {
    this.ids = ids;
    this.dst = dst;
    this.rng = rng;
  }

  /** Blinds the next `max` IDs (at least one); true once all are blinded. */
  step(max: number): boolean {
    const from = this.blinded.length;
    const to = Math.min(this.ids.length, from + Math.max(1, max));
    if (to > from) {
      const points = hashToGroupBatch(utf8Slice(this.ids, from, to), this.dst);
      for (const b of blindBatch(points, this.rng)) this.blinded.push(b);
    }
    return to === this.ids.length;
  }
}

/**
 * Unblinding of `evaluated` with `blinded`'s scalars and finalising with `ids`, in slices, in
 * order. `tokens` are views of one packed buffer (TOKEN_BYTES each), `unblinded` the
 * unblinded elements (the lookup's label keys use them). An invalid evaluation fails its
 * step with its index in the whole list. Refuses counts that differ.
 */
export class UnblindSlices {
  readonly tokens: TokenBytes[];
  readonly unblinded: ElementBytes[];
  private readonly packed: Uint8Array;
  private readonly ids: readonly string[];
  private readonly blinded: readonly Blinded[];
  private readonly evaluated: readonly ElementBytes[];
  private done = 0;

  constructor(ids: readonly string[], blinded: readonly Blinded[], evaluated: readonly ElementBytes[]) {
    if (evaluated.length !== blinded.length || ids.length !== blinded.length) {
      throw new ProtocolError('INVALID_ARGUMENT', `expected ${blinded.length} evaluated elements, got ${evaluated.length}`);
    }
    this.ids = ids;
    this.blinded = blinded;
    this.evaluated = evaluated;
    this.tokens = new Array<TokenBytes>(evaluated.length);
    this.unblinded = new Array<ElementBytes>(evaluated.length);
    this.packed = new Uint8Array(TOKEN_BYTES * evaluated.length);
  }

  /** Unblinds and finalises the next `max` (at least one); true once all are done. */
  step(max: number): boolean {
    const from = this.done;
    const to = Math.min(this.evaluated.length, from + Math.max(1, max));
    let points: ElementBytes[];
    try {
      points = unblindBatch(this.blinded.slice(from, to).map((b) => b.inverse), this.evaluated.slice(from, to));
    } catch (err) {
      // unblindBatch names the index within its slice: the error names it within the list
      if (err instanceof InvalidElementError && err.index !== undefined && from > 0) throw new InvalidElementError(err.reason, err.detail, from + err.index);
      throw err;
    }
    const inputs = utf8Slice(this.ids, from, to);
    for (let i = from; i < to; i++) {
      const u = points[i - from]!;
      finalizeInto(this.packed, TOKEN_BYTES * i, inputs[i - from]!, u);
      this.tokens[i] = this.packed.subarray(TOKEN_BYTES * i, TOKEN_BYTES * (i + 1));
      this.unblinded[i] = u;
    }
    this.done = to;
    return to === this.evaluated.length;
  }
}

/** How many synthetic IDs warmTokenPath runs through the token path. */
export const WARM_IDS = 1024;

/**
 * Compiles the advertiser's per-ID token path before a node's first session needs it: hashes
 * `ids` synthetic phone numbers to the group under a DST of their own (epoch 'warm-up'),
 * blinds them, unblinds (the blinded elements stand in for media's evaluations: no key is
 * involved, unblinding gives H(x) back) and finalises them, then discards everything. V8
 * optimises a function only once it has run for a while, compiling on background threads whose
 * CPU is the process's, so without this the first session of a node (the bench's W1) runs
 * part of its blinding in unoptimised code and pays for compiling it in its blind and tokens
 * phases. The advertiser's entry point calls it once at start (both roles share the path).
 * Pure: no state is kept, the tokens of any later session are unchanged (tested), and it runs
 * uncounted (common/op-counts.ts), so the warm-up counts as no session's work.
 */
export function warmTokenPath(ids: number = WARM_IDS): void {
  uncounted(() => {
    const seeds = Array.from({ length: ids }, (_, i) => `+1202555${String(i % 10_000).padStart(4, '0')}`);
    // the sessions' own path: BlindSlices and UnblindSlices, TOKEN_SLICE IDs a step
    const blind = new BlindSlices(seeds, oprfDst('phone', 'warm-up'));
    while (!blind.step(TOKEN_SLICE));
    const unblind = new UnblindSlices(seeds, blind.blinded, blind.blinded.map((b) => b.blinded));
    while (!unblind.step(TOKEN_SLICE));
  });
}
