// The broker's copy of media's publication on disk: synced once, loaded again at start-up
// (sessions can start at once); a copy in an older on-disk layout is not loaded (it is
// synced again instead of being misread) — among them the table-v2 copy of 16-byte tokens.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeWorld } from '../../../test/unit/world.ts';
import { cluster } from '../../../test/unit/nodes.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
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
    // The table holds TOKEN_BYTES (12) per token, position and row.
    expect(statSync(join(dir, 'table-phone.bin')).size).toBe(synced.tables.get('phone')!.size * (TOKEN_BYTES + 8));
    // A copy written before tokens were 12 bytes: table-v2 layout, 16-byte tokens (24-byte records).
    const table = readFileSync(join(dir, 'table-phone.bin'));
    const n = table.length / (TOKEN_BYTES + 8);
    const old = Buffer.alloc(n * 24);
    for (let i = 0; i < n; i++) {
      table.copy(old, i * 24, i * (TOKEN_BYTES + 8), i * (TOKEN_BYTES + 8) + TOKEN_BYTES);
      table.copy(old, i * 24 + 16, i * (TOKEN_BYTES + 8) + TOKEN_BYTES, (i + 1) * (TOKEN_BYTES + 8));
    }
    writeFileSync(join(dir, 'table-phone.bin'), old);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, format: 'ntt-v1+table-v2' }));
    expect(await loadHeld(stateDir)).toBeUndefined();
    delete m.format;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    expect(await loadHeld(stateDir)).toBeUndefined();
  });
});
