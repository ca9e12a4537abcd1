/**
 * Media's label publication alone on a prepared bench state (read only): opens the prepared
 * universe and its publication from `<out>/state/media` as the node does (both reused, nothing
 * written there), then runs openLabels (services/media/src/label-store.ts) with its output in a
 * temporary state directory, `--runs` times, printing each run's wall and process CPU — the
 * window media's status reports as labels.seconds and labels.cpuSeconds. With `--cpu-prof` on
 * node, one profile per run shows where the CPU above the sealing goes (the join, the reads).
 *
 *   node bench/label-steps.ts out/bench [--runs 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseArgs, intFlag } from '../cli/src/args.ts';
import { openUniverse } from '../services/media/src/universe-store.ts';
import { openPublication } from '../services/media/src/publication-store.ts';
import { openLabels } from '../services/media/src/label-store.ts';

const p = parseArgs(process.argv.slice(2), { runs: 'string' });
const out = p.positionals[0];
if (!out) throw new Error('usage: node bench/label-steps.ts <bench out dir> [--runs 2]');
const runs = intFlag(p, 'runs', 2, 1, 20);
const log = pino({ level: 'warn' });
const stateDir = join(out, 'state', 'media');
const universeCsv = join(out, 'world', 'media', 'universe.csv');
const opened = await openUniverse({ stateDir, data: universeCsv, idTypes: ['phone'], epoch: undefined, log, threads: 2 });
if (!opened.status.reused) throw new Error(`${stateDir}: the universe was prepared again, not reused — run make bench (or bench.ts --out ${out}) first`);
const published = await openPublication({ stateDir, universe: opened.universe, log });
if (!published.reused) throw new Error(`${stateDir}: the publication was made again, not reused`);
const share = opened.universe.purposes().share;
for (let r = 1; r <= runs; r++) {
  const tmp = mkdtempSync(join(tmpdir(), 'label-steps-'));
  try {
    const lab = await openLabels({ stateDir: tmp, labelsCsv: join(out, 'world', 'media', 'labels.csv'), share, universeFiles: opened.source.files, universe: opened.universe, publication: published.publication, log });
    const real = Object.values(lab.labelled).reduce((a, n) => a + n, 0);
    process.stdout.write(`run ${r}: ${lab.seconds.toFixed(2)} s wall, ${lab.cpuSeconds.toFixed(2)} s CPU, ${real.toLocaleString('en')} real boxes (${((lab.cpuSeconds * 1e6) / real).toFixed(1)} µs CPU per real box)\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
