/**
 * staleWorld: `cleanroom simulate` (and `make demo`) reuse a world only when it is of the sizes,
 * seed and generator layout asked for. A world from before first-party tags, purpose consent and
 * labels was reused, and every kind after the look-alike then selected nobody (`make demo`
 * exited 1: "the predicate selects no consented CRM row").
 */
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateWorld } from './generate.ts';
import { staleWorld } from './files.ts';
import { CRM_HEADER_V1, UNIVERSE_HEADER_V1 } from './format.ts';

const WANT = { seed: 'stale', universeSize: 3000, crmSize: 400 };

describe('staleWorld', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cleanroom-stale-'));
    await generateWorld(dir, WANT);
  });

  /** A copy of the world in which `edit` changed one thing. */
  async function variant(edit: (d: string) => void): Promise<string> {
    const d = mkdtempSync(join(tmpdir(), 'cleanroom-stale-'));
    await generateWorld(d, WANT);
    edit(d);
    return d;
  }

  /** Replaces the first line of `path` by `header`. */
  function reheader(path: string, header: string): void {
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, header + text.slice(text.indexOf('\n')));
  }

  it('reuses a world of the sizes, seed and layout asked for', () => {
    expect(staleWorld(dir, WANT)).toBeUndefined();
    expect(staleWorld(dir, { universeSize: 3000, crmSize: 400 })).toBeUndefined();
  });

  it('says why it does not reuse one: none there, other sizes, another seed', () => {
    expect(staleWorld(join(dir, 'nothing'), WANT)).toBe('no world there yet');
    expect(staleWorld(dir, { ...WANT, universeSize: 4000 })).toMatch(/3000 media users and 400 customers/);
    expect(staleWorld(dir, { ...WANT, seed: 'other' })).toMatch(/seed 'stale'/);
  });

  it('does not reuse a world of an older generator: old CRM header, old universe header, no labels', async () => {
    const oldCrm = await variant((d) => reheader(join(d, 'advertiser', 'crm.csv'), CRM_HEADER_V1));
    expect(staleWorld(oldCrm, WANT)).toMatch(/older generator/);
    const oldUniverse = await variant((d) => reheader(join(d, 'media', 'universe.csv'), UNIVERSE_HEADER_V1));
    expect(staleWorld(oldUniverse, WANT)).toMatch(/older generator/);
    const noLabels = await variant((d) => rmSync(join(d, 'media', 'labels.csv')));
    expect(staleWorld(noLabels, WANT)).toMatch(/older generator/);
  });
});
