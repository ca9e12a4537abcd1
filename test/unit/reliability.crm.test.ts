/**
 * Issue 9, item 9 (the report): the CRM lines the CSV reader rejects are part of every
 * session's seed report — counted, with their first reasons (file:line: why, never an ID
 * value) — not only a log line at start-up.
 */
import { describe, expect, it } from 'vitest';
import { appendFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCrm } from '@cleanroom/shared/data/files.ts';
import { makeWorld } from './world.ts';
import { memoryCluster } from './memory-cluster.ts';

describe('the seed report carries the CSV rejections', () => {
  it('counts and lists them', async () => {
    const w = await makeWorld({ universeSize: 4000, crmSize: 600 });
    const path = join(w.dir, 'advertiser', 'crm-with-bad-lines.csv');
    copyFileSync(join(w.dir, 'advertiser', 'crm.csv'), path);
    appendFileSync(path, 'X1,"+86138 unterminated,,1,champions,1\nX2,+8613800000002,,maybe,champions,1\n');
    const crm = await readCrm(path);
    expect(crm.rejected.length).toBeGreaterThanOrEqual(2);
    const c = memoryCluster({ ...w, crm: crm.rows }, { minCohort: 10, crmRejected: crm.rejected });
    await c.broker.syncUniverse();
    const rec = await c.advertiser.start({ audienceSize: 200, minCohort: 10 }).done;
    c.close();
    expect(rec.status).toBe('completed');
    const seeds = (rec.result as { seeds: { csvRejected: number; csvRejectedReasons: string[] } }).seeds;
    expect(seeds.csvRejected).toBe(crm.rejected.length);
    expect(seeds.csvRejectedReasons).toEqual(crm.rejected.slice(0, 20).map((r) => r.reason));
    expect(seeds.csvRejectedReasons.join('\n')).toMatch(/crm-with-bad-lines\.csv:\d+: expected a closing quote/);
    expect(seeds.csvRejectedReasons.join('\n')).not.toMatch(/8613800000002/);
  });
});
