/**
 * The PSI kinds' position hashes in a file (psi-positions.ts): undefined until warmed, then
 * exactly hashPositions of the positions asked for (any order, across read windows), then
 * padSlots(users) distinct valid group elements as padding inputs, and reused by a node that
 * opens the same publication directory again. Its warm-up runs in the background while sessions
 * run: none of its primitives shows in their phases.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPositions } from '@cleanroom/shared/crypto/dh-psi.ts';
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
    await f.warm('v-test');
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
      const warm = f.warm('v-test');
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
