/**
 * Media's publication of its universe: what the broker holds between sessions, so that no
 * session ever sends media a list of users.
 *
 * Once per prepared universe (a new epoch, or new users) media:
 *   1. draws a random order of its consented users: position p holds user order[p], so
 *      positions say nothing about media's row order;
 *   2. lists, per ID type, every token with its user's position;
 *   3. encrypts every user's attribute vector (clipped to the contribution bound,
 *      common/attributes.ts) under a FRESH BFV key pair of this publication, SIMD-packed
 *      usersPerCiphertext users per ciphertext in position order;
 *   4. names the publication by its version: SHA-256 over the epoch, the token tables and
 *      the ciphertexts, so the broker can check it received every byte.
 * The broker stores all of it. For a session it finds A's real matches by token and masks
 * and sums their ciphertexts itself (broker.ts): media receives no per-user list, and the
 * broker never holds the secret key.
 *
 * Pure: no filesystem, no network. Guarantees: every position < users holds exactly one
 * user; a user with several ID types has one position (the broker can link those tokens
 * to one pseudonymous position — nothing more); ciphertext c holds positions
 * [c·usersPerCiphertext, (c+1)·usersPerCiphertext).
 */
import { createHash } from 'node:crypto';
import type { BfvLayout, BfvPublicMaterial, MediaBfv } from '../crypto/bfv.ts';
import { ATTRIBUTE_COUNT, clipContributionInPlace } from '../common/attributes.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { randomPermutation, cryptoUniform, type Uniform } from './policy.ts';
import type { IdType } from './messages.ts';
import { PACKED_BYTES, unpackVectorInto, type Universe } from './universe.ts';
import { turnTaker } from '../common/turns.ts';

/** Ciphertexts by index: an array in memory, or a file the node reads on demand. */
export interface CiphertextSource {
  readonly count: number;
  /** Ciphertext c, the caller's to keep. */
  get(c: number): Uint8Array;
  /** Ciphertext c, valid only until the next `view` (a reused buffer: for consumers that copy it at once). */
  view(c: number): Uint8Array;
  /**
   * Ciphertext c's bytes split into `head` (its first head.length bytes) and `rest` (the others)
   * with no copy in between, when it is exactly head.length + rest.length long; false (nothing
   * promised about the buffers) otherwise. Optional: sources in memory need not offer it.
   */
  readSplit?(c: number, head: Uint8Array, rest: Uint8Array): boolean;
}

/**
 * One ID type's published tokens as media serves them, page by page: in memory right after
 * publish(), or read from media's files (services/media/src/publication-store.ts) so that a
 * node never loads a table of every user's token.
 */
export interface TokenPages {
  readonly count: number;
  /** Tokens [from, to) packed (TOKEN_BYTES each) and their positions. */
  page(from: number, to: number): { tokens: Uint8Array; positions: Uint32Array };
}

/** One ID type's tokens (packed, TOKEN_BYTES each) and each token's position, in memory. */
export interface PublishedTokens extends TokenPages {
  tokens: Uint8Array;
  positions: Uint32Array;
}

export function publishedTokens(tokens: Uint8Array, positions: Uint32Array): PublishedTokens {
  if (tokens.length !== positions.length * TOKEN_BYTES) throw new RangeError(`expected ${positions.length * TOKEN_BYTES} token bytes, got ${tokens.length}`);
  return {
    tokens, positions, count: positions.length,
    page(from, to) {
      return { tokens: tokens.subarray(from * TOKEN_BYTES, to * TOKEN_BYTES), positions: positions.subarray(from, to) };
    },
  };
}

export interface PublicationHeader {
  epoch: string;
  version: string;
  users: number;
  layout: BfvLayout;
  material: BfvPublicMaterial;
}

export interface Publication extends PublicationHeader {
  /** position → media's user row (media only; never sent). */
  order: Uint32Array;
  tokens: Map<IdType, TokenPages>;
  ciphertexts: CiphertextSource;
}

export function arraySource(list: readonly Uint8Array[]): CiphertextSource {
  const get = (c: number): Uint8Array => {
    const ct = list[c];
    if (!ct) throw new RangeError(`expected a ciphertext index in [0, ${list.length}), got ${c}`);
    return ct;
  };
  return { count: list.length, get, view: get };
}

/**
 * Encrypts `users` users given as their packed vectors back to back (PACKED_BYTES each): each
 * vector unpacked straight into encryptEach's reused buffer and clipped there to the
 * contribution bound (common/attributes.ts), no array per user. The one definition of what a
 * publication's ciphertexts hold, wherever they are encrypted (publish, its worker threads).
 */
export function encryptPackedUsers(bfv: MediaBfv, packedUsers: Uint8Array, users: number): Uint8Array[] {
  if (packedUsers.length !== users * PACKED_BYTES) throw new RangeError(`expected ${users * PACKED_BYTES} packed bytes for ${users} users, got ${packedUsers.length}`);
  const out: Uint8Array[] = [];
  bfv.encryptEach(users, (i, into) => {
    clipContributionInPlace(unpackVectorInto(into, packedUsers, i * PACKED_BYTES));
  }, (ct) => out.push(ct));
  return out;
}

/** SHA-256 of one ciphertext as media sends it (the version commits to these). */
export function ciphertextDigest(ct: Uint8Array): Uint8Array {
  return createHash('sha256').update(ct).digest();
}

/** Entries hashed at a time by publicationVersion. */
const HASH_PAGE = 65_536;

/**
 * Where publish() puts each ID type's position-ordered tokens, range by range (ascending
 * positions): kept in memory (memoryTokenSink, the default) or written to files by the node
 * (services/media/src/publication-store.ts), so that no table of every token is held.
 */
export interface TokenSink {
  append(type: IdType, tokens: Uint8Array, positions: Uint32Array): void;
  /** Every range of `type` appended: its tokens, readable page by page. */
  finish(type: IdType): TokenPages;
}

export function memoryTokenSink(): TokenSink {
  const parts = new Map<IdType, { tokens: Uint8Array[]; positions: Uint32Array[] }>();
  return {
    append(type, tokens, positions) {
      const p = parts.get(type) ?? { tokens: [], positions: [] };
      p.tokens.push(tokens);
      p.positions.push(positions);
      parts.set(type, p);
    },
    finish(type) {
      const p = parts.get(type) ?? { tokens: [], positions: [] };
      const positions = new Uint32Array(p.positions.reduce((a, x) => a + x.length, 0));
      let at = 0;
      for (const x of p.positions) {
        positions.set(x, at);
        at += x.length;
      }
      return publishedTokens(p.tokens.length === 1 ? p.tokens[0]! : new Uint8Array(Buffer.concat(p.tokens)), positions);
    },
  };
}

/** The version of a publication: SHA-256 over everything the broker receives (token tables read page by page). */
export function publicationVersion(epoch: string, tokens: ReadonlyMap<IdType, TokenPages>, ciphertextDigests: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  h.update(`cleanroom/v1/publication\0${epoch}\0`);
  for (const [type, t] of [...tokens].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${type}\0${t.count}\0`);
    for (let i = 0; i < t.count; i += HASH_PAGE) h.update(t.page(i, Math.min(t.count, i + HASH_PAGE)).tokens);
    for (let i = 0; i < t.count; i += HASH_PAGE) {
      const p = t.page(i, Math.min(t.count, i + HASH_PAGE)).positions;
      h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
    }
  }
  h.update(`ciphertexts\0${ciphertextDigests.length}\0`);
  for (const d of ciphertextDigests) h.update(d);
  return h.digest('hex');
}

/** Positions one pass of tokensByPosition sorts at most: at least this many ... */
const RANGE_MIN = 1 << 22;
/** ... or users / RANGE_PASSES, whichever is larger (a bounded number of passes over the tokens). */
const RANGE_PASSES = 8;

/**
 * One ID type's tokens in position order, handed to `sink` one position range at a time.
 * Typed arrays only (no array of all rows, which stops at 2^27 entries): per range, a counting
 * sort by position, since a user has at most one token per type — several tokens on one
 * position (users sharing an ID) keep their input order. Memory: one range's tokens and counts
 * (≈ 24 bytes × max(2^22, users / 8)), not a table of every token; each range reads the
 * universe's tokens twice.
 */
async function tokensByPosition(chunks: () => Iterable<{ tokens: Uint8Array; rows: Uint32Array }>, positionOf: Uint32Array, type: IdType, sink: TokenSink, turn: () => Promise<void> | undefined, rangeSize?: number): Promise<TokenPages> {
  const users = positionOf.length;
  const range = rangeSize ?? Math.max(RANGE_MIN, Math.ceil(users / RANGE_PASSES));
  for (let lo = 0; lo < users; lo += range) {
    const hi = Math.min(users, lo + range);
    const count = new Uint32Array(hi - lo + 1);
    let n = 0;
    for (const c of chunks()) {
      await turn();
      for (let i = 0; i < c.rows.length; i++) {
        const pos = positionOf[c.rows[i]!]!;
        if (pos >= lo && pos < hi) {
          count[pos - lo + 1]!++;
          n++;
        }
      }
    }
    for (let p = 1; p < count.length; p++) count[p]! += count[p - 1]!;
    const packed = new Uint8Array(n * TOKEN_BYTES);
    const positions = new Uint32Array(n);
    for (const c of chunks()) {
      await turn();
      for (let i = 0; i < c.rows.length; i++) {
        const pos = positionOf[c.rows[i]!]!;
        if (pos < lo || pos >= hi) continue;
        const at = count[pos - lo]!++;
        packed.set(c.tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES), at * TOKEN_BYTES);
        positions[at] = pos;
      }
    }
    sink.append(type, packed, positions);
  }
  return sink.finish(type);
}

/**
 * Publishes `universe` under `bfv` (a fresh key pair). Each ciphertext goes to `sink` as
 * soon as it exists (the node writes it to disk; nothing holds them all in memory), or is
 * kept in memory without a sink; the token tables likewise go to `tokenSink` range by range
 * (memory without one). `onProgress` is told how many users are encrypted so far. The work
 * gives the event loop a turn at least every TURN_EVERY_MS between batches and token chunks
 * (common/turns.ts): a node publishing 10^7 users keeps answering its probes meanwhile.
 * `rangeSize`: positions per token-sorting pass (tests). `encrypt`: where a batch of users
 * (their packed vectors in position order) is encrypted — by default here, with `bfv`; the node
 * passes worker threads holding the same key (services/media/src/publication-workers.ts), and
 * up to `inflight` batches are then encrypted at once, their ciphertexts still taken in order.
 */
export async function publish(
  universe: Universe,
  bfv: MediaBfv,
  opts: {
    uniform?: Uniform; onProgress?: (done: number, total: number) => void; batchUsers?: number; sink?: (ct: Uint8Array) => void; tokenSink?: TokenSink; rangeSize?: number;
    encrypt?: (packedUsers: Uint8Array, users: number) => Promise<readonly Uint8Array[]>; inflight?: number;
  } = {},
): Promise<Publication> {
  const turn = turnTaker();
  const users = universe.size;
  const order = randomPermutation(users, opts.uniform ?? cryptoUniform);
  const positionOf = new Uint32Array(users);
  order.forEach((row, pos) => (positionOf[row] = pos));
  const tokens = new Map<IdType, TokenPages>();
  const tokenSink = opts.tokenSink ?? memoryTokenSink();
  for (const type of universe.idTypes) {
    tokens.set(type, await tokensByPosition(() => universe.tokenChunks(type), positionOf, type, tokenSink, turn, opts.rangeSize));
  }
  const upc = bfv.layout.usersPerCiphertext;
  const step = Math.max(upc, Math.floor((opts.batchUsers ?? upc * 64) / upc) * upc);
  if (bfv.layout.attributeCount !== ATTRIBUTE_COUNT) throw new RangeError(`expected a BFV layout of ${ATTRIBUTE_COUNT} attributes, got ${bfv.layout.attributeCount}`);
  const packed = universe.packed;
  if (packed.length !== users * PACKED_BYTES) throw new RangeError(`expected ${users * PACKED_BYTES} packed attribute bytes, got ${packed.length}`);
  const list: Uint8Array[] = [];
  const digests: Uint8Array[] = [];
  const keep = (ct: Uint8Array): void => {
    digests.push(ciphertextDigest(ct));
    if (opts.sink) opts.sink(ct);
    else list.push(ct);
  };
  const encrypt = opts.encrypt ?? (async (batch: Uint8Array, n: number) => encryptPackedUsers(bfv, batch, n));
  const inflight = opts.encrypt ? Math.max(1, opts.inflight ?? 1) : 1;
  // batches being encrypted, oldest first: their ciphertexts are kept in position order
  const pending: { cts: Promise<readonly Uint8Array[]>; end: number }[] = [];
  const takeOldest = async (): Promise<void> => {
    const b = pending.shift()!;
    for (const ct of await b.cts) keep(ct);
    opts.onProgress?.(b.end, users);
  };
  for (let first = 0; first < users; first += step) {
    const end = Math.min(users, first + step);
    // the batch's users' packed vectors in position order (8 bytes each, copied byte by byte)
    const batch = new Uint8Array((end - first) * PACKED_BYTES);
    for (let i = 0; i < end - first; i++) {
      const from = order[first + i]! * PACKED_BYTES;
      for (let b = 0; b < PACKED_BYTES; b++) batch[i * PACKED_BYTES + b] = packed[from + b]!;
    }
    const cts = encrypt(batch, end - first);
    cts.catch(() => undefined); // awaited in order below; a later batch's failure is not unhandled meanwhile
    pending.push({ cts, end });
    if (pending.length >= inflight) await takeOldest();
    await turn();
  }
  while (pending.length > 0) await takeOldest();
  const gone = (): never => {
    throw new Error('publish: ciphertexts went to the sink');
  };
  const ciphertexts = opts.sink ? { count: digests.length, get: gone, view: gone } : arraySource(list);
  return {
    epoch: universe.epoch,
    version: publicationVersion(universe.epoch, tokens, digests),
    users,
    layout: bfv.layout,
    material: bfv.publicMaterial(),
    order,
    tokens,
    ciphertexts,
  };
}
