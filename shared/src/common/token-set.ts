/**
 * TokenTable: a compact, read-mostly hash index of fixed-width pseudorandom keys → row number:
 * TOKEN_BYTES-byte (12-byte) OPRF tokens by default, or any other width given at build (media's
 * ID hashes, ID_HASH_BYTES in protocol/universe.ts).
 *
 * Media uses it to map a token back to its user (token → row of the prepared universe);
 * the broker uses it as the universe table it matches the advertiser's tokens against.
 * Keys are pseudorandom (OPRF outputs, SHA-256 prefixes), so their first 4 bytes are a good hash.
 * Memory: 12 bytes per token plus a 4-byte slot array at load factor ≤ 0.5 —
 * about 20 MB for 10^6 tokens, where a JS Map of strings would take ~100 MB.
 * Duplicate tokens keep the first row. Not thread-safe for concurrent builds (none happen).
 */
import { TOKEN_BYTES } from '../crypto/group.ts';

/** Bytes of one token (the OPRF output, crypto/group.ts). */
export { TOKEN_BYTES };

export class TokenTable {
  readonly tokens: Uint8Array;
  readonly size: number;
  /** Bytes per key (TOKEN_BYTES unless built with another width). */
  readonly width: number;
  private readonly slots: Uint32Array; // row + 1, 0 = empty
  private readonly mask: number;

  private constructor(tokens: Uint8Array, size: number, width: number) {
    this.tokens = tokens;
    this.size = size;
    this.width = width;
    let cap = 16;
    while (cap < size * 2) cap *= 2;
    this.slots = new Uint32Array(cap);
    this.mask = cap - 1;
    for (let row = 0; row < size; row++) this.insert(row);
  }

  /** Builds a table from keys packed back to back, `width` bytes each (TOKEN_BYTES by default; at least 4). */
  static fromPacked(packed: Uint8Array, width: number = TOKEN_BYTES): TokenTable {
    if (!Number.isInteger(width) || width < 4) throw new RangeError(`expected a key width of at least 4 bytes, got ${width}`);
    if (packed.length % width !== 0) {
      throw new RangeError(`expected a multiple of ${width} bytes of keys, got ${packed.length}`);
    }
    return new TokenTable(packed, packed.length / width, width);
  }

  static fromList(tokens: readonly Uint8Array[]): TokenTable {
    return TokenTable.fromPacked(packTokens(tokens));
  }

  private hashAt(buf: Uint8Array, off: number): number {
    return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
  }

  private equalsRow(row: number, buf: Uint8Array, off: number): boolean {
    const w = this.width;
    const base = row * w;
    for (let i = 0; i < w; i++) if (this.tokens[base + i] !== buf[off + i]) return false;
    return true;
  }

  private insert(row: number): void {
    let i = this.hashAt(this.tokens, row * this.width) & this.mask;
    for (;;) {
      const s = this.slots[i]!;
      if (s === 0) {
        this.slots[i] = row + 1;
        return;
      }
      if (this.equalsRow(s - 1, this.tokens, row * this.width)) return; // duplicate: keep first
      i = (i + 1) & this.mask;
    }
  }

  /** Row of `token`, or -1 (also for a key of another width). */
  lookup(token: Uint8Array): number {
    if (token.length !== this.width) return -1;
    let i = this.hashAt(token, 0) & this.mask;
    for (;;) {
      const s = this.slots[i]!;
      if (s === 0) return -1;
      if (this.equalsRow(s - 1, token, 0)) return s - 1;
      i = (i + 1) & this.mask;
    }
  }

  has(token: Uint8Array): boolean {
    return this.lookup(token) >= 0;
  }

  /** The token at `row` (a view, not a copy). */
  at(row: number): Uint8Array {
    if (row < 0 || row >= this.size) throw new RangeError(`expected row in [0, ${this.size}), got ${row}`);
    return this.tokens.subarray(row * this.width, (row + 1) * this.width);
  }
}

export function packTokens(tokens: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(tokens.length * TOKEN_BYTES);
  tokens.forEach((t, i) => {
    if (t.length !== TOKEN_BYTES) throw new RangeError(`expected ${TOKEN_BYTES}-byte token at ${i}, got ${t.length} bytes`);
    out.set(t, i * TOKEN_BYTES);
  });
  return out;
}
