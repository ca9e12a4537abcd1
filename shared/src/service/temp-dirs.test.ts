// removeStaleTemps: the `<base>.tmp-<pid>` entries other processes left are removed, this
// process's own (also `.tmp-<pid>-<suffix>`) and every other name kept; a pid that is a prefix
// of another is not taken for it; `base` narrows the removal to one path's leftovers.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTemps } from './temp-dirs.ts';

describe('removeStaleTemps', () => {
  it('removes what other processes left aside, keeps this process\'s own and everything else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-temps-'));
    const own = `.tmp-${process.pid}`;
    const names = [
      `staging${own}`, `e1${own}-ab12`, // this process's: kept
      'staging.tmp-1', `staging.tmp-${process.pid}0`, `e1.tmp-${process.pid}1-ab12`, 'labels.tmp-77', // others': removed
      'staging', 'e1', 'CURRENT', 'x.tmp-', 'y.tmp-abc', 'not-a.tmp', // not temporaries: kept
    ];
    for (const n of names) (n.startsWith('e1') ? mkdirSync(join(dir, n)) : writeFileSync(join(dir, n), 'x'));
    mkdirSync(join(dir, 'deep.tmp-5', 'spill'), { recursive: true });
    expect(removeStaleTemps(dir, 'staging').sort()).toEqual(['staging.tmp-1', `staging.tmp-${process.pid}0`]);
    expect(removeStaleTemps(dir).sort()).toEqual(['deep.tmp-5', `e1.tmp-${process.pid}1-ab12`, 'labels.tmp-77']);
    expect(readdirSync(dir).sort()).toEqual(['CURRENT', 'e1', `e1${own}-ab12`, 'not-a.tmp', 'staging', `staging${own}`, 'x.tmp-', 'y.tmp-abc'].sort());
    expect(removeStaleTemps(join(dir, 'missing'))).toEqual([]);
  });
});
