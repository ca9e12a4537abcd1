// The GC tally the broker logs with its sync: collections that happen while it runs are
// counted (short-lived garbage forces scavenges), none after stop(), and stop() is idempotent.
import { describe, expect, it } from 'vitest';
import { startGcTally } from './gc-tally.ts';

/** Allocates ≈ `mib` MiB of short-lived objects (more than the young generation holds). */
function churn(mib: number): number {
  const ring: number[][] = new Array(64);
  for (let i = 0; i < mib * 1024; i++) ring[i & 63] = new Array(128).fill(i);
  return ring.length;
}

describe('GC tally', () => {
  it('counts the collections between start and stop, and nothing after', async () => {
    const t = startGcTally();
    churn(256);
    const got = await t.stop();
    expect(got.minor + got.major + got.other).toBeGreaterThan(0);
    expect(got.ms).toBeGreaterThanOrEqual(0);
    churn(256);
    await new Promise((r) => setTimeout(r, 20));
    expect(await t.stop()).toEqual(got);
  });
});
