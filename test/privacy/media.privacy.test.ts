/**
 * Privacy against the media node (B), proven by attack: B plays an adversary with
 * everything it receives — per-user lists in any form, the cohort profile it decrypts,
 * counts, sizes — in one session, across repeated sessions, and across sessions that
 * differ by one seed, and must not tell the advertiser's real customers apart from its
 * other users (docs/protocol.md §4, media row).
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { makeWorld, expectedTotals, type World } from '../unit/world.ts';
import type { CrmRow } from '@cleanroom/shared/data/files.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { cluster, runSession, type SessionOutcome } from './harness.ts';
import { mulberry32 } from '@cleanroom/shared/testing/rng.ts';
import { listedAuc, MEDIA_SESSION_PAYLOADS, membershipAuc, perUserSignals, profileAuc, profileScores } from './attack.ts';

/** The cohort profile media decrypted (the advertiser receives the same totals, sealed). */
function decrypted(s: SessionOutcome): { totals: number[]; cohortSize: number } {
  return { totals: s.result.insight.map((t) => t.total), cohortSize: s.result.cohortSize };
}

function meanProfile(ss: readonly SessionOutcome[]): { totals: number[]; cohortSize: number } {
  if (ss.length === 0) throw new Error('expected at least one released profile');
  const totals = new Array(64).fill(0);
  let cohort = 0;
  for (const s of ss) {
    const d = decrypted(s);
    d.totals.forEach((t, j) => (totals[j] += t / ss.length));
    cohort += d.cohortSize / ss.length;
  }
  return { totals, cohortSize: Math.round(cohort) };
}

describe('media (B) as an adversary', () => {
  let w: World;
  let real: Set<number>;
  beforeAll(async () => {
    w = await makeWorld({ seed: 'privacy-world', universeSize: 20_000, crmSize: 2_500 });
    const rowOf = new Map(w.universe.userIds.map((id, r) => [id, r]));
    real = new Set([...expectedTotals(w).realUserIds].map((id) => rowOf.get(id)!));
  });

  it('one session: no per-user signal, and the profile does not separate real customers from look-alikes (AUC ≤ 0.55)', async () => {
    const c = cluster(w, { policy: { noiseScale: 0 } });
    await c.broker.syncUniverse();
    const s = await runSession(c);
    const signals = perUserSignals(w.universe, [s.mediaReceived]);
    const d = decrypted(s);
    const profile = profileScores(w.universe, d.totals, d.cohortSize);
    const listed = listedAuc(profile, signals, real);
    const member = membershipAuc(profile, signals, real);
    console.log(`one session: ${signals.size} users with a per-user signal at media, listed AUC ${listed.toFixed(3)}, membership AUC ${member.toFixed(3)} (the profile alone, as the look-alike uses it: ${profileAuc(profile, real).toFixed(3)})`);
    // Every kind of message media received is one that carries no per-user value.
    expect([...new Set(s.mediaReceived.map((r) => r.payloadType))].filter((t) => !MEDIA_SESSION_PAYLOADS.includes(t))).toEqual([]);
    expect(Number.isNaN(listed) || listed <= 0.55).toBe(true);
    expect(member).toBeLessThanOrEqual(0.55);
  });

  it('five repeated sessions with the same seeds: intersecting what media saw does not narrow anything', async () => {
    const c = cluster(w, { policy: { noiseScale: 0 } });
    await c.broker.syncUniverse();
    const ss: SessionOutcome[] = [];
    for (let i = 0; i < 5; i++) ss.push(await runSession(c));
    const signals = perUserSignals(w.universe, ss.map((s) => s.mediaReceived));
    const inAll = [...signals].filter(([, k]) => k === 5).map(([u]) => u);
    const realInAll = inAll.filter((u) => real.has(u)).length;
    const released = ss.filter((s) => s.outcome === 'COMPLETED');
    const m = meanProfile(released);
    const profile = profileScores(w.universe, m.totals, m.cohortSize);
    const member = membershipAuc(profile, signals, real);
    const listed = listedAuc(profile, signals, real);
    console.log(`five sessions: outcomes ${ss.map((s) => s.outcome).join(', ')}; ${inAll.length} users in every session's list (${realInAll} real), listed AUC ${listed.toFixed(3)}, membership AUC ${member.toFixed(3)}`);
    expect(inAll.length).toBe(0);
    expect(Number.isNaN(listed) || listed <= 0.55).toBe(true);
    expect(member).toBeLessThanOrEqual(0.55);
    // The same cohort again is refused (differencing rule): media receives one profile, not five to average.
    expect(released).toHaveLength(1);
  });

  it('five sessions with and five without one customer: the customer is not singled out (default policy)', async () => {
    const rowOf = new Map(w.universe.userIds.map((id, r) => [id, r]));
    const byPhone = new Map(w.users.filter((u) => u.consent).map((u) => [normalizeId('phone', u.phone), u] as const).filter(([n]) => n.ok).map(([n, u]) => [(n as { value: string }).value, u]));
    // the target: a real matched customer (consented purchaser, consented media user)
    const targetRow = w.crm.find((r) => {
      const n = normalizeId('phone', r.phone);
      return r.purchaser && r.consent && n.ok && byPhone.has(n.value);
    })!;
    const n = normalizeId('phone', targetRow.phone) as { value: string };
    const target = rowOf.get(byPhone.get(n.value)!.userId)!;
    const without = w.crm.filter((r) => r !== targetRow);
    // One advertiser, one broker: its CRM loses and regains the target between sessions.
    const c = cluster(w, { uniform: mulberry32(20261130) });
    await c.broker.syncUniverse();
    const a: SessionOutcome[] = [];
    const b: SessionOutcome[] = [];
    for (let i = 0; i < 5; i++) {
      c.useCrm(without);
      a.push(await runSession(c));
      c.useCrm(w.crm);
      b.push(await runSession(c));
    }
    // Attack: users listed more often with the customer than without, then the difference of
    // the mean released profiles (the customer's vector plus noise) as a linear score.
    const ra = a.filter((s) => s.outcome === 'COMPLETED');
    const rb = b.filter((s) => s.outcome === 'COMPLETED');
    const sa = perUserSignals(w.universe, a.map((s) => s.mediaReceived));
    const sb = perUserSignals(w.universe, b.map((s) => s.mediaReceived));
    let share = 1; // with no released profile on one side, media has nothing to difference
    if (ra.length > 0 && rb.length > 0) {
      const ma = meanProfile(ra);
      const mb = meanProfile(rb);
      const diff = mb.totals.map((t, j) => t - ma.totals[j]!);
      const score = (u: number) => {
        let s = ((sb.get(u) ?? 0) - (sa.get(u) ?? 0)) * 1e6;
        for (let j = 0; j < 64; j++) if ((w.universe.packed[u * 8 + (j >> 3)]! >> (j & 7)) & 1) s += diff[j]!;
        return s;
      };
      const t = score(target);
      let atLeast = 0;
      for (let u = 0; u < w.universe.size; u++) if (score(u) >= t) atLeast++;
      share = atLeast / w.universe.size;
    }
    console.log(`differencing: without the target ${a.map((s) => s.outcome).join(', ')}; with it ${b.map((s) => s.outcome).join(', ')}; the target hides among ${(share * 100).toFixed(1)} % of media's users`);
    expect(sa.size + sb.size).toBe(0);
    // Every session with the target was refused: it differs from the released cohort by one user.
    expect(rb).toHaveLength(0);
    expect(share).toBeGreaterThanOrEqual(0.1);
  });

  it('media does not learn the seed count beyond the padded-size bucket', async () => {
    // Two advertisers with the same matched customers; the second adds 250 customers who
    // are not media users (more seeds, same bucket, same cohort).
    const mediaPhones = new Set(w.users.map((u) => normalizeId('phone', u.phone)).filter((n) => n.ok).map((n) => (n as { value: string }).value));
    const extra: CrmRow[] = [];
    for (let i = 0; extra.length < 250; i++) {
      const phone = `+8613900${String(100000 + i).padStart(6, '0')}`;
      if (mediaPhones.has(phone)) continue;
      extra.push({ customerId: `X${i}`, phone, email: `x${i}@example.org`, purchaser: true, rfm: 'new', consent: true } as CrmRow);
    }
    const views = [];
    for (const crm of [w.crm, [...w.crm, ...extra]]) {
      const c = cluster(w, { crm, policy: { noiseScale: 0 } });
      await c.broker.syncUniverse();
      const s = await runSession(c);
      const signals = perUserSignals(w.universe, [s.mediaReceived]);
      const blind = s.mediaReceived.filter((r) => r.round === 'BLIND').reduce((a, r) => a + r.payload.length, 0);
      views.push({ seeds: c.advertiser.sessions.get(s.sessionId)!.progress.validSeeds, blindBytes: blind, listed: signals.size, cohort: s.result.cohortSize });
    }
    console.log('media\'s view with n1 and n2 seeds:', JSON.stringify(views));
    expect(views[0]!.seeds).not.toBe(views[1]!.seeds);
    // Everything media can count is the same for both seed counts.
    expect(views[1]!.blindBytes).toBe(views[0]!.blindBytes);
    expect(views[1]!.listed).toBe(views[0]!.listed);
    expect(views[1]!.cohort).toBe(views[0]!.cohort);
  });
});
