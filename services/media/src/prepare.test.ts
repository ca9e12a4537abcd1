/**
 * The universe-preparation one-shot (the Kubernetes Job): prepares the universe and its
 * publication into the state dir and exits 0; a second run, and the media node's stores after
 * it, reuse both (the restored publication key decrypts the stored ciphertexts); a missing
 * data file exits 2 with a message naming the setting.
 */
import { describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { openUniverse, PREPARE_LOG_EVERY_MS, rowsProgress } from './universe-store.ts';
import { openPublication } from './publication-store.ts';
import { pino } from 'pino';

const PREPARE = fileURLToPath(new URL('./prepare.ts', import.meta.url));

describe('media universe preparation one-shot (services/media/src/prepare.ts)', () => {
  it('prepares, then reuses; the node-side store reuses it too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-prepare-'));
    await generateWorld(join(dir, 'world'), { seed: 'prepare', universeSize: 3000, crmSize: 300 });
    const env = { ...process.env, CLEANROOM_DATA: join(dir, 'world/media/universe.csv'), CLEANROOM_STATE_DIR: join(dir, 'state'), CLEANROOM_UNIVERSE_EPOCH: 'e-job', CLEANROOM_LOG_LEVEL: 'silent', CLEANROOM_EVAL_THREADS: '1' };
    const first = spawnSync(process.execPath, [PREPARE], { env, encoding: 'utf8' });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const s1 = JSON.parse(first.stdout);
    expect(s1).toMatchObject({ epoch: 'e-job', reused: false });
    expect(s1.users).toBeGreaterThan(2000);
    expect(s1.computed).toBe(s1.users);
    const second = spawnSync(process.execPath, [PREPARE], { env, encoding: 'utf8' });
    expect(second.status).toBe(0);
    expect(s1.publication).toMatchObject({ reused: false });
    expect(s1.publication.ciphertexts).toBeGreaterThan(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ epoch: 'e-job', reused: true, users: s1.users, publication: { reused: true, version: s1.publication.version } });
    // what the node does at start-up with the same settings
    const opened = await openUniverse({ stateDir: join(dir, 'state'), data: env.CLEANROOM_DATA, idTypes: ['phone'], epoch: 'e-job', log: pino({ level: 'silent' }), threads: 1 });
    expect(opened.status.reused).toBe(true);
    const pub = await openPublication({ stateDir: join(dir, 'state'), universe: opened.universe, log: pino({ level: 'silent' }) });
    expect(pub.reused).toBe(true);
    expect(pub.publication.version).toBe(s1.publication.version);
    // the restored secret key is the publication's: its ciphertexts decrypt with budget to spare
    expect(pub.publication.bfv.noiseBudgetBits(pub.publication.ciphertexts.get(0), 'first')).toBeGreaterThan(0);
  });

  it('a missing data file exits 2 naming the setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-prepare-'));
    const r = spawnSync(process.execPath, [PREPARE], { env: { ...process.env, CLEANROOM_DATA: join(dir, 'nope.csv'), CLEANROOM_STATE_DIR: join(dir, 'state'), CLEANROOM_LOG_LEVEL: 'silent' }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/CLEANROOM_DATA=.*nope\.csv/);
  });
});

describe('universe preparation progress', () => {
  it('reports the rows read to the caller and logs them at most every PREPARE_LOG_EVERY_MS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-progress-'));
    await generateWorld(join(dir, 'world'), { seed: 'progress', universeSize: 3000, crmSize: 300 });
    const seen: number[] = [];
    const opened = await openUniverse({ stateDir: join(dir, 'state'), data: join(dir, 'world/media/universe.csv'), idTypes: ['phone'], epoch: 'e-progress', log: pino({ level: 'silent' }), threads: 1, onRows: (r) => seen.push(r) });
    // every 100,000 rows, and the total at the end (rows without consent included)
    expect(seen).toEqual([3000]);
    expect(opened.status.users).toBeLessThan(3000);
  });

  it('rowsProgress: one line per interval with the rows read and the rate', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const lines: Record<string, unknown>[] = [];
      const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
      const rows: number[] = [];
      const report = rowsProgress(log, { epoch: 'e1' }, (r) => rows.push(r));
      report(100_000);
      vi.advanceTimersByTime(PREPARE_LOG_EVERY_MS - 1);
      report(200_000);
      expect(lines).toEqual([]);
      vi.advanceTimersByTime(1);
      report(300_000);
      vi.advanceTimersByTime(PREPARE_LOG_EVERY_MS / 2);
      report(400_000);
      expect(rows).toEqual([100_000, 200_000, 300_000, 400_000]);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ msg: 'preparing the universe', epoch: 'e1', rowsRead: 300_000, rowsPerSecond: 60_000, seconds: 5 });
    } finally {
      vi.useRealTimers();
    }
  });
});
