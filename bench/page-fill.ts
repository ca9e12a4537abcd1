/**
 * What writing the broker's stored ciphertexts costs the kernel on this machine, apart from the
 * broker: writes --gb GiB in pieces of one stored form (393,216 B) into a fresh file under
 * --dir, positioned into a file first set to its length (as the sync's workers write), and
 * prints the process's system CPU — three rounds: after --pause seconds without a large write
 * (the memory the last one freed left alone meanwhile), then twice at once, each time into
 * memory a previous round has just freed. On a virtual machine whose host takes freed guest
 * memory back (free page reporting), the first round pays the host's faults on every page
 * touched again and the next ones do not; that difference is part of the broker sync's
 * system CPU in `make bench` and bench/sync.ts, which no change of the broker removes.
 *
 *   node bench/page-fill.ts [--gb 3] [--pause 45] [--dir out]
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';

const p = parseArgs(process.argv.slice(2), { gb: 'string', pause: 'string', dir: 'string' });
const gib = intFlag(p, 'gb', 3, 1);
const pause = intFlag(p, 'pause', 45, 0);
const dir = resolve(strFlag(p, 'dir', 'out'));
const PIECE = 393_216; // one ciphertext in the broker's stored form
const pieces = Math.floor((gib * 2 ** 30) / PIECE);
const buf = Buffer.alloc(PIECE, 7);
mkdirSync(dir, { recursive: true });
const file = join(dir, `page-fill-${process.pid}.bin`);

function round(label: string): void {
  const fd = openSync(file, 'w');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    ftruncateSync(fd, pieces * PIECE);
    for (let i = 0; i < pieces; i++) for (let at = 0; at < PIECE;) at += writeSync(fd, buf, at, PIECE - at, i * PIECE + at);
  } finally {
    closeSync(fd);
  }
  const c = process.cpuUsage(c0);
  process.stdout.write(`${label.padEnd(44)} ${((performance.now() - t0) / 1000).toFixed(2).padStart(6)} s wall  ${(c.system / 1e6).toFixed(2).padStart(6)} s system CPU  ${(c.user / 1e6).toFixed(2).padStart(5)} s user\n`);
  rmSync(file); // its page cache freed: what the next round writes into
}

process.stdout.write(`${pieces.toLocaleString('en')} writes of ${PIECE.toLocaleString('en')} B (${gib} GiB) into ${file}\n`);
try {
  if (pause > 0) {
    process.stdout.write(`waiting ${pause} s…\n`);
    await sleep(pause * 1000);
  }
  round(`after ${pause} s without a large write`);
  round('at once, into the memory just freed');
  round('again');
} finally {
  rmSync(file, { force: true });
}
