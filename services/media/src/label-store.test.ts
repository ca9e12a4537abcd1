/**
 * The media node's label publication on disk (label-store.ts) from the OPRF points stored at
 * preparation: every real box opens to its user's label under the key of the point recomputed
 * from the user's ID; the publication is reused while labels and publication are unchanged;
 * and a corrupted points file fails the publication loudly, naming the row — no box is sealed
 * with a wrong point, and nothing is installed.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { readUniverse } from '@cleanroom/shared/data/files.ts';
import { readLabels } from '@cleanroom/shared/data/labels.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { encodeLabel } from '@cleanroom/shared/common/labels.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { oprfDst } from '@cleanroom/shared/crypto/h2c.ts';
import { computePoints } from '@cleanroom/shared/crypto/oprf-tokens.ts';
import { LABEL_BOX_BYTES, labelAd, labelKey, openLabel } from '@cleanroom/shared/crypto/label-box.ts';
import { openUniverse } from './universe-store.ts';
import { openPublication } from './publication-store.ts';
import { openLabels } from './label-store.ts';
import { POINT_BYTES } from './universe-points.ts';

const log = pino({ level: 'silent' });

describe('label publication from stored points', () => {
  it('seals every real box to its ID; a corrupted points file fails it loudly and installs nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-lstore-'));
    await generateWorld(join(dir, 'world'), { seed: 'lstore', universeSize: 2000, crmSize: 200 });
    const csv = join(dir, 'world/media/universe.csv');
    const labelsCsv = join(dir, 'world/media/labels.csv');
    const stateDir = join(dir, 'state');
    const { universe } = await openUniverse({ stateDir, data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 2 });
    const { publication } = await openPublication({ stateDir, universe, log });
    const share = universe.purposes().share;
    const open = () => openLabels({ stateDir, labelsCsv, share, universeFiles: [csv], universe, publication, log });
    const made = await open();
    expect(made.reused).toBe(false);

    // Every real box opens under the recomputed point's key to the row's label; the rest open to nothing.
    const phones: (string | undefined)[] = [];
    const userIds: string[] = [];
    for await (const r of readUniverse(csv)) {
      if (!r.consent) continue;
      const n = normalizeId('phone', r.phone);
      phones.push(n.ok ? n.value : undefined);
      userIds.push(r.userId);
    }
    const labels = await readLabels(labelsCsv);
    const enc = new TextEncoder();
    const dst = oprfDst('phone', universe.epoch);
    const table = publication.tokens.get('phone')!;
    const page = table.page(0, table.count);
    const boxes = made.labels.boxes.get('phone')!.read(0, table.count);
    let opened = 0;
    let labelledRow = -1;
    for (let i = 0; i < table.count; i++) {
      const row = publication.order[page.positions[i]!]!;
      const x = enc.encode(phones[row]!);
      const token = page.tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES);
      const got = openLabel(labelKey(x, computePoints(universe.key, [x], dst)[0]!), boxes.subarray(i * LABEL_BOX_BYTES, (i + 1) * LABEL_BOX_BYTES), labelAd(universe.epoch, 'phone', token));
      const label = labels.get(userIds[row]!)?.label;
      if (label !== undefined && share[row] === 1) {
        expect(got).toEqual(encodeLabel(label));
        opened++;
        labelledRow = row;
      } else expect(got).toBeNull();
    }
    expect(opened).toBe(made.labelled.phone);
    expect(opened).toBeGreaterThan(100);
    expect((await open()).reused).toBe(true);

    // One byte of one labelled row's stored point changed: the publication refuses it.
    const points = join(universe.dir, 'points-phone.bin');
    const fd = openSync(points, 'r+');
    const b = new Uint8Array(1);
    readSync(fd, b, 0, 1, labelledRow * POINT_BYTES + 5);
    b[0]! ^= 0x01;
    writeSync(fd, b, 0, 1, labelledRow * POINT_BYTES + 5);
    closeSync(fd);
    const labelsDir = join(stateDir, 'publication', publication.version, 'labels');
    rmSync(labelsDir, { recursive: true }); // made again (as after a labels refresh)
    await expect(open()).rejects.toThrow(new RegExp(`the phone ID of token \\d+ \\(row ${labelledRow}\\) and its OPRF point do not give its published token`));
    expect(existsSync(labelsDir)).toBe(false);
    expect(existsSync(join(stateDir, 'publication', publication.version, `labels.tmp-${process.pid}`))).toBe(false);
    universe.close();
  }, 120_000);
});
