/**
 * TokenTable: lookups by token (the default 12-byte width) and by keys of another width
 * (media's ID hashes), duplicates keep their first row, and a key of the wrong width is never
 * found.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { packTokens, TokenTable, TOKEN_BYTES } from './token-set.ts';

describe('TokenTable', () => {
  it('finds every token at its row and nothing else', () => {
    const tokens = Array.from({ length: 1000 }, () => new Uint8Array(randomBytes(TOKEN_BYTES)));
    const t = TokenTable.fromList(tokens);
    expect(t.size).toBe(1000);
    expect(t.width).toBe(TOKEN_BYTES);
    tokens.forEach((tok, i) => {
      expect(t.lookup(tok)).toBe(i);
      expect(t.at(i)).toEqual(tok);
    });
    expect(t.lookup(new Uint8Array(randomBytes(TOKEN_BYTES)))).toBe(-1);
    expect(t.has(tokens[7]!)).toBe(true);
  });

  it('keeps the first row of a duplicate', () => {
    const a = new Uint8Array(randomBytes(TOKEN_BYTES));
    const b = new Uint8Array(randomBytes(TOKEN_BYTES));
    const t = TokenTable.fromPacked(packTokens([a, b, a]));
    expect(t.lookup(a)).toBe(0);
    expect(t.lookup(b)).toBe(1);
  });

  it('indexes keys of another width, and refuses lookups of the wrong width', () => {
    for (const width of [4, 12, 16, 32]) {
      const keys = new Uint8Array(randomBytes(500 * width));
      const t = TokenTable.fromPacked(keys, width);
      expect(t.size).toBe(500);
      expect(t.width).toBe(width);
      for (let i = 0; i < 500; i++) expect(t.lookup(keys.subarray(i * width, (i + 1) * width))).toBe(i);
      expect(t.at(499)).toEqual(keys.subarray(499 * width));
      // a prefix or an extension of a present key is another key
      expect(t.lookup(keys.subarray(0, width - 1))).toBe(-1);
      expect(t.lookup(new Uint8Array([...keys.subarray(0, width), 0]))).toBe(-1);
    }
  });

  it('refuses packed keys that are not whole, and widths under 4 bytes', () => {
    expect(() => TokenTable.fromPacked(new Uint8Array(25))).toThrow(/multiple of 12 bytes/);
    expect(() => TokenTable.fromPacked(new Uint8Array(32), 16)).not.toThrow();
    expect(() => TokenTable.fromPacked(new Uint8Array(33), 16)).toThrow(/multiple of 16 bytes/);
    expect(() => TokenTable.fromPacked(new Uint8Array(9), 3)).toThrow(/at least 4 bytes/);
    expect(() => TokenTable.fromPacked(new Uint8Array(10), 2.5)).toThrow(/at least 4 bytes/);
    expect(() => packTokens([new Uint8Array(11)])).toThrow(/12-byte token at 0/);
  });
});
