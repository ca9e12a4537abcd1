/**
 * Federated sessions through the broker's hub and N member nodes over in-memory peers: the
 * same signed envelopes and transcripts as over gRPC. A session completes with every member
 * holding the broker's model; a member dropping out mid-round is closed out by the step timeout
 * and the others finish on the sum of the rest; forged, replayed, impersonated and
 * out-of-round updates are refused with precise codes and the session still completes.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { formatReport, verifyPaths } from '@cleanroom/shared/transcript/verify.ts';
import { join } from 'node:path';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { sealEnvelope, type Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { SigningKey } from '@cleanroom/shared/crypto/dsse.ts';
import type { Peer } from '@cleanroom/shared/rpc/peer.ts';
import { federation } from './federated.fixture.ts';

describe('federated session over in-memory peers', () => {
  it('completes: every member holds the broker\'s model; transcripts on every link', async () => {
    const f = federation();
    const { sessionId, done } = f.hub.create({ rounds: 4 });
    const results = await Promise.all(f.members.map((m) => m.join(sessionId).done));
    await done;
    const broker = f.hub.result(sessionId)!;
    expect(broker.status).toBe('completed');
    expect(broker.rounds.map((r) => r.contributors)).toEqual([3, 3, 3, 3]);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.status).toBe('completed');
      expect(r.model).toEqual(broker.model);
      expect(r.rounds.map((x) => x.loss)).toEqual(broker.rounds.map((x) => x.loss));
      expect(r.test!.federated!.auc).toBeGreaterThan(0.6);
      for (const party of ['advertiser', 'broker']) expect(existsSync(join(f.transcriptDir, r.transcript, `${party}.jsonl`))).toBe(true);
    }
    // The auditor verifies every link with the roster's keys: all checks hold, the session completed.
    const reports = verifyPaths(results.map((r) => join(f.transcriptDir, r.transcript)), f.trust, f.trustFor);
    expect(reports).toHaveLength(3);
    for (const rep of reports) {
      expect(rep.ok, formatReport(rep)).toBe(true);
      expect(rep.outcome.state).toBe('completed');
    }
    // Without the roster (the trust bundle's advertiser key) the members' signatures do not verify.
    expect(verifyPaths([join(f.transcriptDir, results[0]!.transcript)], f.trust)[0]!.ok).toBe(false);
    // A link cut before its last RoundResult is incomplete; rounds out of order are named.
    const file = join(f.transcriptDir, results[1]!.transcript, 'advertiser.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    writeFileSync(file, lines.slice(0, -1).join('\n') + '\n');
    const cut = verifyPaths([join(f.transcriptDir, results[1]!.transcript)], f.trust, f.trustFor)[0]!;
    expect(cut.ok).toBe(false);
    expect(cut.outcome.state).toBe('incomplete');
  });

  it('a member that drops out mid-round: the step times out and the rest finish on their sum', async () => {
    const f = federation({ stepTimeoutMs: 5000, dropBefore: { 3: { round: 2, step: 'FED_MASKED' } } });
    const { sessionId, done } = f.hub.create({ rounds: 3 });
    const results = await Promise.all(f.members.map((m) => m.join(sessionId).done));
    await done;
    const broker = f.hub.result(sessionId)!;
    expect(broker.status).toBe('completed');
    expect(broker.rounds.map((r) => r.contributors)).toEqual([3, 2, 2]);
    expect(broker.rounds[1]!.dropped).toEqual([3]);
    expect(broker.rounds[1]!.rows).toBe(f.world.advertisers[0]!.train.rows + f.world.advertisers[1]!.train.rows);
    expect(results[2]!.status).toBe('dropped');
    expect(results[0]!.status).toBe('completed');
    expect(results[0]!.model).toEqual(broker.model);
  });

  it('below the threshold the session fails for everyone with the step named', async () => {
    const f = federation({ stepTimeoutMs: 5000, dropBefore: { 2: { round: 1, step: 'FED_SHARES' }, 3: { round: 1, step: 'FED_SHARES' } } });
    const { sessionId, done } = f.hub.create({ rounds: 2 });
    const results = await Promise.all(f.members.map((m) => m.join(sessionId).done));
    await done;
    expect(f.hub.result(sessionId)!.status).toBe('failed');
    expect(results[0]!.error).toMatch(/FAILED_PRECONDITION: SHARES: 1 members, below the threshold 2/);
  });

  it('refuses forged, replayed, impersonated and out-of-round updates precisely; the session still completes', async () => {
    const refusals: string[] = [];
    const tryCall = async (base: Peer<'Broker'>, env: Envelope, method: 'FederatedMasked' = 'FederatedMasked') => {
      try {
        await base.call(method, [env]);
        refusals.push('accepted!');
      } catch (err) {
        refusals.push(`${(err as ProtocolError).code}: ${(err as Error).message}`);
      }
    };
    const attacker = SigningKey.generate();
    // Member 3 holds its masked input back until member 1's attacks are done, so the step is
    // still open when member 1's genuine update is replayed.
    let attacksDone = () => {};
    const attacked = new Promise<void>((r) => (attacksDone = r));
    let f: ReturnType<typeof federation> | undefined;
    f = federation({
      wrap: (index, base) => index === 2 ? base : index === 3 ? {
        async call(method, envs, deadline) {
          if (JSON.parse(new TextDecoder().decode(envs[0]!.statement)).round === 'FED_MASKED') await attacked;
          return base.call(method, envs, deadline);
        },
      } : {
        async call(method, envs, deadline) {
          const env = envs[0]!;
          const st = JSON.parse(new TextDecoder().decode(env.statement));
          if (st.round === 'FED_MASKED' && refusals.length === 0) {
            // 1. the masked update with one word altered (statement and signature kept)
            const altered = { ...env, payload: Uint8Array.from(env.payload) };
            altered.payload[altered.payload.length - 1]! ^= 1;
            await tryCall(base, altered);
            // 2. the same statement re-signed by a key that is not member 1's
            await tryCall(base, { ...env, signatures: [attacker.sign('application/vnd.cleanroom.statement+json; version=1', env.statement)] });
            // 3. member 1 speaking on member 2's link, signing with its own key
            const m2 = { ...st, sessionId: st.sessionId.replace(/-m1$/, '-m2') };
            delete m2.v; delete m2.payloadSha256; delete m2.payloadSize; delete m2.sentAt;
            await tryCall(base, sealEnvelope(f!.memberKeys[0]!, m2, env.payload).envelope);
            // 4. a round that is not the current step (FED_UNMASK now)
            const early = { ...st, round: 'FED_UNMASK' };
            delete early.v; delete early.payloadSha256; delete early.payloadSize; delete early.sentAt;
            await tryCall(base, sealEnvelope(f!.memberKeys[0]!, early, env.payload).envelope);
            // the genuine update, then 5. its replay while the step is still open
            const genuine = base.call(method, envs, deadline);
            await tryCall(base, env);
            attacksDone();
            return genuine;
          }
          return base.call(method, envs, deadline);
        },
      },
    });
    const { sessionId, done } = f.hub.create({ rounds: 2 });
    const results = await Promise.all(f.members.map((m) => m.join(sessionId).done));
    await done;
    expect(refusals).toHaveLength(5);
    expect(refusals[0]).toMatch(/^INVALID_ARGUMENT: envelope rejected \(digest-mismatch\)/);
    expect(refusals[1]).toMatch(/^PERMISSION_DENIED: envelope rejected \(bad-signature\): signature does not verify under advertiser's pinned key/);
    expect(refusals[2]).toMatch(/^PERMISSION_DENIED: envelope rejected \(bad-signature\)/);
    expect(refusals[3]).toMatch(/^FAILED_PRECONDITION: envelope rejected \(wrong-round\): expected round FED_MASKED, got FED_UNMASK/);
    expect(refusals[4]).toMatch(/^ALREADY_EXISTS: envelope rejected \(replay\)/);
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    expect(f.hub.result(sessionId)!.rounds.map((r) => r.contributors)).toEqual([3, 3]);
  });
});
