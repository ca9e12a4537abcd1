/**
 * A federated session between real processes: the broker and three advertiser nodes, each with
 * its own certificate and transcript key, over gRPC with mutual TLS on loopback
 * (`cleanroom simulate --kind federated`). One advertiser's process is killed mid-session: the
 * broker's step times out and the two others finish on their sum; the surviving links' transcripts
 * verify with the roster's keys.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulateFederated } from '../../cli/src/simulate-federated.ts';

describe('federated session over gRPC between processes', () => {
  it('completes with a member killed mid-session; the others\' model and links verify', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cleanroom-fedgrpc-'));
    const code = await simulateFederated({ out, seed: 'cleanroom', advertisers: 3, rounds: 6, threshold: undefined, stepSeconds: 6, plaintext: false, quiet: true, dropout: { member: 3, afterRound: 2 } });
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(code).toBe(0);
    expect(r.status).toBe('completed');
    expect(r.rounds).toHaveLength(6);
    expect(r.rounds[0].contributors).toBe(3);
    expect(r.rounds.at(-1).contributors).toBe(2);
    expect(r.rounds.some((x: { dropped: number[] }) => x.dropped.includes(3))).toBe(true);
    expect(r.rounds.at(-1).rows).toBe(260 + 420);
    expect(r.advertisers.map((a: { status: string }) => a.status)).toEqual(['completed', 'completed', 'killed']);
    expect(r.audit.perLink.slice(0, 2).map((l: { ok: boolean }) => l.ok)).toEqual([true, true]);
    const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(model.weights).toHaveLength(20);
  });
});
