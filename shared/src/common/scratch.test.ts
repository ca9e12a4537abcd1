import { describe, expect, it } from 'vitest';
import { Scratch } from './scratch.ts';

describe('Scratch', () => {
  it('hands out views of one kept array per name and kind, grown to a power of two when asked for more', () => {
    const s = new Scratch(1 << 20);
    const a = s.f64('x', 100);
    expect(a.length).toBe(100);
    a[99] = 7;
    const b = s.f64('x', 128); // within what is kept: the same memory
    expect(b.buffer).toBe(a.buffer);
    expect(b[99]).toBe(7);
    expect(s.u32('x', 10).buffer).not.toBe(a.buffer); // another kind, another array
    const c = s.f64('x', 129); // grown: a new array of 256
    expect(c.buffer).not.toBe(a.buffer);
    expect(c.buffer.byteLength).toBe(256 * 8);
    expect(s.f64('x', 200).buffer).toBe(c.buffer);
    expect(s.u8('e', 0).length).toBe(0);
    expect(() => s.u8('bad', -1)).toThrow(RangeError);
    expect(() => s.u8('bad', 1.5)).toThrow(RangeError);
  });

  it('keeps no array larger than its bound: such a one is the call\'s own, and growth stops at the bound', () => {
    const s = new Scratch(1024);
    const big = s.u8('b', 2000);
    expect(big.length).toBe(2000);
    expect(s.u8('b', 2000).buffer).not.toBe(big.buffer);
    expect(s.bytes).toBe(0);
    const near = s.u32('n', 200); // 800 bytes: kept at the bound (256 entries), not 1,024 bytes rounded past it
    expect(s.u32('n', 256).buffer).toBe(near.buffer);
    expect(s.bytes).toBe(1024);
    expect(new Scratch(0).f64('z', 1).length).toBe(1);
  });

  it('is held by one user at a time: while held, acquire gives a scratch that keeps nothing', () => {
    const s = new Scratch(1 << 20);
    const held = s.acquire();
    expect(held).toBe(s);
    const other = s.acquire();
    expect(other).not.toBe(s);
    expect(other.f64('x', 10).buffer).not.toBe(other.f64('x', 10).buffer);
    held.release();
    expect(s.acquire()).toBe(s);
    s.release();
  });

  it('touch writes every kept array', () => {
    const s = new Scratch(1 << 20);
    s.u8('a', 10).fill(9);
    s.touch();
    expect([...s.u8('a', 10)]).toEqual(new Array(10).fill(0));
  });
});
