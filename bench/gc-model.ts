/**
 * A model of the broker's universe sync's garbage, without the sync: a 40 MB live heap of small
 * objects while 200 messages of 3 MB are assembled from 16 KB chunks (as grpc-js assembles a
 * message from HTTP/2 data chunks) and dropped — 600 MB of dead external memory, about a
 * 200,000-user sync's. Runs it in a fresh process with V8's default collection policy and with
 * the broker's (shared/src/service/gc-policy.ts), and prints each one's collections, CPU and
 * peak resident memory.
 *
 *   node bench/gc-model.ts
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { applyGcPolicy } from '../shared/src/service/gc-policy.ts';
import { startGcTally } from '../shared/src/service/gc-tally.ts';
import { NODE_HEAP_OPTIONS } from '../shared/src/service/memory.ts';

const mode = process.argv[2];
if (mode === 'default' || mode === 'policy') {
  if (mode === 'policy') applyGcPolicy();
  const live: object[] = [];
  for (let i = 0; i < 400_000; i++) live.push({ a: i, b: `x${i}`, c: [i, i + 1] });
  const t = startGcTally();
  const c0 = process.cpuUsage();
  let sink = 0;
  for (let m = 0; m < 200; m++) {
    const chunks: Buffer[] = [];
    for (let k = 0; k < 192; k++) chunks.push(Buffer.allocUnsafe(16_384));
    sink += Buffer.concat(chunks).length;
  }
  const c = process.cpuUsage(c0);
  const gc = await t.stop();
  process.stdout.write(`${mode}: ${gc.major} major + ${gc.minor} minor collections, ${gc.ms} ms pause; CPU ${Math.round((c.user + c.system) / 1000)} ms; peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (${sink / 2 ** 20} MiB assembled, ${live.length} live objects)\n`);
} else {
  const self = fileURLToPath(import.meta.url);
  for (const m of ['default', 'policy', 'default', 'policy']) {
    process.stdout.write(execFileSync(process.execPath, [...NODE_HEAP_OPTIONS.split(' '), self, m], { encoding: 'utf8' }));
  }
}
