/**
 * Worker body for psi-positions.ts (media's position-hash warm-up), started by its keyless
 * KeyedWorkers (crypto/keyed-workers.ts): each job is a range of slots [first, first + count)
 * of the file being written at `path` — `{ kind: 'hash', path, version, first, count }`, the
 * positions' hashes (crypto/dh-psi.ts hashPositionsInto), or `{ kind: 'pad', path, first,
 * count }`, padding inputs (crypto/group.ts randomElementsInto: fresh random group elements) —
 * computed packed (32 bytes per slot, slot order) into one buffer reused across jobs and
 * written by this thread at byte first · 32 of the file (positioned writes: the main thread
 * does no I/O for it); answered with an empty buffer once written.
 *
 * Each job names the nice value the thread runs it at (`nice`, 0..19; the node asks 19, the
 * lowest priority): the thread sets it for itself alone (Linux keeps a nice value per thread)
 * when it differs from the last job's, so the warm-up takes only the CPU that media's
 * sessions, its serving of the broker's sync and its other threads leave idle. Where the OS
 * refuses it (not Linux, or a nice value below the thread's without the privilege), the
 * thread runs at the priority it has. Its op-counts tallies are this thread's own module
 * copy, never read (common/op-counts.ts): no session counts any of this work.
 */
import { parentPort } from 'node:worker_threads';
import { closeSync, openSync, readlinkSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { hashPositionsInto } from '@cleanroom/shared/crypto/dh-psi.ts';
import { ELEMENT_BYTES, randomElementsInto } from '@cleanroom/shared/crypto/group.ts';

/** The nice value this thread was last set to (0: the process's, as started). */
let niceNow = 0;

/** Sets this thread's nice value alone, where the OS allows it (see the header). */
function setThisThreadNice(nice: number): void {
  if (nice === niceNow) return;
  niceNow = nice;
  try {
    // /proc/thread-self → "<pid>/task/<tid>": setpriority(PRIO_PROCESS, tid) sets that thread only
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // not Linux, no /proc, or not permitted: the thread keeps the priority it has
  }
}

export type PositionJob = { path: string; first: number; count: number; nice: number } & ({ kind: 'hash'; version: string } | { kind: 'pad' });

/** The packed answer of the job under way, reused (grown when a job is larger). */
let buf = new Uint8Array(0);

if (parentPort === null) throw new Error('expected to run as a worker thread, got the main thread');
const port = parentPort;
port.on('message', (m: PositionJob & { id: number }) => {
  try {
    if (!Number.isSafeInteger(m.first) || m.first < 0 || !Number.isSafeInteger(m.count) || m.count < 0) throw new RangeError(`expected slots from a first ≥ 0, got first ${m.first}, count ${m.count}`);
    if (!Number.isInteger(m.nice) || m.nice < 0 || m.nice > 19) throw new RangeError(`expected a nice value in 0..19, got ${m.nice}`);
    setThisThreadNice(m.nice);
    const bytes = m.count * ELEMENT_BYTES;
    if (buf.length < bytes) buf = new Uint8Array(bytes);
    if (m.kind === 'hash') hashPositionsInto(buf, 0, m.version, m.first, m.count);
    else if (m.kind === 'pad') randomElementsInto(buf, 0, m.count);
    else throw new TypeError(`expected a job of kind 'hash' or 'pad', got ${String((m as { kind: unknown }).kind)}`);
    const fd = openSync(m.path, 'r+');
    try {
      for (let done = 0; done < bytes;) done += writeSync(fd, buf, done, bytes - done, m.first * ELEMENT_BYTES + done);
    } finally {
      closeSync(fd);
    }
    port.postMessage({ id: m.id, ok: true, out: new Uint8Array(0) });
  } catch (err) {
    port.postMessage({ id: m.id, ok: false, error: (err as Error).message });
  }
});
