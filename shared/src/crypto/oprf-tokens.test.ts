// The worker hand-off of universe preparation: inputs packed into one buffer with an offset
// table. The offsets stay exact past 4 GiB (they were a Uint32Array that wrapped silently
// and gave wrong tokens); pack/unpack round-trip.
import { describe, expect, it } from 'vitest';
import { offsetsOf, pack, unpack } from './oprf-tokens.ts';

describe('oprf-tokens packing', () => {
  it('offsets past 4 GiB are exact (no wrap at 2^32)', () => {
    const o = offsetsOf([2 ** 31, 2 ** 31, 10, 7]);
    expect(Array.from(o)).toEqual([0, 2 ** 31, 2 ** 32, 2 ** 32 + 10, 2 ** 32 + 17]);
    // what the old Uint32Array table held for the same lengths
    expect(Uint32Array.from(o)[3]).toBe(10);
  });

  it('pack and unpack round-trip inputs of any lengths', () => {
    const inputs = ['+8613800138000', '', 'a@example.org', 'x'.repeat(300)].map((s) => new TextEncoder().encode(s));
    const { bytes, offsets } = pack(inputs);
    expect(unpack(bytes, offsets).map((b) => new TextDecoder().decode(b))).toEqual(inputs.map((b) => new TextDecoder().decode(b)));
  });
});
