/**
 * The PSI kinds' position hashes in a file (psi-positions.ts): undefined until warmed, then
 * exactly hashPositions of the positions asked for (any order, across read windows), then
 * padSlots(users) distinct valid group elements as padding inputs, and reused by a node that
 * opens the same publication directory again. Its warm-up runs in the background while sessions
 * run: none of its primitives shows in their phases; it runs on worker threads, so the main
 * thread's event loop stays responsive meanwhile; `close` ends it, leaving no partial file.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPositions } from '@cleanroom/shared/crypto/dh-psi.ts';
import { hashToGroupBatch } from '@cleanroom/shared/crypto/h2c.ts';
import { validateElement } from '@cleanroom/shared/crypto/group.ts';
import { countPrimitive, uncounted } from '@cleanroom/shared/common/op-counts.ts';
import { SessionRegistry } from '@cleanroom/shared/service/sessions.ts';
import { padSlots, PositionHashFile } from './psi-positions.ts';

const hex = (list: readonly Uint8Array[] | undefined) => list?.map((e) => Buffer.from(e).toString('hex'));
/** A packed read (32 bytes per slot) as its elements. */
const split = (packed: Uint8Array | undefined) => packed && Array.from({ length: packed.length / 32 }, (_, i) => packed.subarray(i * 32, (i + 1) * 32));

describe('PSI position hashes on disk', () => {
  it('reads back hashPositions for any positions once warmed, and is reused on reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-psipos-'));
    const users = 40_000; // more than one read window (32,768)
    const f = new PositionHashFile(dir, users);
    expect(f.ready).toBe(false);
    expect(f.read([0, 1])).toBeUndefined();
    expect(f.read(new Float64Array([0]))).toBeUndefined();
    await f.warm('v-test', { nice: 0 }); // the node's nice 19 only slows a test on a busy machine
    expect(padSlots(users)).toBe(32_768);
    expect(statSync(join(dir, 'psi-positions.bin')).size).toBe((users + 32_768) * 32);
    const ask = [0, 5, 39_999, 32_768, 32_767, 17, 20_000, 5];
    expect(hex(split(f.read(ask)))).toEqual(hex(hashPositions('v-test', ask)));
    f.close();
    const again = new PositionHashFile(dir, users);
    expect(again.ready).toBe(true);
    expect(hex(split(again.read([39_999, 1])))).toEqual(hex(hashPositions('v-test', [39_999, 1])));
    // padding inputs: valid, distinct, none a position's hash
    const pads = split(again.read(Array.from({ length: padSlots(users) }, (_, j) => users + j)))!;
    for (const e of pads) validateElement(e);
    const seen = new Set([...hex(pads)!, ...hex(hashPositions('v-test', [0, 1, 2, 39_999]))!]);
    expect(seen.size).toBe(pads.length + 4);
    expect(() => again.read([users + padSlots(users)])).toThrow(RangeError);
    expect(() => again.read(new Float64Array([1.5]))).toThrow(RangeError);
    expect(hex(split(again.read(new Float64Array([7, 3]))))).toEqual(hex(hashPositions('v-test', [7, 3])));
    again.close();
    // another publication size: not reused
    expect(new PositionHashFile(dir, users + 1).ready).toBe(false);
    expect(existsSync(join(dir, `psi-positions.bin.tmp-${process.pid}`))).toBe(false);
  });

  it('has fewer padding elements to serve than slots, whatever the set: the next power of two above a set of at most `users` adds fewer than padSlots(users)', () => {
    for (const users of [1, 2, 3, 5, 8, 9, 1000, 1025, 970_034]) {
      const slots = padSlots(users);
      for (const mine of [0, 1, 2, 3, Math.floor(users / 2) + 1, users - 1, users].filter((m) => m >= 0 && m <= users)) {
        let size = 1;
        while (size < mine) size *= 2;
        expect(size - mine).toBeLessThanOrEqual(slots);
      }
    }
  });

  it('counts none of its warm-up in a session that runs meanwhile; the session\'s own primitives still count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-psipos-'));
    const users = 40_000; // several chunks, so several event-loop turns interleave with the session
    const f = new PositionHashFile(dir, users);
    const sessions = new SessionRegistry<undefined>(60_000, () => {});
    try {
      const rec = sessions.create('s-during-warm', undefined, 'blind', 'retargeting');
      const warm = f.warm('v-test', { nice: 0 });
      await sessions.step(rec, 'aggregate', async () => {
        for (let turn = 0; turn < 3; turn++) {
          countPrimitive('x25519', 2); // the session's own work, between the warm-up's chunks
          await new Promise((r) => setImmediate(r));
        }
        await warm;
        countPrimitive('x25519', 1);
      }, () => {});
      sessions.finish(rec, 'completed');
      expect(f.ready).toBe(true);
      expect(rec.metrics.blind?.ops ?? {}).toEqual({});
      expect(rec.metrics.aggregate?.ops).toEqual({ x25519: 7 });
    } finally {
      sessions.close();
      f.close();
    }
  });
});

describe('PSI position hashes: the warm-up off the main thread', () => {
  it('keeps the event loop responsive while it warms: the main thread does none of the hashing, and no timer waits on it', async () => {
    // 40,000 users: 72,768 slots. The main-thread warm-up hashed (or drew) 16,384 slots per
    // event-loop turn — ≥ 0.3 s each at ≥ 20 µs a hash — and all of them on this thread: its
    // timer was late by a whole turn (2.6 s here on a busy machine), its CPU here ≈ 2.7 s.
    const users = 40_000;
    const slots = users + padSlots(users);
    // this thread's CPU for 4,096 hashes now (the old warm-up's work, at this machine's speed)
    const sample = process.threadCpuUsage();
    hashToGroupBatch(Array.from({ length: 4096 }, (_, i) => new TextEncoder().encode(`v-sample\0${i}`)), 'cleanroom-test-sample');
    const perHash = ((u) => (u.user + u.system) / 1000 / 4096)(process.threadCpuUsage(sample));
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-psipos-'));
    const f = new PositionHashFile(dir, users);
    let worst = 0;
    let ticks = 0;
    let timerCpu = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const at = process.threadCpuUsage();
      const now = performance.now();
      worst = Math.max(worst, now - last - 10);
      last = now;
      ticks++;
      const u = process.threadCpuUsage(at);
      timerCpu += (u.user + u.system) / 1000;
    }, 10);
    const cpu = process.threadCpuUsage();
    try {
      await f.warm('v-live', { threads: 2, nice: 0 });
    } finally {
      clearInterval(timer);
    }
    const used = process.threadCpuUsage(cpu);
    const mainCpuMs = (used.user + used.system) / 1000 - timerCpu;
    // this thread's CPU while warming (dispatch, the workers' start-up): under a tenth of hashing the slots here
    expect(mainCpuMs).toBeLessThan(slots * perHash / 10);
    // no timer late by half an old turn (16,384 hashes) at this machine's speed: generous for a busy machine
    expect(worst).toBeLessThan(16_384 * perHash / 2);
    expect(ticks).toBeGreaterThan(10); // the timer ran throughout, not just around the warm-up
    expect(f.ready).toBe(true);
    expect(hex(split(f.read([users - 1, 0])))).toEqual(hex(hashPositions('v-live', [users - 1, 0])));
    f.close();
  });

  it('runs its workers at the nice value asked for (19 in the node), the rest of the process unchanged', async () => {
    if (!existsSync('/proc/thread-self')) return; // per-thread nice values: Linux
    const niceOfTask = (t: string | number): number => {
      try {
        return Number(readFileSync(`/proc/self/task/${t}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[16]);
      } catch {
        return NaN; // the thread ended meanwhile
      }
    };
    const niceOf = (): number[] => readdirSync('/proc/self/task').map(niceOfTask);
    const before = niceOf().filter((n) => n === 19).length;
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-psipos-'));
    const f = new PositionHashFile(dir, 40_000);
    const warm = f.warm('v-nice', { threads: 2 });
    let seen = 0;
    while (!f.ready) {
      seen = Math.max(seen, niceOf().filter((n) => n === 19).length - before);
      await Promise.race([warm, new Promise((r) => setTimeout(r, 20))]);
    }
    await warm;
    expect(seen).toBe(2);
    expect(niceOfTask(process.pid)).toBe(0); // the main thread
    f.close();
  });

  it('ends a warm-up under way on close: no file, no partial file, not ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-psipos-'));
    const f = new PositionHashFile(dir, 200_000);
    const warm = f.warm('v-closed', { nice: 0 });
    while (!existsSync(join(dir, `psi-positions.bin.tmp-${process.pid}`))) await new Promise((r) => setTimeout(r, 5));
    f.close();
    await expect(warm).resolves.toBeUndefined();
    expect(f.ready).toBe(false);
    expect(f.read([0])).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
    await expect(f.warm('v-closed')).resolves.toBeUndefined(); // closed: no new warm-up
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a second warm-up of the same file while one runs, bad thread counts and nice values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-psipos-'));
    const f = new PositionHashFile(dir, 1000);
    await expect(f.warm('v', { threads: 0 })).rejects.toThrow(/expected threads in 1\.\.64, got 0/);
    await expect(f.warm('v', { nice: -1 })).rejects.toThrow(/expected a nice value in 0\.\.19, got -1/);
    await expect(f.warm('')).rejects.toThrow(/expected a publication version, got an empty string/);
    const first = f.warm('v', { nice: 0 });
    await expect(f.warm('v')).rejects.toThrow(/one warm-up .* at a time/);
    await expect(first).resolves.toMatchObject({ slots: 1000 + 512, threads: 1, nice: 0 });
    expect(f.ready).toBe(true);
    expect(readdirSync(dir)).toEqual(['psi-positions.bin']);
    f.close();
  });
});

describe('uncounted (common/op-counts.ts)', () => {
  it('tallies nothing of its work, nests, and refuses asynchronous work', async () => {
    const sessions = new SessionRegistry<undefined>(60_000, () => {});
    try {
      const rec = sessions.create('s-uncounted', undefined, 'blind');
      countPrimitive('hashToGroup', 3);
      expect(uncounted(() => {
        countPrimitive('hashToGroup', 5);
        uncounted(() => countPrimitive('x25519', 4));
        countPrimitive('x25519Base', 1);
        return 42;
      })).toBe(42);
      countPrimitive('hashToGroup', 1);
      expect(() => uncounted(() => Promise.resolve(1))).toThrow(/expected synchronous work, got a thenable/);
      expect(() => uncounted(() => { throw new Error('boom'); })).toThrow('boom');
      countPrimitive('x25519', 1); // counted again after a throw inside
      sessions.finish(rec, 'completed');
      expect(rec.metrics.blind?.ops).toEqual({ hashToGroup: 4, x25519: 1 });
    } finally {
      sessions.close();
    }
  });
});
