// The broker's copy of media's publication on disk: synced once, loaded again at start-up
// (sessions can start at once); a copy in an older on-disk layout is not loaded (it is
// synced again instead of being misread).
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeWorld } from '../../../test/unit/world.ts';
import { cluster } from '../../../test/unit/nodes.ts';
import { loadHeld } from './universe-store.ts';

describe('broker universe store', () => {
  it('loads the synced copy again; refuses a copy in another layout', async () => {
    const w = await makeWorld({ universeSize: 2000, crmSize: 300 });
    const c = cluster(w);
    const synced = await c.broker.syncUniverse();
    const stateDir = join(c.stateDir, 'broker');
    const held = await loadHeld(stateDir);
    expect(held?.version).toBe(synced.version);
    expect(held?.ciphertexts.count).toBe(synced.ciphertexts.count);
    expect(held?.tables.get('phone')?.size).toBe(synced.tables.get('phone')?.size);
    held?.bfv.dispose();
    const dir = join(stateDir, 'universe', readdirSync(join(stateDir, 'universe')).find((f) => f !== 'CURRENT')!);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    delete m.format;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    expect(await loadHeld(stateDir)).toBeUndefined();
  });
});
