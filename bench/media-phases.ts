/**
 * Media's session phases after BLIND, side by side from `make bench` result files: per session
 * kind, each phase's CPU (the media process, all threads), its floor (the primitives it ran, at
 * the costs measured in that same run) and their ratio — one column group per file, so paired
 * runs (before / after a change, same world and flags) compare at a glance. Reads only.
 *
 *   node bench/bench.ts --universe 200000 --kinds profile,joint-count,retargeting --results out/a.json
 *   node bench/media-phases.ts out/a.json [out/b.json …]
 */
import { readFileSync } from 'node:fs';

interface Phase { cpuMs: number; floorMs: number; floorRatio: number | null }
interface Party { phases: Record<string, Phase> }
interface Results { parties: Record<string, Party>; kinds?: Record<string, { parties: Record<string, Party> }> }

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: node bench/media-phases.ts <results.json> [more results.json …]');
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Results);
const BEFORE_OR_AT_BLIND = new Set(['new', 'open', 'blind', 'done', 'failed']);

/** Media's phases after BLIND of one kind ('lookalike': the W1 session) in one run. */
function phases(r: Results, kind: string): Record<string, Phase> {
  const media = kind === 'lookalike' ? r.parties.media : r.kinds?.[kind]?.parties.media;
  return Object.fromEntries(Object.entries(media?.phases ?? {}).filter(([name]) => !BEFORE_OR_AT_BLIND.has(name)));
}

const kinds = ['lookalike', ...new Set(runs.flatMap((r) => Object.keys(r.kinds ?? {})))];
const cell = (p: Phase | undefined) => (p ? `${p.cpuMs.toFixed(0).padStart(7)} ${p.floorMs.toFixed(1).padStart(8)} ${(p.floorRatio === null ? '-' : `${p.floorRatio}×`).padStart(7)}` : ' '.repeat(24));
process.stdout.write(`${'kind'.padEnd(14)}${'phase'.padEnd(11)}${files.map((f) => ` | ${f.slice(-22).padStart(22)}`).join('')}\n`);
process.stdout.write(`${''.padEnd(25)}${files.map(() => ` | ${'cpu ms'.padStart(7)} ${'floor'.padStart(8)} ${'ratio'.padStart(7)}`).join('')}\n`);
for (const kind of kinds) {
  const names = [...new Set(runs.flatMap((r) => Object.keys(phases(r, kind))))];
  for (const name of names) process.stdout.write(`${kind.padEnd(14)}${name.padEnd(11)}${runs.map((r) => ` | ${cell(phases(r, kind)[name])}`).join('')}\n`);
}
