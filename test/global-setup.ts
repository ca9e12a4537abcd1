/**
 * One temporary directory per test run: every `mkdtemp(tmpdir())` of the tests, and of the node
 * processes they start (they inherit TMPDIR), lands under it, and it is removed when the run
 * ends — a full unit run otherwise leaves thousands of worlds, state and transcript directories
 * (tens of GB) in /tmp. It is world-writable and sticky, like /tmp itself. CLEANROOM_KEEP_TEST_TMP=1
 * keeps it for a post-mortem (its path is printed).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'cleanroom-test-run-'));
  // The same mode as /tmp: a test PostgreSQL server runs as the postgres user when the tests
  // run as root, and must reach its data directory below this one.
  chmodSync(dir, 0o1777);
  process.env.TMPDIR = dir;
  return () => {
    if (process.env.CLEANROOM_KEEP_TEST_TMP === '1') {
      process.stdout.write(`test temporary files kept in ${dir}\n`);
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
