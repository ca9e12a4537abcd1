/**
 * Federated aggregator role (the broker in a `federated` session): one state machine, no
 * network. It relays keys and encrypted shares, sums masked inputs, unmasks ONLY the sum, and
 * applies federated averaging (fedavg.ts).
 *
 * Flow, per training round r (each step: collect from the members still in, then close):
 *   open ──(join × N)──▶ keys(r) ──closeKeys()──▶ shares(r) ──closeShares()──▶ masked(r)
 *        ──closeMasked()──▶ unmask(r) ──closeUnmask()──▶ keys(r+1) | done      (fail() ▶ failed)
 * U1 ⊇ U2 ⊇ U3 ⊇ U4 are the members heard from at each step; below the threshold t the session
 * fails. A member missing at a step is a dropout: it is out of the rest of the session. At
 * UNMASK the aggregator reconstructs b_u for u ∈ U3 and s_SK of every d ∈ U2 \ U3 from t shares
 * and removes exactly those masks from Σ_{u∈U3} y_u (crypto/secagg.ts: unmaskSum).
 *
 * What the broker learns: the roster, each round's public keys, which members dropped out, the
 * sum Σ_{u∈U3} x_u of the fixed-point updates — hence the new global model, the total row count
 * of the contributors and their mean training loss — and nothing about any one update, as long
 * as fewer than t members collude with it (tests: federated.secagg.test.ts).
 */
import { combine, ShamirError, type Share } from '../crypto/shamir.ts';
import { addWords, pairwiseSeed, unmaskSum, type MaskContext } from '../crypto/secagg.ts';
import { applyAggregate, decodeFixed, FRAC_BITS, UPDATE_LENGTH, type Model, validateTraining } from './fedavg.ts';
import type {
  AdvertiseKeys, FederatedPolicy, FederationAccepted, JoinFederation, KeyRoster, MaskedInput, RoundResult, ShareDelivery, ShareKeys, Survivors, Unmasking,
} from './federated-messages.ts';
import { modelValue } from './federated-member.ts';
import { ProtocolError } from './messages.ts';

/** Default threshold: a strict majority of the roster, at least 2. */
export function defaultThreshold(members: number): number {
  return Math.max(2, Math.floor(members / 2) + 1);
}

export function validateFederatedPolicy(p: FederatedPolicy): FederatedPolicy {
  const n = p.roster.length;
  if (n < 3 || n > 64) throw new ProtocolError('INVALID_ARGUMENT', `expected 3 to 64 members, got ${n}`);
  if (new Set(p.roster).size !== n || p.roster.some((m) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(m))) {
    throw new ProtocolError('INVALID_ARGUMENT', `expected distinct member names of [A-Za-z0-9._-], got ${p.roster.join(',')}`);
  }
  if (!Number.isSafeInteger(p.threshold) || p.threshold < Math.max(2, Math.floor(n / 2) + 1) || p.threshold > n) {
    throw new ProtocolError('INVALID_ARGUMENT', `expected threshold ${Math.max(2, Math.floor(n / 2) + 1)}…${n} (a strict majority), got ${p.threshold}`);
  }
  if (!Number.isSafeInteger(p.rounds) || p.rounds < 1 || p.rounds > 10_000) throw new ProtocolError('INVALID_ARGUMENT', `expected 1 ≤ rounds ≤ 10000, got ${p.rounds}`);
  if (!(p.convergenceTol >= 0 && p.convergenceTol < 1)) throw new ProtocolError('INVALID_ARGUMENT', `expected 0 ≤ convergenceTol < 1, got ${p.convergenceTol}`);
  if (p.fracBits !== FRAC_BITS || p.updateLength !== UPDATE_LENGTH) throw new ProtocolError('INVALID_ARGUMENT', `expected fracBits ${FRAC_BITS} and updateLength ${UPDATE_LENGTH}`);
  try {
    validateTraining(p);
  } catch (err) {
    throw new ProtocolError('INVALID_ARGUMENT', (err as Error).message);
  }
  return p;
}

export interface RoundFigures {
  round: number;
  loss: number;
  rows: number;
  contributors: number;
  /** Members that started the round but did not finish it (out of the session from here on). */
  dropped: number[];
}

export type AggregatorPhase =
  | { kind: 'open'; joined: Set<number> }
  | { kind: 'keys'; round: number; active: Set<number>; keys: Map<number, AdvertiseKeys> }
  | { kind: 'shares'; round: number; active: Set<number>; u1: Map<number, AdvertiseKeys>; shares: Map<number, ShareKeys> }
  | { kind: 'masked'; round: number; active: Set<number>; u1: Map<number, AdvertiseKeys>; u2: Set<number>; inputs: Map<number, BigUint64Array> }
  | { kind: 'unmask'; round: number; active: Set<number>; u1: Map<number, AdvertiseKeys>; u2: Set<number>; u3: Set<number>; sum: BigUint64Array; reveals: Map<number, Unmasking> }
  | { kind: 'done'; rounds: number; reason: string }
  | { kind: 'failed'; reason: string };

export class FederatedAggregator {
  phase: AggregatorPhase = { kind: 'open', joined: new Set() };
  model: Model;
  readonly history: RoundFigures[] = [];
  readonly policy: FederatedPolicy;
  private readonly sessionId: string;
  private lastResult: RoundResult | undefined;

  constructor(sessionId: string, policy: FederatedPolicy, initial: Model) {
    this.sessionId = sessionId;
    this.policy = validateFederatedPolicy(policy);
    this.model = initial;
  }

  private ctx(round: number): MaskContext {
    return { sessionId: this.sessionId, round };
  }

  /** Round JOIN: member `index` (authenticated by the rpc layer) joins; its answer. */
  join(index: number, j: JoinFederation): FederationAccepted {
    const ph = this.expect('open', 'join');
    if (this.policy.roster[index - 1] !== j.member) throw new ProtocolError('PERMISSION_DENIED', `member ${index} is ${this.policy.roster[index - 1]}, not ${j.member}`);
    if (ph.joined.has(index)) throw new ProtocolError('ALREADY_EXISTS', `${j.member} has already joined`);
    ph.joined.add(index);
    return { policy: this.policy, memberIndex: index, model: modelValue(this.model) };
  }

  /** Everyone joined: training round 1 starts. */
  start(): void {
    const ph = this.expect('open', 'start');
    if (ph.joined.size !== this.policy.roster.length) throw new ProtocolError('FAILED_PRECONDITION', `${ph.joined.size} of ${this.policy.roster.length} members joined`);
    this.phase = { kind: 'keys', round: 1, active: new Set(ph.joined), keys: new Map() };
  }

  /** The members expected at the current step. */
  get expected(): Set<number> {
    const ph = this.phase;
    switch (ph.kind) {
      case 'open': return new Set(this.policy.roster.map((_, i) => i + 1));
      case 'keys': return ph.active;
      case 'shares': return new Set(ph.u1.keys());
      case 'masked': return ph.u2;
      case 'unmask': return ph.u3;
      default: return new Set();
    }
  }

  /** The members heard from at the current step. */
  get heard(): Set<number> {
    const ph = this.phase;
    switch (ph.kind) {
      case 'open': return ph.joined;
      case 'keys': return new Set(ph.keys.keys());
      case 'shares': return new Set(ph.shares.keys());
      case 'masked': return new Set(ph.inputs.keys());
      case 'unmask': return new Set(ph.reveals.keys());
      default: return new Set();
    }
  }

  collectKeys(index: number, k: AdvertiseKeys): void {
    const ph = this.expect('keys', 'collectKeys');
    this.admit(index, k.round, ph.round, ph.active, ph.keys, 'AdvertiseKeys');
    if (k.memberIndex !== index) throw new ProtocolError('PERMISSION_DENIED', `AdvertiseKeys from member ${index} names member ${k.memberIndex}`);
    ph.keys.set(index, k);
  }

  closeKeys(): KeyRoster {
    const ph = this.expect('keys', 'closeKeys');
    this.atLeastThreshold(ph.keys.size, 'KEYS');
    this.phase = { kind: 'shares', round: ph.round, active: ph.active, u1: new Map(ph.keys), shares: new Map() };
    return { round: ph.round, keys: [...ph.keys.values()].sort((a, b) => a.memberIndex - b.memberIndex) };
  }

  collectShares(index: number, s: ShareKeys): void {
    const ph = this.expect('shares', 'collectShares');
    this.admit(index, s.round, ph.round, new Set(ph.u1.keys()), ph.shares, 'ShareKeys');
    const to = s.shares.map((x) => x.peer).sort((a, b) => a - b);
    const u1 = [...ph.u1.keys()].sort((a, b) => a - b);
    if (to.length !== u1.length || to.some((v, i) => v !== u1[i])) throw new ProtocolError('INVALID_ARGUMENT', `ShareKeys from member ${index}: expected one share for each of ${u1.join(',')}, got ${to.join(',')}`);
    ph.shares.set(index, s);
  }

  /** Closes SHARES: U2 = who shared; each member gets the ciphertexts addressed to it. */
  closeShares(): Map<number, ShareDelivery> {
    const ph = this.expect('shares', 'closeShares');
    this.atLeastThreshold(ph.shares.size, 'SHARES');
    const u2 = new Set(ph.shares.keys());
    const out = new Map<number, ShareDelivery>();
    for (const to of u2) {
      out.set(to, {
        round: ph.round,
        shares: [...ph.shares].sort(([a], [b]) => a - b).map(([from, s]) => ({ peer: from, ciphertext: s.shares.find((x) => x.peer === to)!.ciphertext })),
      });
    }
    this.phase = { kind: 'masked', round: ph.round, active: ph.active, u1: ph.u1, u2, inputs: new Map() };
    return out;
  }

  collectMasked(index: number, m: MaskedInput): void {
    const ph = this.expect('masked', 'collectMasked');
    this.admit(index, m.round, ph.round, ph.u2, ph.inputs, 'MaskedInput');
    if (m.words.length !== 8 * this.policy.updateLength) throw new ProtocolError('INVALID_ARGUMENT', `MaskedInput from member ${index}: expected ${8 * this.policy.updateLength} bytes, got ${m.words.length}`);
    ph.inputs.set(index, new BigUint64Array(m.words.slice().buffer));
  }

  closeMasked(): Survivors {
    const ph = this.expect('masked', 'closeMasked');
    this.atLeastThreshold(ph.inputs.size, 'MASKED');
    const sum = new BigUint64Array(this.policy.updateLength);
    for (const y of ph.inputs.values()) addWords(sum, y);
    const u3 = new Set(ph.inputs.keys());
    this.phase = { kind: 'unmask', round: ph.round, active: ph.active, u1: ph.u1, u2: ph.u2, u3, sum, reveals: new Map() };
    return { round: ph.round, survivors: [...u3].sort((a, b) => a - b) };
  }

  collectUnmask(index: number, u: Unmasking): void {
    const ph = this.expect('unmask', 'collectUnmask');
    this.admit(index, u.round, ph.round, ph.u3, ph.reveals, 'Unmasking');
    const selfOf = u.selfMaskShares.map((s) => s.of).sort((a, b) => a - b);
    const keyOf = u.keyShares.map((s) => s.of).sort((a, b) => a - b);
    const wantSelf = [...ph.u3].sort((a, b) => a - b);
    const wantKey = [...ph.u2].filter((v) => !ph.u3.has(v)).sort((a, b) => a - b);
    if (selfOf.join() !== wantSelf.join() || keyOf.join() !== wantKey.join()) {
      throw new ProtocolError('INVALID_ARGUMENT', `Unmasking from member ${index}: expected self-mask shares of ${wantSelf.join(',')} and key shares of ${wantKey.join(',') || 'nobody'}`);
    }
    ph.reveals.set(index, u);
  }

  /** Closes the round: reconstructs the masks, unmasks the sum, applies FedAvg. */
  closeUnmask(): RoundResult {
    const ph = this.expect('unmask', 'closeUnmask');
    const t = this.policy.threshold;
    this.atLeastThreshold(ph.reveals.size, 'UNMASK');
    const sharesOf = (of: number, kind: 'self' | 'key'): Share[] =>
      [...ph.reveals].map(([holder, u]) => ({ x: holder, y: (kind === 'self' ? u.selfMaskShares : u.keyShares).find((s) => s.of === of)!.share }));
    let sum: BigUint64Array;
    try {
      const selfSeeds = [...ph.u3].map((u) => combine(sharesOf(u, 'self'), t));
      const dropped = [...ph.u2].filter((v) => !ph.u3.has(v)).flatMap((d) => {
        const sSecret = combine(sharesOf(d, 'key'), t);
        return [...ph.u3].map((u) => ({ survivor: u, dropped: d, seed: pairwiseSeed(sSecret, ph.u1.get(u)!.sPublic, this.ctx(ph.round), d, u) }));
      });
      sum = unmaskSum(ph.sum, selfSeeds, dropped, this.ctx(ph.round));
    } catch (err) {
      if (err instanceof ShamirError) throw new ProtocolError('INVALID_ARGUMENT', `UNMASK: ${err.message}`);
      throw err;
    }
    let applied;
    try {
      applied = applyAggregate(this.model, decodeFixed(sum));
    } catch (err) {
      throw new ProtocolError('INVALID_ARGUMENT', `UNMASK: the unmasked sum is not a valid aggregate (${(err as Error).message}): a member's input or share is wrong`);
    }
    const previous = this.history.at(-1)?.loss;
    this.model = applied.model;
    this.history.push({ round: ph.round, loss: applied.loss, rows: applied.rows, contributors: ph.u3.size, dropped: [...ph.active].filter((v) => !ph.reveals.has(v)).sort((a, b) => a - b) });
    const converged = previous !== undefined && this.policy.convergenceTol > 0 && Math.abs(previous - applied.loss) < this.policy.convergenceTol;
    const done = converged || ph.round >= this.policy.rounds;
    const reason = converged ? `converged: loss changed by less than ${this.policy.convergenceTol}` : done ? `completed the declared ${this.policy.rounds} rounds` : '';
    this.lastResult = { round: ph.round, model: modelValue(this.model), loss: applied.loss, rows: applied.rows, contributors: ph.u3.size, done, reason };
    this.phase = done ? { kind: 'done', rounds: ph.round, reason } : { kind: 'keys', round: ph.round + 1, active: new Set(ph.reveals.keys()), keys: new Map() };
    return this.lastResult;
  }

  fail(reason: string): void {
    this.phase = { kind: 'failed', reason };
  }

  private admit<V>(index: number, got: number, round: number, allowed: Set<number>, seen: Map<number, V>, what: string): void {
    if (got !== round) throw new ProtocolError('FAILED_PRECONDITION', `${what} from member ${index}: expected training round ${round}, got ${got}`);
    if (!allowed.has(index)) throw new ProtocolError('FAILED_PRECONDITION', `${what} from member ${index}, who is not in this step (dropped out or never joined)`);
    if (seen.has(index)) throw new ProtocolError('ALREADY_EXISTS', `${what} from member ${index} for round ${round} was already received`);
  }

  private atLeastThreshold(n: number, step: string): void {
    if (n < this.policy.threshold) {
      const reason = `${step}: ${n} members, below the threshold ${this.policy.threshold}`;
      this.fail(reason);
      throw new ProtocolError('FAILED_PRECONDITION', reason);
    }
  }

  private expect<K extends AggregatorPhase['kind']>(kind: K, call: string): Extract<AggregatorPhase, { kind: K }> {
    if (this.phase.kind !== kind) throw new ProtocolError('FAILED_PRECONDITION', `federated aggregator: called ${call} in phase '${this.phase.kind}', expected '${kind}'`);
    return this.phase as Extract<AggregatorPhase, { kind: K }>;
  }
}
