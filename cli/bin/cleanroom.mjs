#!/usr/bin/env node
// The `cleanroom` command. The sources are TypeScript run by Node's type stripping
// (Node >= 22.18). On an older Node (e.g. the Node 20 of a build machine) this shim
// re-runs the command with the Node 24 the project installs from the npm registry.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  await import(entry);
} else {
  const candidates = [
    fileURLToPath(new URL('../../node_modules/node/bin/node', import.meta.url)),
    fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url)),
  ];
  const node24 = candidates.find((p) => existsSync(p));
  if (!node24) {
    process.stderr.write(`cleanroom needs Node >= 22.18 (this is ${process.version}); run 'npm install' in the repository to get Node 24 from the npm registry\n`);
    process.exit(1);
  }
  const r = spawnSync(node24, [entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
