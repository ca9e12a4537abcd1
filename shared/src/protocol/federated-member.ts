/**
 * Federated member role (each advertiser node in a `federated` session): one state machine,
 * no network, no filesystem.
 *
 * Flow (docs/protocol.md, "Federated learning"), per training round r = 1, 2, …:
 *   new ──join()──▶ joining ──accepted()──▶ ready
 *   ready ──advertiseKeys()──▶ keys-sent ──shareKeys(KeyRoster)──▶ shares-sent
 *         ──maskInput(ShareDelivery)──▶ masked-sent ──unmask(Survivors)──▶ unmask-sent
 *         ──finishRound(RoundResult)──▶ ready (next round) | done
 *   (fail() from any phase ▶ failed)
 *
 * 1. KEYS: fresh X25519 key pairs c (share encryption) and s (pairwise masks), signed with the
 *    member's Ed25519 key so the broker cannot substitute them.
 * 2. SHARES: checks every relayed key bundle against the pinned roster key, draws the self-mask
 *    seed b, Shamir-shares b and s_SK (threshold t) over U1 and encrypts share j to member j.
 * 3. MASKED: decrypts the shares addressed to it (their senders are U2), trains locally from
 *    the global model, encodes the update in fixed point and masks it (crypto/secagg.ts).
 * 4. UNMASK: given U3 (⊆ U2, ≥ t, with itself), reveals shares of b for U3 and of s_SK for
 *    U2 \ U3 — never both for the same member — and forgets the round's secrets.
 *
 * What a member learns: the roster and policy, the other members' public round keys, the
 * number of contributors, each round's global model and loss (a function of the sum of all
 * updates), and nothing about any other member's update or rows.
 */
import { verifySignature, type SigningKey } from '../crypto/dsse.ts';
import { share as shamirShare, SHARE_BYTES, type Share } from '../crypto/shamir.ts';
import {
  maskInput as maskWords, openFromPeer, pairwiseSeed, randomSeed, sealForPeer, x25519KeyPair,
  type MaskContext, type Rng, type SeedBytes, type X25519KeyPair,
} from '../crypto/secagg.ts';
import type { FederatedDataset } from '../data/federated.ts';
import { encodeFixed, FRAC_BITS, UPDATE_LENGTH, updateVector, type Model } from './fedavg.ts';
import {
  policyOfTraining, SECAGG_KEYS_TYPE, secaggKeysBody,
  type AdvertiseKeys, type FederatedPolicy, type FederationAccepted, type JoinFederation, type KeyRoster, type MaskedInput,
  type ModelValue, type RoundResult, type ShareDelivery, type ShareKeys, type Survivors, type Unmasking,
} from './federated-messages.ts';
import { ProtocolError } from './messages.ts';

export interface RosterEntry {
  name: string;
  /** The member's pinned Ed25519 transcript key. */
  signingKey: Uint8Array;
}

export interface MemberParams {
  sessionId: string;
  /** This member's name in the roster. */
  name: string;
  key: SigningKey;
  /** The pinned roster: every member's name and Ed25519 key, in index order. */
  roster: readonly RosterEntry[];
  train: FederatedDataset;
  /** The weakest policy this member accepts. */
  minThreshold: number;
  maxRounds: number;
  rng?: Rng;
}

interface RoundKeys {
  round: number;
  c: X25519KeyPair;
  s: X25519KeyPair;
}

interface PeerKeys {
  cPublic: Uint8Array;
  sPublic: Uint8Array;
}

interface HeldShares {
  b: Share;
  s: Share;
}

export type MemberPhase =
  | { kind: 'new' }
  | { kind: 'joining' }
  | { kind: 'ready'; round: number; policy: FederatedPolicy; index: number; model: Model }
  | { kind: 'keys-sent'; round: number; policy: FederatedPolicy; index: number; model: Model; keys: RoundKeys }
  | { kind: 'shares-sent'; round: number; policy: FederatedPolicy; index: number; model: Model; keys: RoundKeys; u1: Map<number, PeerKeys>; b: SeedBytes }
  | { kind: 'masked-sent'; round: number; policy: FederatedPolicy; index: number; model: Model; u2: Map<number, HeldShares> }
  | { kind: 'unmask-sent'; round: number; policy: FederatedPolicy; index: number; model: Model }
  | { kind: 'done'; policy: FederatedPolicy; index: number; model: Model; rounds: number }
  | { kind: 'failed'; reason: string };

/** Plaintext of one encrypted share: from, to, share of b, share of s_SK. */
const SHARE_PLAINTEXT_BYTES = 2 + 2 * SHARE_BYTES;

export class FederatedMember {
  phase: MemberPhase = { kind: 'new' };
  /** Per-round figures this member saw (global loss, contributors). */
  readonly history: { round: number; loss: number; rows: number; contributors: number }[] = [];
  private readonly p: MemberParams;

  constructor(p: MemberParams) {
    const index = p.roster.findIndex((r) => r.name === p.name);
    if (index < 0) throw new ProtocolError('INVALID_ARGUMENT', `expected ${p.name} in the pinned roster, got ${p.roster.map((r) => r.name).join(', ')}`);
    if (!bytesEq(p.roster[index]!.signingKey, p.key.publicKey)) throw new ProtocolError('INVALID_ARGUMENT', `the roster pins another key for ${p.name} than this node's signing key`);
    if (p.train.rows < 1) throw new ProtocolError('INVALID_ARGUMENT', 'expected a training set with at least one row');
    this.p = p;
  }

  private ctx(round: number): MaskContext {
    return { sessionId: this.p.sessionId, round };
  }

  /** Round JOIN: who this member is. Its row count never leaves it. */
  join(): JoinFederation {
    this.expect('new', 'join');
    this.phase = { kind: 'joining' };
    return { member: this.p.name, signingKey: this.p.key.publicKey };
  }

  /** Round JOIN, answered: checks the policy against the pinned roster and its own minimums. */
  accepted(a: FederationAccepted): void {
    this.expect('joining', 'accepted');
    const pol = a.policy;
    const names = this.p.roster.map((r) => r.name);
    if (pol.roster.length !== names.length || pol.roster.some((n, i) => n !== names[i])) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker's roster ${pol.roster.join(',')} differs from the pinned roster ${names.join(',')}`);
    }
    if (a.memberIndex !== names.indexOf(this.p.name) + 1) throw new ProtocolError('FAILED_PRECONDITION', `broker assigned index ${a.memberIndex}, expected ${names.indexOf(this.p.name) + 1}`);
    if (pol.threshold < this.p.minThreshold || pol.threshold > names.length || pol.threshold < 2) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker policy has threshold ${pol.threshold}, expected ${Math.max(2, this.p.minThreshold)}…${names.length}`);
    }
    if (pol.rounds < 1 || pol.rounds > this.p.maxRounds) throw new ProtocolError('FAILED_PRECONDITION', `broker policy has ${pol.rounds} rounds, expected 1…${this.p.maxRounds}`);
    if (pol.updateLength !== UPDATE_LENGTH || pol.fracBits !== FRAC_BITS) {
      throw new ProtocolError('FAILED_PRECONDITION', `broker policy encodes ${pol.updateLength} words with ${pol.fracBits} fractional bits, expected ${UPDATE_LENGTH} and ${FRAC_BITS}`);
    }
    this.phase = { kind: 'ready', round: 1, policy: pol, index: a.memberIndex, model: modelFrom(a.model) };
  }

  /** Round KEYS: fresh signed round keys. */
  advertiseKeys(): AdvertiseKeys {
    const ph = this.expect('ready', 'advertiseKeys');
    const keys: RoundKeys = { round: ph.round, c: x25519KeyPair(this.p.rng), s: x25519KeyPair(this.p.rng) };
    const unsigned = { round: ph.round, memberIndex: ph.index, cPublic: keys.c.publicKey, sPublic: keys.s.publicKey };
    const signature = this.p.key.sign(SECAGG_KEYS_TYPE, secaggKeysBody(this.p.sessionId, unsigned)).sig;
    this.phase = { ...ph, kind: 'keys-sent', keys };
    return { ...unsigned, signature };
  }

  /** Round SHARES: verifies U1's keys, shares b and s_SK among U1 and encrypts each share to its holder. */
  shareKeys(roster: KeyRoster): ShareKeys {
    const ph = this.expect('keys-sent', 'shareKeys');
    this.expectRound(roster.round, ph.round, 'KeyRoster');
    const u1 = new Map<number, PeerKeys>();
    for (const k of roster.keys) {
      const entry = this.p.roster[k.memberIndex - 1];
      if (!entry || k.round !== ph.round) throw new ProtocolError('INVALID_ARGUMENT', `KeyRoster: a key bundle names member ${k.memberIndex} round ${k.round}, expected a roster member and round ${ph.round}`);
      if (u1.has(k.memberIndex)) throw new ProtocolError('INVALID_ARGUMENT', `KeyRoster: member ${k.memberIndex} appears twice`);
      if (!verifySignature(entry.signingKey, SECAGG_KEYS_TYPE, secaggKeysBody(this.p.sessionId, k), k.signature)) {
        throw new ProtocolError('PERMISSION_DENIED', `KeyRoster: the keys of member ${k.memberIndex} (${entry.name}) are not signed by its pinned key`);
      }
      if (bytesEq(k.cPublic, k.sPublic)) throw new ProtocolError('INVALID_ARGUMENT', `KeyRoster: member ${k.memberIndex} uses one key for both c and s`);
      u1.set(k.memberIndex, { cPublic: k.cPublic, sPublic: k.sPublic });
    }
    const mine = u1.get(ph.index);
    if (!mine || !bytesEq(mine.cPublic, ph.keys.c.publicKey) || !bytesEq(mine.sPublic, ph.keys.s.publicKey)) {
      throw new ProtocolError('INVALID_ARGUMENT', 'KeyRoster: this member\'s own keys are missing or altered');
    }
    if (u1.size < ph.policy.threshold) throw new ProtocolError('FAILED_PRECONDITION', `KeyRoster: ${u1.size} members, below the threshold ${ph.policy.threshold}`);
    const b = randomSeed(this.p.rng);
    const xs = [...u1.keys()].sort((x, y) => x - y);
    const bShares = shamirShare(b, ph.policy.threshold, xs, this.p.rng);
    const sShares = shamirShare(ph.keys.s.secretKey, ph.policy.threshold, xs, this.p.rng);
    const shares = xs.map((to, i) => {
      const pt = new Uint8Array(SHARE_PLAINTEXT_BYTES);
      pt[0] = ph.index;
      pt[1] = to;
      pt.set(bShares[i]!.y, 2);
      pt.set(sShares[i]!.y, 2 + SHARE_BYTES);
      return { peer: to, ciphertext: sealForPeer(pt, ph.keys.c.secretKey, u1.get(to)!.cPublic, this.ctx(ph.round), ph.index, to, this.p.rng) };
    });
    this.phase = { ...ph, kind: 'shares-sent', u1, b };
    return { round: ph.round, shares };
  }

  /** Round MASKED: opens its shares (U2), trains locally and sends the masked fixed-point update. */
  maskInput(delivery: ShareDelivery): MaskedInput {
    const ph = this.expect('shares-sent', 'maskInput');
    this.expectRound(delivery.round, ph.round, 'ShareDelivery');
    const u2 = new Map<number, HeldShares>();
    for (const s of delivery.shares) {
      const keys = ph.u1.get(s.peer);
      if (!keys) throw new ProtocolError('INVALID_ARGUMENT', `ShareDelivery: a share from member ${s.peer}, who is not in U1`);
      if (u2.has(s.peer)) throw new ProtocolError('INVALID_ARGUMENT', `ShareDelivery: two shares from member ${s.peer}`);
      const pt = openFromPeer(s.ciphertext, ph.keys.c.secretKey, keys.cPublic, this.ctx(ph.round), s.peer, ph.index);
      if (!pt || pt.length !== SHARE_PLAINTEXT_BYTES || pt[0] !== s.peer || pt[1] !== ph.index) {
        throw new ProtocolError('INVALID_ARGUMENT', `ShareDelivery: the share from member ${s.peer} does not decrypt for this member and round`);
      }
      u2.set(s.peer, { b: { x: ph.index, y: pt.slice(2, 2 + SHARE_BYTES) }, s: { x: ph.index, y: pt.slice(2 + SHARE_BYTES) } });
    }
    if (!u2.has(ph.index)) throw new ProtocolError('INVALID_ARGUMENT', 'ShareDelivery: this member\'s own share is missing');
    if (u2.size < ph.policy.threshold) throw new ProtocolError('FAILED_PRECONDITION', `ShareDelivery: ${u2.size} members in U2, below the threshold ${ph.policy.threshold}`);
    const update = encodeFixed(updateVector(ph.model, this.p.train, policyOfTraining(ph.policy)));
    const pairs = [...u2.keys()].filter((v) => v !== ph.index)
      .map((v) => ({ peer: v, seed: pairwiseSeed(ph.keys.s.secretKey, ph.u1.get(v)!.sPublic, this.ctx(ph.round), ph.index, v) }));
    const masked = maskWords(update, ph.index, ph.b, pairs, this.ctx(ph.round));
    this.phase = { kind: 'masked-sent', round: ph.round, policy: ph.policy, index: ph.index, model: ph.model, u2 };
    return { round: ph.round, words: new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength).slice() };
  }

  /** Round UNMASK: reveals b-shares of U3 and s_SK-shares of U2 \ U3, never both for one member. */
  unmask(s: Survivors): Unmasking {
    const ph = this.expect('masked-sent', 'unmask');
    this.expectRound(s.round, ph.round, 'Survivors');
    const u3 = new Set(s.survivors);
    if (u3.size !== s.survivors.length) throw new ProtocolError('INVALID_ARGUMENT', 'Survivors: a member is listed twice');
    for (const v of u3) if (!ph.u2.has(v)) throw new ProtocolError('INVALID_ARGUMENT', `Survivors: member ${v} did not share its keys (not in U2)`);
    if (!u3.has(ph.index)) throw new ProtocolError('FAILED_PRECONDITION', 'Survivors: this member\'s masked input is not among the survivors');
    if (u3.size < ph.policy.threshold) throw new ProtocolError('FAILED_PRECONDITION', `Survivors: ${u3.size} members, below the threshold ${ph.policy.threshold}`);
    const selfMaskShares = [...ph.u2].filter(([v]) => u3.has(v)).map(([v, h]) => ({ of: v, share: h.b.y }));
    const keyShares = [...ph.u2].filter(([v]) => !u3.has(v)).map(([v, h]) => ({ of: v, share: h.s.y }));
    this.phase = { kind: 'unmask-sent', round: ph.round, policy: ph.policy, index: ph.index, model: ph.model };
    return { round: ph.round, selfMaskShares, keyShares };
  }

  /** The round's result: the new global model; the next round or the end. */
  finishRound(r: RoundResult): 'continue' | 'done' {
    const ph = this.expect('unmask-sent', 'finishRound');
    this.expectRound(r.round, ph.round, 'RoundResult');
    if (r.model.weights.length !== ph.model.weights.length || !r.model.weights.every(Number.isFinite) || !Number.isFinite(r.model.bias)) {
      throw new ProtocolError('INVALID_ARGUMENT', `RoundResult: expected a model of ${ph.model.weights.length} finite weights`);
    }
    this.history.push({ round: r.round, loss: r.loss, rows: r.rows, contributors: r.contributors });
    const model = modelFrom(r.model);
    if (r.done || r.round >= ph.policy.rounds) {
      this.phase = { kind: 'done', policy: ph.policy, index: ph.index, model, rounds: r.round };
      return 'done';
    }
    this.phase = { kind: 'ready', round: ph.round + 1, policy: ph.policy, index: ph.index, model };
    return 'continue';
  }

  fail(reason: string): void {
    this.phase = { kind: 'failed', reason };
  }

  /** The final model, once done. */
  get model(): Model | undefined {
    return this.phase.kind === 'done' ? this.phase.model : undefined;
  }

  private expect<K extends MemberPhase['kind']>(kind: K, call: string): Extract<MemberPhase, { kind: K }> {
    if (this.phase.kind !== kind) throw new ProtocolError('FAILED_PRECONDITION', `federated member: called ${call} in phase '${this.phase.kind}', expected '${kind}'`);
    return this.phase as Extract<MemberPhase, { kind: K }>;
  }

  private expectRound(got: number, want: number, what: string): void {
    if (got !== want) throw new ProtocolError('FAILED_PRECONDITION', `${what}: expected training round ${want}, got ${got}`);
  }
}

export function modelFrom(m: ModelValue): Model {
  return { weights: Float64Array.from(m.weights), bias: m.bias };
}

export function modelValue(m: Model): ModelValue {
  return { weights: Array.from(m.weights), bias: m.bias };
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

