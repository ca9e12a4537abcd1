/**
 * The label join on disk (label-join.ts): for every universe row it gives exactly what the
 * in-memory join by user_id gives — the row's label when the user has one and consented to
 * data sharing, and its normalised IDs — with no map of users, from one universe CSV or the
 * files of a split source read in order; and it refuses a universe CSV
 * whose consented rows are not the prepared universe's, and a labels CSV that names a user twice.
 */
import { describe, expect, it } from 'vitest';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { readUniverse } from '@cleanroom/shared/data/files.ts';
import { readLabels } from '@cleanroom/shared/data/labels.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { encodeLabel } from '@cleanroom/shared/common/labels.ts';
import { openUniverse } from './universe-store.ts';
import { joinLabels } from './label-join.ts';

const log = pino({ level: 'silent' });

describe('label join on disk', () => {
  it('gives each row the label and IDs of the in-memory join; refuses another universe and a user labelled twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ljoin-'));
    await generateWorld(join(dir, 'world'), { seed: 'ljoin', universeSize: 3000, crmSize: 300 });
    const csv = join(dir, 'world/media/universe.csv');
    const labelsCsv = join(dir, 'world/media/labels.csv');
    const { universe } = await openUniverse({ stateDir: join(dir, 'state'), data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 1 });
    const share = universe.purposes().share;
    const work = join(dir, 'work');
    mkdirSync(work);
    const joined = await joinLabels(work, { labelsCsv, universeFiles: [csv], universe, share, types: ['phone'] });
    const labels = await readLabels(labelsCsv);
    let row = 0;
    let labelled = 0;
    for await (const r of readUniverse(csv)) {
      if (!r.consent) continue;
      const l = labels.get(r.userId);
      const n = normalizeId('phone', r.phone);
      if (share[row] === 1) {
        expect(joined.labelOf(row) && Buffer.from(joined.labelOf(row)!).toString('hex')).toBe(l && Buffer.from(encodeLabel(l.label)).toString('hex'));
        expect(joined.idOf(row, 'phone')).toBe(n.ok ? n.value : undefined);
        if (l) labelled++;
      } else {
        expect(joined.labelOf(row)).toBeUndefined();
        expect(joined.idOf(row, 'phone')).toBeUndefined();
      }
      row++;
    }
    expect(row).toBe(universe.size);
    expect(labelled).toBeGreaterThan(500);

    // the same universe as a split source (two files with their headers, read in order): the same join
    const [head, ...body] = readFileSync(csv, 'utf8').trimEnd().split('\n');
    const parts = [join(dir, 'part-0.csv'), join(dir, 'part-1.csv')];
    writeFileSync(parts[0]!, `${[head, ...body.slice(0, 1234)].join('\n')}\n`);
    writeFileSync(parts[1]!, `${[head, ...body.slice(1234)].join('\n')}\n`);
    const ws = join(dir, 'work-split');
    mkdirSync(ws);
    const split = await joinLabels(ws, { labelsCsv, universeFiles: parts, universe, share, types: ['phone'] });
    for (let r = 0; r < universe.size; r++) {
      expect(split.labelOf(r) && Buffer.from(split.labelOf(r)!).toString('hex'), `row ${r}`).toBe(joined.labelOf(r) && Buffer.from(joined.labelOf(r)!).toString('hex'));
      expect(split.idOf(r, 'phone'), `row ${r}`).toBe(joined.idOf(r, 'phone'));
    }
    split.close();
    joined.close();

    // a universe CSV that is not the prepared one: refused with the row
    const other = join(dir, 'other.csv');
    const lines = readFileSync(csv, 'utf8').split('\n');
    writeFileSync(other, [lines[0], ...lines.slice(2)].join('\n'));
    const w2 = join(dir, 'work2');
    mkdirSync(w2);
    await expect(joinLabels(w2, { labelsCsv, universeFiles: [other], universe, share, types: ['phone'] })).rejects.toThrow(/consented row|consented rows/);

    // a user labelled twice: refused
    const twice = join(dir, 'twice.csv');
    copyFileSync(labelsCsv, twice);
    appendFileSync(twice, `${readFileSync(labelsCsv, 'utf8').split('\n')[1]}\n`);
    const w3 = join(dir, 'work3');
    mkdirSync(w3);
    await expect(joinLabels(w3, { labelsCsv: twice, universeFiles: [csv], universe, share, types: ['phone'] })).rejects.toThrow(/appears twice/);
  });
});
