/**
 * ElementTable (dh-psi.ts): membership answers equal a Set of the elements' hex, for elements
 * present, absent, sharing the first four bytes (the table's key) with a present one, and
 * duplicated; read at any offset of a larger buffer. hashPositionsInto: exactly hashPositions'
 * bytes, packed, across digit-count changes and hash-to-group chunks, written only where asked.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ElementTable, elementKey, hashPositions, hashPositionsInto } from './dh-psi.ts';

describe('ElementTable', () => {
  it('answers exactly as a Set of hex, collisions on the key bytes included', () => {
    const members = Array.from({ length: 3000 }, () => new Uint8Array(randomBytes(32)));
    members.push(members[7]!.slice()); // a duplicate
    const table = new ElementTable(members);
    const set = new Set(members.map(elementKey));
    const probes: Uint8Array[] = [...members.slice(0, 500), ...Array.from({ length: 3000 }, () => new Uint8Array(randomBytes(32)))];
    for (const m of members.slice(0, 200)) {
      const near = m.slice();
      near[31]! ^= 1; // same first four bytes, another element
      probes.push(near);
      const near2 = m.slice();
      near2[4]! ^= 0x80;
      probes.push(near2);
    }
    // Probed inside one buffer at offsets, as media reads the broker's reply.
    const buf = new Uint8Array(3 + probes.length * 32);
    probes.forEach((p, i) => buf.set(p, 3 + i * 32));
    const got = probes.map((_, i) => table.has(buf, 3 + i * 32));
    expect(got).toEqual(probes.map((p) => set.has(elementKey(p))));
    expect(got.filter(Boolean).length).toBe(500);
    expect(new ElementTable([]).has(buf, 3)).toBe(false);
  });
});

describe('hashPositionsInto', () => {
  it('writes exactly hashPositions of a range, packed, at the element asked for and nowhere else', () => {
    for (const [first, count] of [[0, 12], [95, 10], [9_990, 4_200], [999_999_998, 3]] as const) {
      const out = new Uint8Array((count + 3) * 32).fill(0xee);
      hashPositionsInto(out, 2, 'v-into', first, count);
      const want = hashPositions('v-into', Array.from({ length: count }, (_, i) => first + i));
      for (let i = 0; i < count; i++) expect(elementKey(out.subarray((2 + i) * 32, (3 + i) * 32))).toBe(elementKey(want[i]!));
      expect(out.subarray(0, 64).every((b) => b === 0xee)).toBe(true);
      expect(out.subarray((2 + count) * 32).every((b) => b === 0xee)).toBe(true);
    }
  });

  it('refuses a range that is not one or does not fit', () => {
    const out = new Uint8Array(4 * 32);
    expect(() => hashPositionsInto(out, 0, 'v', -1, 2)).toThrow(/expected a range of positions/);
    expect(() => hashPositionsInto(out, 0, 'v', 1.5, 2)).toThrow(/expected a range of positions/);
    expect(() => hashPositionsInto(out, 3, 'v', 0, 2)).toThrow(/to fit a buffer of 4 elements/);
  });
});
