/**
 * Per-round cost of a federated session (issue 14), in one process, for N = 3, 5, 10, 20
 * members: CPU time of one member's four steps (local training separately), of the broker's
 * aggregation steps, and the payload bytes one member sends and receives per training round
 * (the protobuf encodings the links carry; signed statements add ≈ 0.4 KB per message).
 * Run: node bench/federated.bench.ts  (prints a table and writes bench/federated.results.json)
 * docs/protocol.md ("Federated learning", costs) cites these figures.
 */
import { writeFileSync } from 'node:fs';
import { SigningKey } from '@cleanroom/shared/crypto/dsse.ts';
import { generateFederatedWorld } from '@cleanroom/shared/data/federated.ts';
import { DEFAULT_TRAINING, updateVector, zeroModel } from '@cleanroom/shared/protocol/fedavg.ts';
import { FederatedAggregator } from '@cleanroom/shared/protocol/federated-aggregator.ts';
import { FederatedMember } from '@cleanroom/shared/protocol/federated-member.ts';
import {
  AdvertiseKeysCodec, KeyRosterCodec, MaskedInputCodec, RoundResultCodec, ShareDeliveryCodec, ShareKeysCodec, SurvivorsCodec, UnmaskingCodec,
} from '@cleanroom/shared/rpc/federated-codec.ts';
import { federatedPolicy } from '@cleanroom/shared/testing/federated.ts';

const ROUNDS = 5;

function cpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Row {
  members: number;
  threshold: number;
  memberStepsMs: number;
  localTrainingMs: number;
  brokerMs: number;
  memberSentBytes: number;
  memberReceivedBytes: number;
}

function run(n: number): Row {
  const world = generateFederatedWorld({ seed: 'bench', advertisers: n, testSize: 10 });
  const keys = world.advertisers.map(() => SigningKey.generate());
  const roster = world.advertisers.map((a, i) => ({ name: a.name, signingKey: keys[i]!.publicKey }));
  const policy = federatedPolicy(roster.map((r) => r.name), { rounds: ROUNDS });
  const agg = new FederatedAggregator('bench', policy, zeroModel());
  const members = world.advertisers.map((a, i) => new FederatedMember({ sessionId: 'bench', name: a.name, key: keys[i]!, roster, train: a.train, minThreshold: 2, maxRounds: ROUNDS }));
  members.forEach((m, i) => m.accepted(agg.join(i + 1, m.join())));
  agg.start();
  let memberMs = 0;
  let brokerMs = 0;
  let trainMs = 0;
  let sent = 0;
  let received = 0;
  const timeMember = <T>(f: () => T): T => {
    const t = cpu();
    const v = f();
    memberMs += cpu() - t;
    return v;
  };
  const timeBroker = <T>(f: () => T): T => {
    const t = cpu();
    const v = f();
    brokerMs += cpu() - t;
    return v;
  };
  for (let r = 1; r <= ROUNDS; r++) {
    const k = members.map((m) => timeMember(() => m.advertiseKeys()));
    sent += AdvertiseKeysCodec.encode(k[0]!).length;
    k.forEach((x, i) => timeBroker(() => agg.collectKeys(i + 1, x)));
    const roster1 = timeBroker(() => agg.closeKeys());
    received += KeyRosterCodec.encode(roster1).length;
    const s = members.map((m) => timeMember(() => m.shareKeys(roster1)));
    sent += ShareKeysCodec.encode(s[0]!).length;
    s.forEach((x, i) => timeBroker(() => agg.collectShares(i + 1, x)));
    const deliveries = timeBroker(() => agg.closeShares());
    received += ShareDeliveryCodec.encode(deliveries.get(1)!).length;
    // Local training alone (the same computation maskInput runs), to separate it from the masking.
    const t0 = cpu();
    updateVector(members[0]!.phase.kind === 'shares-sent' ? members[0]!.phase.model : zeroModel(), world.advertisers[0]!.train, DEFAULT_TRAINING);
    trainMs += cpu() - t0;
    const y = members.map((m, i) => timeMember(() => m.maskInput(deliveries.get(i + 1)!)));
    sent += MaskedInputCodec.encode(y[0]!).length;
    y.forEach((x, i) => timeBroker(() => agg.collectMasked(i + 1, x)));
    const surv = timeBroker(() => agg.closeMasked());
    received += SurvivorsCodec.encode(surv).length;
    const u = members.map((m) => timeMember(() => m.unmask(surv)));
    sent += UnmaskingCodec.encode(u[0]!).length;
    u.forEach((x, i) => timeBroker(() => agg.collectUnmask(i + 1, x)));
    const res = timeBroker(() => agg.closeUnmask());
    received += RoundResultCodec.encode(res).length;
    members.forEach((m) => m.finishRound(res));
  }
  return {
    members: n, threshold: policy.threshold,
    memberStepsMs: memberMs / n / ROUNDS, localTrainingMs: trainMs / ROUNDS, brokerMs: brokerMs / ROUNDS,
    memberSentBytes: Math.round(sent / ROUNDS), memberReceivedBytes: Math.round(received / ROUNDS),
  };
}

run(3); // warm-up (JIT), not reported
const rows = [3, 5, 10, 20].map(run);
console.log('per training round (CPU ms, one thread; bytes of payloads for member 1):');
console.log('members  t   member steps (incl. training)  local training  broker  member sent B  member received B');
for (const r of rows) {
  console.log(`${String(r.members).padStart(7)} ${String(r.threshold).padStart(2)} ${r.memberStepsMs.toFixed(1).padStart(30)} ${r.localTrainingMs.toFixed(1).padStart(15)} ${r.brokerMs.toFixed(1).padStart(7)} ${String(r.memberSentBytes).padStart(14)} ${String(r.memberReceivedBytes).padStart(18)}`);
}
writeFileSync(new URL('./federated.results.json', import.meta.url), `${JSON.stringify({ rounds: ROUNDS, rows }, null, 2)}\n`);
