/**
 * ElementTable (dh-psi.ts): membership answers equal a Set of the elements' hex, for elements
 * present, absent, sharing the first four bytes (the table's key) with a present one, and
 * duplicated; read at any offset of a larger buffer.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ElementTable, elementKey } from './dh-psi.ts';

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
