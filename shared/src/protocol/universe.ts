/**
 * Media's prepared universe: every consented user's OPRF token per ID type, and their
 * attribute vectors packed 8 bytes per user. Prepared once under a long-lived universe
 * OPRF key (one key per epoch), reused across sessions, extended incrementally for new
 * users; a session touches it only by lookup (token → row) and by the look-alike scoring.
 *
 * token(x) = finalize(x, X25519(k, H_epoch(x))) — exactly what the advertiser obtains by
 * blind evaluation, so matching is a table lookup at the broker.
 *
 * Pure: no filesystem. The media node keeps its universe on disk instead
 * (services/media/src/universe-files.ts), behind the same Universe interface.
 * Guarantees: rows of a token table map to users by `rowsOf[idType]`; an ID hash index
 * (SHA-256 of "idType:id" truncated to ID_HASH_BYTES, 12 bytes: collisions ≈ U²/2^97) lets a re-preparation reuse the tokens of IDs already
 * prepared under the same key, so updating for new users costs only the new users.
 */
import { createHash } from 'node:crypto';
import { OprfKey } from '../crypto/oprf.ts';
import { oprfDst } from '../crypto/h2c.ts';
import { computeTokens, computeTokensParallel } from '../crypto/oprf-tokens.ts';
import { ATTRIBUTE_COUNT } from '../common/attributes.ts';
import { TokenTable, TOKEN_BYTES } from '../common/token-set.ts';
import type { IdType } from './messages.ts';

export const PACKED_BYTES = Math.ceil(ATTRIBUTE_COUNT / 8);

/**
 * Bytes of an ID hash, SHA-256("idType:id") truncated: the key under which a re-preparation
 * finds the token an ID already has. Its own width, not the token's (TOKEN_BYTES): it never
 * leaves media and is not an OPRF output. 96 bits: the chance that two of U IDs collide is
 * ≈ U²/2^97 (≈ 6·10^-12 at U = 10^9); a collision would give the later ID the earlier one's
 * token (one wrong match; docs/protocol.md, "Building blocks"). Changing it changes the prepared layout
 * (services/media/src/universe-files.ts PREPARED_FORMAT).
 */
export const ID_HASH_BYTES = 12;

export interface UniverseRecord {
  userId: string;
  /** Normalised IDs (common/ids.ts); a missing type gets no token. */
  ids: Partial<Record<IdType, string>>;
  /** ATTRIBUTE_COUNT values, 0/1. */
  vector: Uint8Array;
}

/**
 * The same input in columns, for large universes: one detached string per user and ID,
 * attribute vectors packed 8 bytes per user in one buffer (≈ 100 bytes per user in all,
 * where an object per user with its own typed array costs over a kilobyte).
 */
export interface UniverseColumns {
  userIds: string[];
  ids: Partial<Record<IdType, (string | undefined)[]>>;
  packed: Uint8Array;
}

export function toColumns(records: readonly UniverseRecord[]): UniverseColumns {
  const packed = new Uint8Array(records.length * PACKED_BYTES);
  records.forEach((r, i) => packed.set(packVector(r.vector), i * PACKED_BYTES));
  const ids: UniverseColumns['ids'] = {};
  for (const r of records) for (const t of Object.keys(r.ids) as IdType[]) ids[t] ??= new Array(records.length).fill(undefined);
  records.forEach((r, i) => {
    for (const [t, v] of Object.entries(r.ids) as [IdType, string][]) ids[t]![i] = v;
  });
  return { userIds: records.map((r) => r.userId), ids, packed };
}

/**
 * What a session and a publication need of a prepared universe, whatever holds it: the
 * in-memory PreparedUniverse below (tests, small universes) or the media node's universe on
 * disk (services/media/src/universe-files.ts), which keeps in memory only the packed vectors
 * (8 bytes per user) and reads user IDs and token rows from sorted files on demand.
 */
export interface Universe {
  readonly epoch: string;
  readonly key: OprfKey;
  readonly size: number;
  readonly idTypes: readonly IdType[];
  /** PACKED_BYTES per user, row order. */
  readonly packed: Uint8Array;
  /** Share of users with each attribute. */
  readonly shares: Float64Array;
  userId(row: number): string;
  /** The user ids of `rows`, in that order (duplicates allowed): one read pass, not one read per row. */
  userIdsOf(rows: ArrayLike<number>): string[];
  /**
   * The user ids of `rows` (in that order, duplicates allowed) as UTF-8 lines, each ending in
   * '\n', in chunks of about `chunkBytes` (one id longer than that: a chunk of its own). What
   * an audience file holds, without a string per id. A chunk is valid until the next is asked for.
   */
  userIdLines(rows: ArrayLike<number>, chunkBytes?: number): Iterable<Uint8Array>;
  /** The user row of a token, or -1. */
  rowOf(type: IdType, token: Uint8Array): number;
  vector(row: number): Uint8Array;
  /** Every (token, user row) of one ID type, in chunks (tokens packed TOKEN_BYTES each). */
  tokenChunks(type: IdType): Iterable<{ tokens: Uint8Array; rows: Uint32Array }>;
}

/** The start-up warm-up of the audience file's id pass (warmUserIdLines): WARM_ID_ROUNDS calls of WARM_ID_ROWS rows (every 7th user), then one of WARM_ID_RESERVE rows. */
const WARM_ID_ROUNDS = 100;
const WARM_ID_ROWS = 2048;
const WARM_ID_RESERVE = 1 << 16;

/**
 * Runs the audience file's id pass (userIdLines) before the first session needs it, the ids
 * discarded: many small calls, so that V8 optimises it (each session runs it once: unoptimised,
 * about twice its CPU; two large calls left the first session to compile it again), then one of
 * WARM_ID_RESERVE rows spread over the universe, which leaves the pass's reused arrays
 * (DiskUniverse's scratch) grown and written for audiences of up to that size. Media calls it
 * when it starts; bench/lookalike-steps.ts too.
 */
export function warmUserIdLines(u: Pick<Universe, 'size' | 'userIdLines'>): void {
  if (u.size === 0) return;
  const rows = Uint32Array.from({ length: WARM_ID_ROWS }, (_, i) => Math.min(i * 7, u.size - 1));
  for (let r = 0; r < WARM_ID_ROUNDS; r++) for (const chunk of u.userIdLines(rows)) void chunk;
  const spread = Uint32Array.from({ length: WARM_ID_RESERVE }, (_, i) => Math.floor((i * u.size) / WARM_ID_RESERVE));
  for (const chunk of u.userIdLines(spread)) void chunk;
}

export interface IdTypeIndex {
  tokens: TokenTable;
  /** token row → user row */
  rows: Uint32Array;
  /** SHA-256("idType:id")[0..ID_HASH_BYTES] per token row, to reuse tokens on re-preparation */
  idHashes: TokenTable;
}

export interface PrepareStats {
  users: number;
  computed: number;
  reused: number;
  seconds: number;
}

export class PreparedUniverse implements Universe {
  readonly epoch: string;
  readonly key: OprfKey;
  readonly userIds: string[];
  readonly packed: Uint8Array;
  readonly index: Map<IdType, IdTypeIndex>;
  /** Share of users with each attribute. */
  readonly shares: Float64Array;

  constructor(epoch: string, key: OprfKey, userIds: string[], packed: Uint8Array, index: Map<IdType, IdTypeIndex>) {
    if (packed.length !== userIds.length * PACKED_BYTES) {
      throw new RangeError(`expected ${userIds.length * PACKED_BYTES} packed attribute bytes, got ${packed.length}`);
    }
    this.epoch = epoch;
    this.key = key;
    this.userIds = userIds;
    this.packed = packed;
    this.index = index;
    this.shares = attributeShares(packed, userIds.length);
  }

  get size(): number {
    return this.userIds.length;
  }

  get idTypes(): IdType[] {
    return [...this.index.keys()];
  }

  userId(row: number): string {
    const id = this.userIds[row];
    if (id === undefined) throw new RangeError(`expected a user row in [0, ${this.size}), got ${row}`);
    return id;
  }

  userIdsOf(rows: ArrayLike<number>): string[] {
    return Array.from(rows, (r) => this.userId(r));
  }

  userIdLines(rows: ArrayLike<number>, chunkBytes = 1 << 20): Iterable<Uint8Array> {
    return lineChunks(this.userIdsOf(rows), chunkBytes); // every row checked now, not at the first chunk
  }

  *tokenChunks(type: IdType): Iterable<{ tokens: Uint8Array; rows: Uint32Array }> {
    const ix = this.index.get(type);
    if (ix) yield { tokens: ix.tokens.tokens, rows: ix.rows };
  }

  /** Prepares (or re-prepares, reusing `previous` tokens under the same key) a universe, on this thread. */
  static prepare(
    input: readonly UniverseRecord[] | UniverseColumns,
    key: OprfKey,
    epoch: string,
    idTypes: readonly IdType[],
    previous?: PreparedUniverse,
  ): { universe: PreparedUniverse; stats: PrepareStats } {
    const t0 = performance.now();
    const cols = Array.isArray(input) ? toColumns(input) : (input as UniverseColumns);
    const plan = planPreparation(cols, epoch, idTypes, previous);
    const fresh = plan.jobs.map((j) => computeTokens(key, j.inputs, j.dst));
    return assemble(plan, fresh, cols, key, epoch, t0);
  }

  /** The same, with the OPRF work spread over `threads` worker threads (offline path of the media node). */
  static async prepareParallel(
    input: readonly UniverseRecord[] | UniverseColumns,
    key: OprfKey,
    epoch: string,
    idTypes: readonly IdType[],
    previous: PreparedUniverse | undefined,
    threads: number,
  ): Promise<{ universe: PreparedUniverse; stats: PrepareStats }> {
    const t0 = performance.now();
    const cols = Array.isArray(input) ? toColumns(input) : (input as UniverseColumns);
    const plan = planPreparation(cols, epoch, idTypes, previous);
    const fresh: Uint8Array[] = [];
    for (const j of plan.jobs) fresh.push(await computeTokensParallel(key, j.inputs, j.dst, threads));
    return assemble(plan, fresh, cols, key, epoch, t0);
  }

  /** The user row of a token, or -1. */
  rowOf(type: IdType, token: Uint8Array): number {
    const ix = this.index.get(type);
    if (!ix) return -1;
    const r = ix.tokens.lookup(token);
    return r < 0 ? -1 : ix.rows[r]!;
  }

  vector(row: number): Uint8Array {
    return unpackVector(this.packed.subarray(row * PACKED_BYTES, (row + 1) * PACKED_BYTES));
  }
}

export function idHash(type: IdType, id: string): Uint8Array {
  return createHash('sha256').update(`${type}:${id}`).digest().subarray(0, ID_HASH_BYTES);
}

export function packVector(v: Uint8Array): Uint8Array {
  return packVectorInto(new Uint8Array(PACKED_BYTES), v);
}

/** packVector into `out` (PACKED_BYTES, overwritten): no allocation per row. */
export function packVectorInto(out: Uint8Array, v: Uint8Array): Uint8Array {
  if (v.length !== ATTRIBUTE_COUNT) throw new RangeError(`expected ${ATTRIBUTE_COUNT} attributes, got ${v.length}`);
  if (out.length !== PACKED_BYTES) throw new RangeError(`expected a ${PACKED_BYTES}-byte output, got ${out.length} bytes`);
  for (let b = 0; b < PACKED_BYTES; b++) {
    let byte = 0;
    for (let k = 0; k < 8; k++) if (v[b * 8 + k]) byte |= 1 << k;
    out[b] = byte;
  }
  return out;
}

export function unpackVector(p: Uint8Array): Uint8Array {
  return unpackVectorInto(new Uint8Array(ATTRIBUTE_COUNT), p, 0);
}

/** unpackVector into `out` (ATTRIBUTE_COUNT values, overwritten) of the vector packed at byte `at` of `packed`: no allocation per row. */
export function unpackVectorInto(out: Uint8Array, packed: Uint8Array, at: number): Uint8Array {
  for (let j = 0; j < ATTRIBUTE_COUNT; j++) out[j] = (packed[at + (j >> 3)]! >> (j & 7)) & 1;
  return out;
}

export function attributeShares(packed: Uint8Array, n: number): Float64Array {
  return attributeCounts(packed, n).map((c) => (n === 0 ? 0 : c / n));
}

/** Users with each attribute, over `n` packed vectors. */
export function attributeCounts(packed: Uint8Array, n: number, into = new Float64Array(ATTRIBUTE_COUNT)): Float64Array {
  const counts = into;
  for (let u = 0; u < n; u++) {
    for (let b = 0; b < PACKED_BYTES; b++) {
      let byte = packed[u * PACKED_BYTES + b]!;
      while (byte) {
        const bit = 31 - Math.clz32(byte & -byte);
        counts[b * 8 + bit]! += 1;
        byte &= byte - 1;
      }
    }
  }
  return counts;
}

interface TypePlan {
  type: IdType;
  rows: number[];
  hashes: Uint8Array;
  tokens: Uint8Array;
  todo: number[];
}

interface Plan {
  types: TypePlan[];
  jobs: { inputs: Uint8Array[]; dst: string }[];
  reused: number;
}

/** Which tokens can be reused from `previous` (same epoch, same ID) and which must be computed. */
function planPreparation(cols: UniverseColumns, epoch: string, idTypes: readonly IdType[], previous?: PreparedUniverse): Plan {
  const reuse = previous && previous.epoch === epoch ? previous : undefined;
  const enc = new TextEncoder();
  const types: TypePlan[] = [];
  const jobs: Plan['jobs'] = [];
  let reused = 0;
  for (const type of idTypes) {
    const rows: number[] = [];
    const ids: string[] = [];
    const column = cols.ids[type] ?? [];
    column.forEach((id, i) => {
      if (id !== undefined) {
        rows.push(i);
        ids.push(id);
      }
    });
    const hashes = new Uint8Array(ids.length * ID_HASH_BYTES);
    ids.forEach((id, j) => hashes.set(idHash(type, id), j * ID_HASH_BYTES));
    const tokens = new Uint8Array(ids.length * TOKEN_BYTES);
    const todo: number[] = [];
    const old = reuse?.index.get(type);
    for (let j = 0; j < ids.length; j++) {
      const oldRow = old ? old.idHashes.lookup(hashes.subarray(j * ID_HASH_BYTES, (j + 1) * ID_HASH_BYTES)) : -1;
      if (old && oldRow >= 0) {
        tokens.set(old.tokens.at(oldRow), j * TOKEN_BYTES);
        reused++;
      } else {
        todo.push(j);
      }
    }
    types.push({ type, rows, hashes, tokens, todo });
    jobs.push({ inputs: todo.map((j) => enc.encode(ids[j]!)), dst: oprfDst(type, epoch) });
  }
  return { types, jobs, reused };
}

function assemble(plan: Plan, fresh: Uint8Array[], cols: UniverseColumns, key: OprfKey, epoch: string, t0: number): { universe: PreparedUniverse; stats: PrepareStats } {
  const index = new Map<IdType, IdTypeIndex>();
  let computed = 0;
  plan.types.forEach((t, n) => {
    const f = fresh[n]!;
    t.todo.forEach((j, k) => t.tokens.set(f.subarray(k * TOKEN_BYTES, (k + 1) * TOKEN_BYTES), j * TOKEN_BYTES));
    computed += t.todo.length;
    index.set(t.type, { tokens: TokenTable.fromPacked(t.tokens), rows: Uint32Array.from(t.rows), idHashes: TokenTable.fromPacked(t.hashes, ID_HASH_BYTES) });
  });
  const universe = new PreparedUniverse(epoch, key, cols.userIds, cols.packed, index);
  return { universe, stats: { users: cols.userIds.length, computed, reused: plan.reused, seconds: (performance.now() - t0) / 1000 } };
}

/** `ids` as '\n'-terminated UTF-8 lines, in chunks of about `chunkBytes`. */
function* lineChunks(ids: readonly string[], chunkBytes: number): Iterable<Uint8Array> {
  const enc = new TextEncoder();
  let lines: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    lines.push(id);
    bytes += id.length + 1;
    if (bytes >= chunkBytes) {
      yield enc.encode(`${lines.join('\n')}\n`);
      lines = [];
      bytes = 0;
    }
  }
  if (lines.length > 0) yield enc.encode(`${lines.join('\n')}\n`);
}
