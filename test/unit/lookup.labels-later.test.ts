/**
 * Labels turned on for a publication the broker already holds (an operator sets
 * CLEANROOM_LABELS on a running deployment; media keeps its publication and publishes labels
 * beside it): the broker's next sync fetches them, and a lookup then completes. Before, the
 * manifest said "unchanged" and the broker kept its label-less copy: every lookup failed with
 * FAILED_PRECONDITION "the broker holds no 'phone' labels" until the next epoch (`make demo`
 * on a state directory from before labels). The copy the sync replaced is closed once no
 * session can still read it (twice the deadline): no descriptor of its removed files stays open,
 * so their disk space is freed (before, they stayed open until the process exited).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cluster } from './nodes.ts';
import { LOOKUP_LIMITS, makeLookupWorld, type LookupWorld } from './world.ts';

describe('labels published beside a publication the broker holds', () => {
  let lw: LookupWorld;
  beforeAll(async () => {
    lw = await makeLookupWorld();
  });

  it('the next sync brings them to the broker; the lookup completes with the labels', async () => {
    const deadlineMs = 3000;
    const c = cluster(lw.w, { lookup: LOOKUP_LIMITS, deadlineMs });
    const before = await c.broker.syncUniverse();
    expect(before.labels).toBeUndefined();
    // media starts publishing labels for the same publication
    (c.media as unknown as { o: { labels: unknown } }).o.labels = lw.labels;
    const after = await c.broker.syncUniverse();
    expect(after.version).toBe(before.version);
    expect(after.labels?.version).toBe(lw.labels.version);
    const rec = await c.advertiser.startLookup({ kind: 'lookup', ids: lw.crmPhones }).done;
    expect(rec.status, rec.error).toBe('completed');
    // and an unchanged sync after that keeps them
    expect((await c.broker.syncUniverse()).labels?.version).toBe(lw.labels.version);
    // the replaced copy (same version: its directory was replaced by the new one) is closed
    const removedOpen = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith(join(c.stateDir, 'broker', 'universe')) && target.endsWith('(deleted)');
      } catch {
        return false;
      }
    }).length;
    expect(removedOpen()).toBeGreaterThan(0); // sessions could still be reading it
    await new Promise((r) => setTimeout(r, 2 * deadlineMs + 500));
    expect(removedOpen()).toBe(0);
  }, 60_000);
});
