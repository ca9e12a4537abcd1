/**
 * Chunk sealing (chunk-seal.ts): what a sealed file opens to, and every way of changing it that
 * must be refused — a flipped bit, chunks swapped, the final chunk dropped, a chunk after the
 * final one, another name, another key — at chunk boundaries and around them.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ChunkOpener, ChunkSealer, chunkCount, ChunkSealError, CHUNK_PREFIX_BYTES, CHUNK_SEAL_BYTES, CHUNK_TAG_BYTES, deriveKey, sealedLength } from './chunk-seal.ts';

const KEY = deriveKey(new Uint8Array(32).fill(7), 'test');

function seal(data: Uint8Array, name: string, key = KEY): { prefix: Uint8Array; chunks: Uint8Array[] } {
  const s = new ChunkSealer(key, name);
  const n = chunkCount(data.length);
  const chunks = Array.from({ length: n }, (_, i) => s.seal(data.subarray(i * CHUNK_SEAL_BYTES, Math.min(data.length, (i + 1) * CHUNK_SEAL_BYTES)), i === n - 1));
  return { prefix: s.prefix, chunks };
}

function open(prefix: Uint8Array, chunks: Uint8Array[], name: string, key = KEY, finalAt = chunks.length - 1): Uint8Array {
  const o = new ChunkOpener(key, name, prefix);
  const parts = chunks.map((c, i) => o.open(c, i === finalAt));
  o.finish();
  return Buffer.concat(parts);
}

describe('chunk-seal', () => {
  it('opens to the plaintext at and around chunk boundaries, with the exact sealed length', () => {
    for (const size of [0, 1, CHUNK_SEAL_BYTES - 1, CHUNK_SEAL_BYTES, CHUNK_SEAL_BYTES + 1, 2 * CHUNK_SEAL_BYTES + 5]) {
      const data = randomBytes(size);
      const { prefix, chunks } = seal(data, 'e1/shard-0-of-2/users.bin');
      expect(chunks.length).toBe(chunkCount(size));
      expect(CHUNK_PREFIX_BYTES + chunks.reduce((s, c) => s + c.length, 0)).toBe(sealedLength(size));
      expect(Buffer.from(open(prefix, chunks, 'e1/shard-0-of-2/users.bin')).equals(data), `size ${size}`).toBe(true);
    }
    expect(sealedLength(CHUNK_SEAL_BYTES)).toBe(CHUNK_PREFIX_BYTES + CHUNK_SEAL_BYTES + 2 * CHUNK_TAG_BYTES); // an empty final chunk
  });

  it('refuses a flipped bit, swapped chunks, a dropped or extra final chunk, another name or key', () => {
    const data = randomBytes(2 * CHUNK_SEAL_BYTES + 100);
    const name = 'e1/shard-1-of-2/tokens-phone.bin';
    const { prefix, chunks } = seal(data, name);
    const flipped = chunks.map((c) => Uint8Array.from(c));
    flipped[1]![500]! ^= 1;
    expect(() => open(prefix, flipped, name)).toThrow(/chunk 1 does not open/);
    expect(() => open(prefix, [chunks[1]!, chunks[0]!, chunks[2]!], name)).toThrow(ChunkSealError);
    // cut at a chunk boundary: the last full chunk was not sealed as final
    expect(() => open(prefix, chunks.slice(0, 2), name)).toThrow(/chunk 1 \(final\) does not open/);
    const cut = new ChunkOpener(KEY, name, prefix);
    cut.open(chunks[0]!, false);
    expect(() => cut.finish()).toThrow(/cut short after 1 chunks/);
    // a final chunk of another file with the same prefix place cannot be appended either
    const o = new ChunkOpener(KEY, name, prefix);
    chunks.forEach((c, i) => o.open(c, i === 2));
    expect(() => o.open(chunks[2]!, true)).toThrow(/after the final one/);
    expect(() => open(prefix, chunks, 'e1/shard-0-of-2/tokens-phone.bin')).toThrow(/does not open/);
    expect(() => open(prefix, chunks, name, deriveKey(new Uint8Array(32).fill(8), 'test'))).toThrow(/does not open/);
    const otherPrefix = Uint8Array.from(prefix);
    otherPrefix[0]! ^= 1;
    expect(() => open(otherPrefix, chunks, name)).toThrow(/does not open/);
    // a sealer refuses a short chunk that is not the last
    expect(() => new ChunkSealer(KEY, name).seal(new Uint8Array(10), false)).toThrow(RangeError);
  });

  it('derives different keys for different purposes, and fresh prefixes per file', () => {
    const secret = randomBytes(32);
    expect(Buffer.from(deriveKey(secret, 'a')).equals(Buffer.from(deriveKey(secret, 'b')))).toBe(false);
    expect(Buffer.from(deriveKey(secret, 'a')).equals(Buffer.from(deriveKey(secret, 'a')))).toBe(true);
    expect(Buffer.from(new ChunkSealer(KEY, 'x').prefix).equals(Buffer.from(new ChunkSealer(KEY, 'x').prefix))).toBe(false);
  });
});
