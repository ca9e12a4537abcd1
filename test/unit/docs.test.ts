/** The README's configuration table is the one the nodes validate against (no drift). */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { settingsTable } from '@cleanroom/shared/service/config.ts';

describe('docs', () => {
  it('README configuration table matches shared/src/service/config.ts', () => {
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain(settingsTable());
  });
});
