/**
 * The universe on disk (universe-files.ts, universe-store.ts): the streamed preparation gives
 * every user the token blind evaluation gives (the in-memory PreparedUniverse's) and publishes
 * each at its user's position, and stores each row's OPRF point (universe-points.ts: the one
 * recomputation gives, zero for none, mode 0600); re-preparation of a grown or reordered CSV
 * computes only the new IDs and keeps every row's point right; a new epoch re-keys the points
 * too; N shard processes (the Indexed Job shape, prepare.ts --shard I --shards N) merge into
 * exactly the single-process preparation, file for file, from one CSV or from a split source
 * (shard I reads file I alone; a grown source is prepared again incrementally, by the node or by
 * the shards run again, which reuse the merged union); a directory in a former layout
 * (columnar-v1: 16-byte tokens and ID hashes; columnar-v2: no points) is prepared again under
 * the epoch's key, never read as the current one nor reused; a points file of the wrong size is
 * refused on open.
 */
import { describe, expect, it } from 'vitest';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrepare } from './prepare.fixture.ts';
import { pino } from 'pino';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import { readUniverse } from '@cleanroom/shared/data/files.ts';
import { normalizeId } from '@cleanroom/shared/common/ids.ts';
import { ID_HASH_BYTES, PreparedUniverse, type UniverseRecord } from '@cleanroom/shared/protocol/universe.ts';
import { MediaBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { publish } from '@cleanroom/shared/protocol/publication.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';
import { computePoints } from '@cleanroom/shared/crypto/oprf-tokens.ts';
import { oprfDst } from '@cleanroom/shared/crypto/h2c.ts';
import { openUniverse, prepareShard, type UniverseStatus } from './universe-store.ts';
import { DiskUniverse, IDHASH_RECORD, mergeShards, PREPARED_FORMAT, TOKEN_RECORD } from './universe-files.ts';
import { writeSyntheticUniverse } from './universe-files.fixture.ts';

/** Every row's stored phone point is the one recomputed from the CSV's ID under the universe's key (undefined for none). */
async function expectStoredPoints(u: DiskUniverse, csv: string): Promise<number> {
  const phones: (string | undefined)[] = [];
  for await (const r of readUniverse(csv)) {
    if (!r.consent) continue;
    const n = normalizeId('phone', r.phone);
    phones.push(n.ok ? n.value : undefined);
  }
  expect(phones.length).toBe(u.size);
  const enc = new TextEncoder();
  const have = phones.flatMap((p, row) => (p === undefined ? [] : [row]));
  const want = computePoints(u.key, have.map((row) => enc.encode(phones[row]!)), oprfDst('phone', u.epoch));
  have.forEach((row, k) => expect(Buffer.from(u.pointOf('phone', row)!).equals(Buffer.from(want[k]!)), `row ${row}`).toBe(true));
  for (let row = 0; row < u.size; row++) if (phones[row] === undefined) expect(u.pointOf('phone', row)).toBeUndefined();
  return have.length;
}

const log = pino({ level: 'silent' });
const FILES = ['users.bin', 'users.off', 'vectors.bin', 'purposes.bin', 'tokens-phone.bin', 'tokens-phone.idx', 'idhash-phone.bin', 'idhash-phone.idx', 'points-phone.bin', 'key.bin'];

/**
 * The single-process preparation of `data` at `at`, under the key `stateDir` holds for `epoch`
 * (copied, as a restarted deployment would hold it), checked file for file against `stateDir`'s
 * universe; its status.
 */
async function expectSingleProcessEqual(stateDir: string, epoch: string, data: string, at: string): Promise<UniverseStatus> {
  mkdirSync(join(at, 'universe'), { recursive: true });
  copyFileSync(join(stateDir, 'universe', `${epoch}.key`), join(at, 'universe', `${epoch}.key`));
  const one = await openUniverse({ stateDir: at, data, idTypes: ['phone'], epoch, log, threads: 1 });
  one.universe.close();
  for (const f of FILES) {
    expect(readFileSync(join(stateDir, 'universe', epoch, f)).equals(readFileSync(join(at, 'universe', epoch, f))), `${f} (${data})`).toBe(true);
  }
  return one.status;
}


describe('media universe on disk', () => {
  it('streams the same tokens as the in-memory preparation; re-preparation computes only new IDs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ufiles-'));
    await generateWorld(join(dir, 'world'), { seed: 'ufiles', universeSize: 3000, crmSize: 300 });
    const csv = join(dir, 'world/media/universe.csv');
    const state = join(dir, 'state');
    const { universe, status } = await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 2 });
    expect(status.reused).toBe(false);
    const records: UniverseRecord[] = [];
    for await (const r of readUniverse(csv)) {
      if (!r.consent) continue;
      const n = normalizeId('phone', r.phone);
      records.push({ userId: r.userId, ids: n.ok ? { phone: n.value } : {}, vector: r.vector });
    }
    expect(universe.size).toBe(records.length);
    const mem = PreparedUniverse.prepare(records, universe.key, 'e1', ['phone']).universe;
    const ix = mem.index.get('phone')!;
    for (let i = 0; i < ix.tokens.size; i += 7) {
      const row = ix.rows[i]!;
      expect(universe.userId(universe.rowOf('phone', ix.tokens.at(i)))).toBe(mem.userId(row));
      expect(Array.from(universe.vector(row))).toEqual(Array.from(mem.vector(row)));
    }
    expect(universe.rowOf('phone', new Uint8Array(TOKEN_BYTES))).toBe(-1);
    // the OPRF points, stored from the token workers' evaluation: owner-only, like the key
    expect(await expectStoredPoints(universe, csv)).toBe(ix.tokens.size);
    expect(statSync(join(universe.dir, 'points-phone.bin')).mode & 0o777).toBe(0o600);
    expect(() => universe.pointOf('phone', universe.size)).toThrow(RangeError);
    // userIdsOf: the ids of any rows (unsorted, repeated, first and last) in the order asked
    const asked = [universe.size - 1, 0, 17, 17, 5, universe.size - 1, ...Array.from({ length: 500 }, (_, i) => (i * 7919) % universe.size)];
    expect(universe.userIdsOf(asked)).toEqual(asked.map((r) => mem.userId(r)));
    for (const window of [1, 64, 1000]) expect(universe.userIdsOf(asked, window)).toEqual(asked.map((r) => mem.userId(r))); // many window reads, ids longer than the window
    // userIdLines: the same ids as '\n'-terminated lines, in chunks (any chunk and window size), no string per id
    const lines = (rows: ArrayLike<number>, chunk?: number, window?: number) => {
      const parts: Buffer[] = [];
      for (const c of universe.userIdLines(rows, chunk, window)) parts.push(Buffer.from(c)); // copied: a chunk is valid until the next
      return Buffer.concat(parts).toString('utf8');
    };
    const want = asked.map((r) => `${mem.userId(r)}\n`).join('');
    expect(lines(asked)).toBe(want);
    for (const [chunk, window] of [[1, 1], [7, 64], [100, 1000], [1 << 20, 3]]) expect(lines(asked, chunk, window)).toBe(want);
    expect(lines(new Uint32Array(0))).toBe('');
    expect([...mem.userIdLines(asked, 5)].map((c) => Buffer.from(c).toString('utf8')).join('')).toBe(want); // the in-memory universe's lines
    expect(() => universe.userIdLines([0, universe.size])).toThrow(RangeError); // when asked, before any chunk
    expect(() => universe.userIdLines([1.5])).toThrow(RangeError);
    expect(universe.userIdsOf(new Uint32Array(0))).toEqual([]);
    expect(() => universe.userIdsOf([0, universe.size])).toThrow(RangeError);
    expect(() => universe.userIdsOf([-1])).toThrow(RangeError);
    // purpose consent per row, as read from the same CSV
    const consent: { ads: number[]; share: number[] } = { ads: [], share: [] };
    for await (const r of readUniverse(csv)) {
      if (!r.consent) continue;
      consent.ads.push(r.consentAds ? 1 : 0);
      consent.share.push(r.consentShare ? 1 : 0);
    }
    const purposes = universe.purposes();
    expect(Array.from(purposes.ads)).toEqual(consent.ads);
    expect(Array.from(purposes.share)).toEqual(consent.share);
    expect(Array.from(universe.shares)).toEqual(Array.from(mem.shares));
    let chunked = 0;
    for (const c of universe.tokenChunks('phone')) chunked += c.rows.length;
    expect(chunked).toBe(ix.tokens.size);
    // Published from disk: every token at its user's position (order[position] = the user's row).
    const bfv = await MediaBfv.create(64);
    try {
      const pub = await publish(universe, bfv);
      const t = pub.tokens.get('phone')!.page(0, pub.tokens.get('phone')!.count);
      expect(t.positions.length).toBe(ix.tokens.size);
      for (let i = 0; i < t.positions.length; i++) {
        expect(universe.rowOf('phone', t.tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES))).toBe(pub.order[t.positions[i]!]);
      }
    } finally {
      bfv.dispose();
    }

    // Same CSV: reused as is. Grown CSV, same epoch: only the new users' IDs cost OPRF work.
    expect((await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 1 })).status.reused).toBe(true);
    appendFileSync(csv, '\nnew-user-1,+8613912345678,,,1,60+,unknown,tier3,android,low,,1,0\nnew-user-2,+8613912345679,,,1,25-29,male,tier4,android,high,auto|movies,0,1\n');
    const grown = await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 1 });
    expect(grown.status.computed).toBe(2);
    expect(grown.status.reusedTokens).toBe(ix.tokens.size);
    expect(grown.universe.rowOf('phone', ix.tokens.at(5))).toBe(ix.rows[5]);
    await expectStoredPoints(grown.universe, csv);
    // Reordered rows (the first consented user gone, one added): reused tokens keep their points at their new rows.
    const csvLines = readFileSync(csv, 'utf8').split('\n');
    const firstConsented = csvLines.findIndex((l, i) => i > 0 && l.split(',')[4] === '1');
    csvLines.splice(firstConsented, 1);
    csvLines.splice(2, 0, 'new-user-3,+8613912345680,,,1,18-24,female,tier1,ios,high,,1,1');
    writeFileSync(csv, csvLines.join('\n'));
    const moved = await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 1 });
    expect(moved.status.computed).toBe(1);
    expect(moved.status.reusedTokens).toBeGreaterThan(ix.tokens.size - 2);
    await expectStoredPoints(moved.universe, csv);
    // A new epoch re-keys: everything computed again.
    const rotated = await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e2', log, threads: 1 });
    expect(rotated.status.computed).toBe(ix.tokens.size + 2);
    expect(rotated.universe.rowOf('phone', ix.tokens.at(5))).toBe(-1);
    await expectStoredPoints(rotated.universe, csv); // the new key's points
  }, 120_000);

  it("an audience's ids cost reads sized to it: a sparse one reads its own bytes, a dense one each file once", () => {
    // A universe of 300,000 users written directly (ids of 6–15 bytes, no ID types): large enough
    // that sparse rows lie far apart in users.off and users.bin.
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ureads-'));
    const users = 300_000;
    const idOf = (r: number) => `u${r.toString(36)}-${'x'.repeat(r % 10)}`;
    const { idBytes, offBytes } = writeSyntheticUniverse(dir, users, idOf);
    const u = DiskUniverse.open(dir)!;
    const read = (rows: ArrayLike<number>) => {
      const before = u.bytesRead;
      const got = Buffer.concat([...u.userIdLines(rows)].map((c) => Buffer.from(c))).toString('utf8');
      expect(got).toBe(Array.from(rows, (r) => `${idOf(r)}\n`).join(''));
      return u.bytesRead - before;
    };
    // 30 rows spread over the universe (as 50,000 of 5·10^8 would be): two offsets and one id each.
    // Before, each cost a window of 8,192 offsets (64 KiB) and one of up to 1 MiB of ids: ≈ 30 MB here.
    const sparse = Array.from({ length: 30 }, (_, i) => (i * 9973 + 11) % users);
    expect(read(sparse)).toBeLessThanOrEqual(30 * (16 + 15));
    // neighbours share a read: 30 runs of 5 adjacent rows cost each run's offsets and ids once
    const runs = sparse.flatMap((r) => [0, 1, 2, 3, 4].map((d) => Math.min(users - 1, r + d)));
    expect(read(runs)).toBeLessThanOrEqual(30 * (6 * 8 + 5 * 15));
    // dense (one row in 7, repeated, unordered): each file read once, front to back, at most
    const dense = Array.from({ length: users / 7 }, (_, i) => (i * 7 * 7919) % users).concat([0, 0, users - 1]);
    expect(read(dense)).toBeLessThanOrEqual(idBytes + offBytes);
    expect(u.userIdsOf(dense)).toEqual(dense.map(idOf));
    expect(u.userId(users - 1)).toBe(idOf(users - 1));
    u.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reuses its id reads' arrays from one audience to the next, and an audience read while another is still being read gets its own", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ureuse-'));
    const users = 50_000;
    const idOf = (r: number) => `id-${r}-${'y'.repeat(r % 13)}`;
    writeSyntheticUniverse(dir, users, idOf);
    const u = DiskUniverse.open(dir)!;
    const lines = (rows: number[]) => rows.map((r) => `${idOf(r)}\n`).join('');
    const text = (chunks: Iterable<Uint8Array>) => Buffer.concat([...chunks].map((c) => Buffer.from(c))).toString('utf8');
    const big = Array.from({ length: 20_000 }, (_, i) => (i * 7919) % users);
    const small = [users - 1, 3, 3, 40_000];
    // a large audience, then a small one in the arrays it left: nothing of the first shows
    expect(text(u.userIdLines(big))).toBe(lines(big));
    expect(text(u.userIdLines(small))).toBe(lines(small));
    // an audience half read (chunks of 4 KiB) while others are read in full, then finished
    const first = u.userIdLines(big, 4096)[Symbol.iterator]();
    const head = Buffer.from(first.next().value as Uint8Array);
    expect(text(u.userIdLines(small))).toBe(lines(small));
    expect(u.userIdsOf(big.slice(0, 5000))).toEqual(big.slice(0, 5000).map(idOf));
    const rest: Buffer[] = [];
    for (let c = first.next(); !c.done; c = first.next()) rest.push(Buffer.from(c.value));
    expect(Buffer.concat([head, ...rest]).toString('utf8')).toBe(lines(big));
    // one stopped early frees the arrays for the next
    for (const c of u.userIdLines(big, 4096)) {
      void c;
      break;
    }
    expect(text(u.userIdLines(big.slice(0, 300)))).toBe(lines(big.slice(0, 300)));
    u.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a prepared directory of 16-byte tokens (columnar-v1) is prepared again under the same key, not misread or reused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ufiles-v1-'));
    await generateWorld(join(dir, 'world'), { seed: 'ufiles-v1', universeSize: 1500, crmSize: 150 });
    const csv = join(dir, 'world/media/universe.csv');
    const state = join(dir, 'state');
    const first = (await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 1 })).universe;
    const rowOf = new Map<string, number>();
    for (const c of first.tokenChunks('phone')) c.rows.forEach((r, i) => rowOf.set(Buffer.from(c.tokens.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES)).toString('hex'), r));
    first.close();
    // Rewrite it as the former layout wrote it: 16-byte tokens (the same SHA-512 prefix, 4 bytes
    // longer) and 16-byte ID hashes, manifest format columnar-v1; the bucket indexes count records.
    const ud = join(state, 'universe', 'e1');
    // fields: [offset, length, bytes added after it in the former layout]
    const widen = (raw: Buffer, width: number, fields: [number, number, number][]): Buffer => {
      const n = raw.length / width;
      const outWidth = fields.reduce((a, [, len, pad]) => a + len + pad, 0);
      const out = Buffer.alloc(n * outWidth, 0xa5);
      for (let i = 0; i < n; i++) {
        let at = i * outWidth;
        for (const [from, len, pad] of fields) {
          raw.copy(out, at, i * width + from, i * width + from + len);
          at += len + pad;
        }
      }
      return out;
    };
    writeFileSync(join(ud, 'tokens-phone.bin'), widen(readFileSync(join(ud, 'tokens-phone.bin')), TOKEN_RECORD, [[0, TOKEN_BYTES, 16 - TOKEN_BYTES], [TOKEN_BYTES, 4, 0]]));
    writeFileSync(join(ud, 'idhash-phone.bin'), widen(readFileSync(join(ud, 'idhash-phone.bin')), IDHASH_RECORD, [[0, ID_HASH_BYTES, 16 - ID_HASH_BYTES], [ID_HASH_BYTES, TOKEN_BYTES, 16 - TOKEN_BYTES]]));
    const m = JSON.parse(readFileSync(join(ud, 'manifest.json'), 'utf8'));
    expect(m.format).toBe(PREPARED_FORMAT);
    writeFileSync(join(ud, 'manifest.json'), JSON.stringify({ ...m, format: 'columnar-v1' }));
    const again = await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 1 });
    expect(again.status.reused).toBe(false);
    expect(again.status.reusedTokens).toBe(0); // the old ID hashes are not trusted either
    expect(again.status.computed).toBe(rowOf.size);
    // The epoch's key was kept: every token is the one it was, at its row.
    for (const [hex, row] of rowOf) expect(again.universe.rowOf('phone', Buffer.from(hex, 'hex'))).toBe(row);
    expect(JSON.parse(readFileSync(join(ud, 'manifest.json'), 'utf8')).format).toBe(PREPARED_FORMAT);
    again.universe.close();
  }, 120_000);

  it('a prepared directory without points (columnar-v2) is prepared again under the same key, with a warning; a points file of the wrong size is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ufiles-v2-'));
    await generateWorld(join(dir, 'world'), { seed: 'ufiles-v2', universeSize: 1500, crmSize: 150 });
    const csv = join(dir, 'world/media/universe.csv');
    const state = join(dir, 'state');
    const first = (await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e1', log, threads: 1 })).universe;
    const tokens = readFileSync(join(first.dir, 'tokens-phone.bin'));
    first.close();
    // the layout before stored points: no points file, format columnar-v2
    const ud = join(state, 'universe', 'e1');
    rmSync(join(ud, 'points-phone.bin'));
    const m = JSON.parse(readFileSync(join(ud, 'manifest.json'), 'utf8'));
    writeFileSync(join(ud, 'manifest.json'), JSON.stringify({ ...m, format: 'columnar-v2' }));
    expect(() => DiskUniverse.open(ud)).toThrow(/expected a columnar-v3 prepared universe, got columnar-v2/);
    const lines: { msg: string; format?: string }[] = [];
    const capture = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const again = await openUniverse({ stateDir: state, data: csv, idTypes: ['phone'], epoch: 'e1', log: capture, threads: 1 });
    expect(lines.find((l) => l.format === 'columnar-v2')?.msg).toMatch(/older layout \(columnar-v2: no stored OPRF points.*preparing it again under the epoch's key/);
    expect(again.status.reused).toBe(false);
    expect(again.status.reusedTokens).toBe(0);
    expect(readFileSync(join(ud, 'tokens-phone.bin')).equals(tokens)).toBe(true); // the same key: the same tokens
    await expectStoredPoints(again.universe, csv);
    again.universe.close();
    // a points file cut short (or grown) is refused on open, with the sizes
    truncateSync(join(ud, 'points-phone.bin'), 32 * again.universe.size - 1);
    expect(() => DiskUniverse.open(ud)).toThrow(new RegExp(`points-phone.bin: expected ${32 * again.universe.size} bytes`));
  }, 120_000);

  it('the merge reads each shard a block of rows at a time: any block size gives the same files, from one CSV or a split source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-merge-blocks-'));
    await generateWorld(join(dir, 'world'), { seed: 'merge-blocks', universeSize: 2000, crmSize: 200 });
    const csv = join(dir, 'world/media/universe.csv');
    const [header, ...lines] = readFileSync(csv, 'utf8').trimEnd().split('\n');
    const spec = join(dir, 'split-{shard}.csv');
    for (let i = 0; i < 3; i++) writeFileSync(join(dir, `split-${i}.csv`), `${header}\n${lines.slice(i * 700, (i + 1) * 700).join('\n')}\n`);
    for (const data of [csv, spec]) {
      const state = join(dir, data === csv ? 'whole' : 'split');
      const dirs: string[] = [];
      for (let i = 0; i < 3; i++) dirs.push((await prepareShard({ stateDir: state, data, idTypes: ['phone'], epoch: 'e-blocks', log, threads: 1, index: i, count: 3 })).dir);
      const whole = mergeShards(dirs, join(state, 'one-block'));
      for (const blockRows of [1, 7, 256]) {
        const m = mergeShards(dirs, join(state, `blocks-${blockRows}`), { blockRows });
        expect(m.users).toBe(whole.users);
        for (const f of FILES) expect(readFileSync(join(state, `blocks-${blockRows}`, f)).equals(readFileSync(join(state, 'one-block', f))), `${f}, blocks of ${blockRows}`).toBe(true);
      }
    }
  }, 120_000);

  it('N shard processes merge into exactly the single-process preparation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-shards-'));
    await generateWorld(join(dir, 'world'), { seed: 'shards', universeSize: 2500, crmSize: 250 });
    const csv = join(dir, 'world/media/universe.csv');
    const env = (state: string) => ({ ...process.env, CLEANROOM_DATA: csv, CLEANROOM_STATE_DIR: state, CLEANROOM_UNIVERSE_EPOCH: 'e-shard', CLEANROOM_LOG_LEVEL: 'silent', CLEANROOM_EVAL_THREADS: '1' });
    const N = 3;
    const sharded = join(dir, 'sharded');
    const runs = await Promise.all(Array.from({ length: N }, (_, i) => runPrepare(['--shard', String(i), '--shards', String(N)], env(sharded))));
    for (const r of runs) {
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    }
    const users = runs.map((r) => JSON.parse(r.out).users as number);
    // The node's store merges the complete shard set into the union.
    const union = await openUniverse({ stateDir: sharded, data: csv, idTypes: ['phone'], epoch: 'e-shard', log, threads: 1 });
    expect(union.universe.size).toBe(users.reduce((a, b) => a + b, 0));
    expect(union.status.computed).toBe(0);
    // The single-process preparation under the same key (copied, as a restarted deployment would hold it).
    expect((await expectSingleProcessEqual(sharded, 'e-shard', csv, join(dir, 'single'))).computed).toBeGreaterThan(2000);
    // The source grows: the shards run again reuse the merged union (only the new IDs cost OPRF
    // work), and the node merges them into exactly the single-process preparation of the grown CSV.
    const more = join(dir, 'more');
    await generateWorld(more, { seed: 'shards-more', universeSize: 1000, crmSize: 100 });
    const extra = readFileSync(join(more, 'media/universe.csv'), 'utf8').trimEnd().split('\n').slice(1, 121);
    const grownCsv = join(dir, 'grown.csv');
    writeFileSync(grownCsv, `${readFileSync(csv, 'utf8').trimEnd()}\n${extra.join('\n')}\n`);
    let newPhones = 0;
    for await (const row of readUniverse(grownCsv)) if (row.consent && normalizeId('phone', row.phone).ok) newPhones++;
    for await (const row of readUniverse(csv)) if (row.consent && normalizeId('phone', row.phone).ok) newPhones--;
    const again = await Promise.all(Array.from({ length: N }, (_, i) => runPrepare(['--shard', String(i), '--shards', String(N)], { ...env(sharded), CLEANROOM_DATA: grownCsv })));
    for (const r of again) expect(r.code, r.err).toBe(0);
    expect(again.reduce((n, r) => n + (JSON.parse(r.out).computed as number), 0)).toBe(newPhones);
    const grown = await openUniverse({ stateDir: sharded, data: grownCsv, idTypes: ['phone'], epoch: 'e-shard', log, threads: 1 });
    expect(grown.status.computed).toBe(0);
    grown.universe.close();
    await expectSingleProcessEqual(sharded, 'e-shard', grownCsv, join(dir, 'single-grown'));
    // Bad shard arguments: exit 2 with the reason.
    const bad = await runPrepare(['--shard', '3', '--shards', '3'], env(sharded));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--shard: expected an integer in \[0, 3\)/);
  }, 180_000);

  it('a split source: shard I reads file I alone, and the union is the single-process preparation of the files read in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-split-'));
    await generateWorld(join(dir, 'world'), { seed: 'split', universeSize: 2500, crmSize: 250 });
    const csv = join(dir, 'world/media/universe.csv');
    const [header, ...lines] = readFileSync(csv, 'utf8').trimEnd().split('\n');
    // files of unequal sizes, each with its header; the last 500 rows held back for later
    const cuts = [0, 400, 1500, 2000, lines.length];
    const part = (i: number) => writeFileSync(join(dir, `part-${i}.csv`), `${[header, ...lines.slice(cuts[i], cuts[i + 1])].join('\n')}\n`);
    for (let i = 0; i < 3; i++) part(i);
    const spec = join(dir, 'part-{shard}.csv');
    const env = (state: string) => ({ ...process.env, CLEANROOM_DATA: spec, CLEANROOM_STATE_DIR: state, CLEANROOM_UNIVERSE_EPOCH: 'e-split', CLEANROOM_LOG_LEVEL: 'silent', CLEANROOM_EVAL_THREADS: '1' });
    const sharded = join(dir, 'sharded');
    // shards counted against the files: two shards for three files is refused, nothing written
    const wrong = await runPrepare(['--shard', '0', '--shards', '2'], env(sharded));
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/split universe source .*part-\{shard\}\.csv: expected 2 files .* for 2 shards, found 3/);
    const runs = await Promise.all([0, 1, 2].map((i) => runPrepare(['--shard', String(i), '--shards', '3'], env(sharded))));
    for (const r of runs) {
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    }
    // each shard prepared its own file: its consented rows, not a third of the whole
    const users = runs.map((r) => JSON.parse(r.out).users as number);
    for (let i = 0; i < 3; i++) {
      let consented = 0;
      for await (const row of readUniverse(join(dir, `part-${i}.csv`))) if (row.consent) consented++;
      expect(users[i]).toBe(consented);
    }
    const union = await openUniverse({ stateDir: sharded, data: spec, idTypes: ['phone'], epoch: 'e-split', log, threads: 1 });
    expect(union.universe.size).toBe(users[0]! + users[1]! + users[2]!);
    expect(union.status.computed).toBe(0);
    expect(union.source.files).toEqual([0, 1, 2].map((i) => join(dir, `part-${i}.csv`)));
    union.universe.close();
    // the single process reading the three files in order, under the same key: the same files, the same source hash
    const single = join(dir, 'single');
    expect((await expectSingleProcessEqual(sharded, 'e-split', spec, single)).computed).toBeGreaterThan(1500);
    const manifest = (d: string) => JSON.parse(readFileSync(join(d, 'universe/e-split/manifest.json'), 'utf8')) as { dataSha256: string; users: number; shard?: unknown };
    expect(manifest(sharded).dataSha256).toBe(manifest(single).dataSha256);
    expect(manifest(sharded).shard).toBeUndefined();
    // a fourth file joins the source: the union is prepared again incrementally (only its IDs
    // cost OPRF work) into exactly the preparation of the whole CSV, whose rows the files hold in order
    part(3);
    const grown = await openUniverse({ stateDir: sharded, data: spec, idTypes: ['phone'], epoch: 'e-split', log, threads: 1 });
    let newPhones = 0;
    for await (const row of readUniverse(join(dir, 'part-3.csv'))) if (row.consent && normalizeId('phone', row.phone).ok) newPhones++;
    expect(grown.status.computed).toBe(newPhones);
    expect(grown.source.files).toHaveLength(4);
    await expectStoredPoints(grown.universe, csv);
    grown.universe.close();
    await expectSingleProcessEqual(sharded, 'e-split', csv, join(dir, 'whole'));
    // a split source without its file 0 is refused with the path it expected
    await expect(openUniverse({ stateDir: sharded, data: join(dir, 'none-{shard}.csv'), idTypes: ['phone'], epoch: 'e-split', log, threads: 1 })).rejects.toThrow(/none-0\.csv and its successors, found none/);
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
