/**
 * Tests and benches only: runs a federated session with the member and aggregator roles called
 * directly (no transport), so the protocol's arithmetic, dropouts and what the broker sees can
 * be checked in isolation. The rpc layer runs exactly the same roles over signed envelopes.
 *
 * `dropout` makes a member go silent from a given round and step on; `observeMasked` sees every
 * masked input the aggregator receives (the broker's view) with the member's true update.
 */
import { SigningKey } from '../crypto/dsse.ts';
import type { FederatedAdvertiserData } from '../data/federated.ts';
import { DEFAULT_TRAINING, FRAC_BITS, UPDATE_LENGTH, zeroModel, type TrainingParams } from '../protocol/fedavg.ts';
import { defaultThreshold, FederatedAggregator } from '../protocol/federated-aggregator.ts';
import { FederatedMember } from '../protocol/federated-member.ts';
import type { FederatedPolicy, RoundResult, Unmasking } from '../protocol/federated-messages.ts';

export type Step = 'keys' | 'shares' | 'masked' | 'unmask';

export interface LocalRunOptions {
  sessionId?: string;
  rounds: number;
  threshold?: number;
  training?: TrainingParams;
  convergenceTol?: number;
  dropout?: { member: number; round: number; step: Step };
  observeMasked?: (round: number, member: number, words: Uint8Array, roles: { member: FederatedMember; aggregator: FederatedAggregator }) => void;
  observeUnmask?: (round: number, member: number, u: Unmasking) => void;
}

export function federatedPolicy(names: string[], o: { rounds: number; threshold?: number; training?: TrainingParams; convergenceTol?: number }): FederatedPolicy {
  const t = o.training ?? DEFAULT_TRAINING;
  return {
    roster: names, threshold: o.threshold ?? defaultThreshold(names.length), rounds: o.rounds, convergenceTol: o.convergenceTol ?? 0,
    localEpochs: t.localEpochs, learningRate: t.learningRate, l2: t.l2, fracBits: FRAC_BITS, updateLength: UPDATE_LENGTH,
  };
}

export function runLocalFederation(data: readonly FederatedAdvertiserData[], o: LocalRunOptions): { aggregator: FederatedAggregator; members: FederatedMember[]; results: RoundResult[] } {
  const sessionId = o.sessionId ?? 'fed-local';
  const keys = data.map(() => SigningKey.generate());
  const roster = data.map((d, i) => ({ name: d.name, signingKey: keys[i]!.publicKey }));
  const policy = federatedPolicy(data.map((d) => d.name), o);
  const agg = new FederatedAggregator(sessionId, policy, zeroModel());
  const members = data.map((d, i) => new FederatedMember({
    sessionId, name: d.name, key: keys[i]!, roster, train: d.train, minThreshold: 2, maxRounds: 10_000,
  }));
  members.forEach((m, i) => m.accepted(agg.join(i + 1, m.join())));
  agg.start();
  const silent = (idx: number, round: number, step: Step): boolean => {
    const d = o.dropout;
    if (!d || d.member !== idx) return false;
    const order: Step[] = ['keys', 'shares', 'masked', 'unmask'];
    return round > d.round || (round === d.round && order.indexOf(step) >= order.indexOf(d.step));
  };
  const results: RoundResult[] = [];
  for (let round = 1; ; round++) {
    const live = () => members.map((m, i) => ({ m, idx: i + 1 })).filter(({ idx }) => agg.expected.has(idx));
    for (const { m, idx } of live()) if (!silent(idx, round, 'keys')) agg.collectKeys(idx, m.advertiseKeys());
    const roster1 = agg.closeKeys();
    for (const { m, idx } of live()) if (!silent(idx, round, 'shares')) agg.collectShares(idx, m.shareKeys(roster1));
    const deliveries = agg.closeShares();
    for (const { m, idx } of live()) {
      if (silent(idx, round, 'masked')) continue;
      const masked = m.maskInput(deliveries.get(idx)!);
      agg.collectMasked(idx, masked);
      o.observeMasked?.(round, idx, masked.words, { member: m, aggregator: agg });
    }
    const survivors = agg.closeMasked();
    for (const { m, idx } of live()) {
      if (silent(idx, round, 'unmask')) continue;
      const u = m.unmask(survivors);
      o.observeUnmask?.(round, idx, u);
      agg.collectUnmask(idx, u);
    }
    const result = agg.closeUnmask();
    results.push(result);
    for (const [i, m] of members.entries()) if (m.phase.kind === 'unmask-sent' && !silent(i + 1, round, 'unmask')) m.finishRound(result);
    if (result.done) break;
  }
  return { aggregator: agg, members, results };
}
