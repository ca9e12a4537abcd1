/**
 * One temporary directory per test run: every `mkdtemp(tmpdir())` of the tests, and of the node
 * processes they start (they inherit TMPDIR), lands under it, and it is removed when the run
 * ends — a full unit run otherwise leaves thousands of worlds, state and transcript directories
 * (tens of GB) in /tmp. CLEANROOM_KEEP_TEST_TMP=1 keeps it for a post-mortem (its path is printed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'cleanroom-test-run-'));
  process.env.TMPDIR = dir;
  return () => {
    if (process.env.CLEANROOM_KEEP_TEST_TMP === '1') {
      process.stdout.write(`test temporary files kept in ${dir}\n`);
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
