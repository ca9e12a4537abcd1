// Tests for the streaming world-file readers: RFC 4180 details, per-row rejection with file
// and line, header checks, and the truth/propensity readers.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeVector } from '../common/attributes.ts';
import { createWriteStream } from 'node:fs';
import { CRM_HEADER_V1 as CRM_V1, UNIVERSE_HEADER_V1 as UNIVERSE_V1 } from './format.ts';
import { CRM_HEADER, MAX_RECORD_CHARS, UNIVERSE_HEADER, collectUniverse, csvField, readCrm, readPropensity, readTruth, readUniverse } from './files.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cleanroom-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = join(root, name);
  await writeFile(p, text);
  return p;
}

const U1 = 'U1,+8613812345678,a@x.com,6d92078a-8246-4ba4-ae5b-76104861e7dc,1,30-34,male,tier1,ios,high,auto|luxury';

describe('csvField', () => {
  it('quotes only when needed (RFC 4180)', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('')).toBe('');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' padded ')).toBe('" padded "');
  });
});

describe('readUniverse', () => {
  it('reads purpose-level consent (consent_ads, consent_share); the 11-column header means neither', async () => {
    const p = await file('u-purpose.csv', `${UNIVERSE_HEADER}\nU1,+8613812345678,,,1,30-34,male,tier1,ios,high,,1,0\nU2,+8613812345679,,,1,30-34,male,tier1,ios,high,,0,1\nU3,+8613812345670,,,1,30-34,male,tier1,ios,high,,x,1\n`);
    const { rows, rejected } = await collectUniverse(p);
    expect(rows.map((r) => [r.userId, r.consentAds, r.consentShare])).toEqual([['U1', true, false], ['U2', false, true]]);
    expect(rejected[0]!.reason).toBe(`${p}:4: expected consent_ads 1/0/true/false, got 'x'`);
    const old = await file('u-v1.csv', `${UNIVERSE_V1}\nU1,+8613812345678,,,1,30-34,male,tier1,ios,high,\n`);
    expect((await collectUniverse(old)).rows.map((r) => [r.consentAds, r.consentShare])).toEqual([[false, false]]);
  });

  it('reads rows into vectors, skipping bad ones with file:line reasons', async () => {
    const p = await file(
      'u1.csv',
      [
        UNIVERSE_V1,
        U1,
        'U2,,,,0,60+,female,tier5,android,low,',
        'U3,+8613900001111,,,1,17-18,male,tier1,ios,high,',
        'U4,+8613900001111,,,yes,18-24,male,tier1,ios,high,',
        'U5,+8613900001111,,,1,18-24,male,tier1,ios,high',
        '',
        'U 6,+8613900001111,,,1,18-24,male,tier1,ios,high,',
        'U7,+8613900001111,,,1,18-24,male,tier1,ios,high,auto|unicorns',
        'U8,"+86 139 0000 2222","b@y.com",,TRUE,25-29,unknown,new-tier1,other,very-high,',
      ].join('\r\n') + '\r\n',
    );
    const rejected: { line: number; reason: string }[] = [];
    const rows = [];
    for await (const r of readUniverse(p, (x) => rejected.push(x))) rows.push(r);
    expect(rows.map((r) => r.userId)).toEqual(['U1', 'U8']);
    expect(rows[0]).toMatchObject({ phone: '+8613812345678', email: 'a@x.com', deviceId: '6d92078a-8246-4ba4-ae5b-76104861e7dc', consent: true });
    expect(decodeVector(rows[0]!.vector)).toEqual({ ageBand: '30-34', gender: 'male', cityTier: 'tier1', deviceOs: 'ios', activity: 'high', interests: ['auto', 'luxury'] });
    expect(rows[1]).toMatchObject({ phone: '+86 139 0000 2222', email: 'b@y.com', deviceId: '', consent: true });
    expect(rejected).toEqual([
      { line: 3, reason: `${p}:3: expected a phone, an email or a device_id, got none` },
      { line: 4, reason: `${p}:4: expected ageBand one of 18-24|25-29|30-34|35-39|40-49|50-59|60+, got '17-18'` },
      { line: 5, reason: `${p}:5: expected consent_lookalike 1/0/true/false, got 'yes'` },
      { line: 6, reason: `${p}:6: expected 11 fields, got 10` },
      { line: 8, reason: `${p}:8: expected user_id of 1-64 characters [A-Za-z0-9_.:-], got 'U 6'` },
      { line: 9, reason: `${p}:9: expected interests entries among the 41 known interests, got 'unicorns'` },
    ]);
  });

  it('never echoes phone or e-mail values in a reason', async () => {
    const p = await file('u-pii.csv', `${UNIVERSE_V1}\nU1,+8613812345678,secret@x.com,,maybe,30-34,male,tier1,ios,high,\n`);
    const { rejected } = await collectUniverse(p);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).not.toMatch(/13812345678|secret/);
  });

  it('handles a BOM, a missing final newline, quoted fields with quotes, commas and line breaks', async () => {
    const p = await file(
      'u2.csv',
      `\uFEFF${UNIVERSE_V1}\nU1,"+86 138,1234",,,1,30-34,male,tier1,ios,high,\n"U2","","say ""hi""@x.com","",0,30-34,male,tier1,ios,high,""\nU3,"multi\nline",,,1,30-34,male,tier1,ios,high,auto`,
    );
    const { rows, rejected } = await collectUniverse(p);
    expect(rejected).toEqual([]);
    expect(rows.map((r) => [r.userId, r.phone, r.email])).toEqual([
      ['U1', '+86 138,1234', ''],
      ['U2', '', 'say "hi"@x.com'],
      ['U3', 'multi\nline', ''],
    ]);
  });

  it('reports broken quoting on the line where the record starts and goes on', async () => {
    const p = await file('u3.csv', `${UNIVERSE_V1}\nU1,"+86"x,,,1,30-34,male,tier1,ios,high,\nU2,+86"1",,,1,30-34,male,tier1,ios,high,\n${U1}\nU9,"never closed,,,1\n`);
    const { rows, rejected, rejectedCount } = await collectUniverse(p);
    expect(rows.map((r) => r.userId)).toEqual(['U1']);
    expect(rejectedCount).toBe(3);
    expect(rejected.map((r) => r.line)).toEqual([2, 3, 5]);
    expect(rejected[0]!.reason).toBe(`${p}:2: expected ',' after a closing quote, got 'x'`);
    expect(rejected[1]!.reason).toBe(`${p}:3: expected a quote only at the start of a field, got one inside`);
    expect(rejected[2]!.reason).toBe(`${p}:5: expected a closing quote before the end of the file, got none (the lines after it are read as records of their own)`);
  });

  it('caps stored reasons but counts them all', async () => {
    const bad = Array.from({ length: 30 }, (_, i) => `U${i},x,,,2,30-34,male,tier1,ios,high,`);
    const p = await file('u4.csv', [UNIVERSE_V1, ...bad].join('\n'));
    const r = await collectUniverse(p, 5);
    expect(r.rejected).toHaveLength(5);
    expect(r.rejectedCount).toBe(30);
  });

  it('throws, naming the file and line, on a wrong header, an empty file or a missing file', async () => {
    const wrong = await file('u5.csv', `user_id,phone\n${U1}\n`);
    await expect(collectUniverse(wrong)).rejects.toThrow(`${wrong}:1: expected header '${UNIVERSE_HEADER}', got 'user_id,phone'`);
    const empty = await file('u6.csv', '');
    await expect(collectUniverse(empty)).rejects.toThrow(`${empty}:1: expected header`);
    await expect(collectUniverse(join(root, 'nope.csv'))).rejects.toThrow(/ENOENT.*nope\.csv/);
  });

  it('streams files larger than one read chunk', async () => {
    const n = 20_000;
    const lines = [UNIVERSE_V1];
    for (let i = 0; i < n; i++) lines.push(`U${i},+86138${String(i).padStart(8, '0')},u${i}@x.com,,${i % 2},18-24,female,tier2,android,medium,food|music|movies`);
    const p = await file('u7.csv', lines.join('\n') + '\n');
    let count = 0;
    let last = '';
    for await (const r of readUniverse(p)) {
      count++;
      last = r.userId;
    }
    expect(count).toBe(n);
    expect(last).toBe(`U${n - 1}`);
  });
});

describe('readCrm', () => {
  it('keeps raw IDs, parses flags, rejects bad rows with file:line reasons', async () => {
    const p = await file(
      'crm.csv',
      [
        CRM_V1,
        'C1,138 1234 5678, A@X.com ,1,champions,1',
        'C2,,b@y.com,false,prospect,TRUE',
        'C3,,,0,prospect,1',
        'C4,13800000000,,maybe,prospect,1',
        'C5,13800000000,,0,Prospect,1',
        'C6,13800000000,,0,prospect,',
        'C7,,0',
        'C1,13900000000,,0,prospect,1',
        'C8,"+86 (139) 0000-1111","c,d@z.com",0,loyal,0',
      ].join('\n'),
    );
    const { rows, rejected } = await readCrm(p);
    expect(rows.map(({ tags: _t, ...r }) => r)).toEqual([
      { customerId: 'C1', phone: '138 1234 5678', email: ' A@X.com ', purchaser: true, rfm: 'champions', consent: true },
      { customerId: 'C2', phone: '', email: 'b@y.com', purchaser: false, rfm: 'prospect', consent: true },
      { customerId: 'C8', phone: '+86 (139) 0000-1111', email: 'c,d@z.com', purchaser: false, rfm: 'loyal', consent: false },
    ]);
    expect(rejected).toEqual([
      { line: 4, reason: `${p}:4: expected a phone or an email, got neither` },
      { line: 5, reason: `${p}:5: expected purchaser 1/0/true/false, got 'maybe'` },
      { line: 6, reason: `${p}:6: expected rfm segment of lower-case [a-z0-9_-], got 'Prospect'` },
      { line: 7, reason: `${p}:7: expected consent_ads 1/0/true/false, got ''` },
      { line: 8, reason: `${p}:8: expected 6 fields, got 3` },
      { line: 9, reason: `${p}:9: expected a unique customer_id, got 'C1' again` },
    ]);
  });

  it('reads the first-party tag columns of the current header and rejects a bad tag naming it', async () => {
    const p = await file('crm-tags.csv', [
      CRM_HEADER,
      'C1,13800000001,,1,champions,1,1,0,1,3,gold',
      'C2,13800000002,,0,prospect,1,0,0,0,0,none',
      'C3,13800000003,,0,prospect,1,0,0,0,0,platinum',
      'C4,13800000004,,0,prospect,1,yes,0,0,0,none',
      'C5,13800000005,,0,prospect,1,0,0,0,-1,none',
      'C6,13800000006,,0,prospect,1',
    ].join('\n'));
    const { rows, rejected } = await readCrm(p);
    expect(rows.map((r) => r.tags)).toEqual([
      { purchaser: true, rfm: 'champions', visited_90d: true, purchased_90d: false, cart_abandoned: true, orders_12m: 3, member_tier: 'gold' },
      { purchaser: false, rfm: 'prospect', visited_90d: false, purchased_90d: false, cart_abandoned: false, orders_12m: 0, member_tier: 'none' },
    ]);
    expect(rejected.map((r) => r.reason.slice(p.length + 1))).toEqual([
      "4: expected member_tier one of none, silver, gold, got 'platinum'",
      "5: expected visited_90d 1/0/true/false, got 'yes'",
      "6: expected orders_12m an integer in [0, 999999], got '-1'",
      '7: expected 11 fields, got 6',
    ]);
  });

  it('throws on a wrong header', async () => {
    const p = await file('crm2.csv', `${UNIVERSE_V1}\n`);
    await expect(readCrm(p)).rejects.toThrow(`${p}:1: expected header '${CRM_HEADER}'`);
    await expect(readCrm('')).rejects.toThrow('expected a file path, got ""');
  });
});

describe('readTruth / readPropensity', () => {
  it('read the truth directory of a world', async () => {
    const w = join(root, 'world');
    await mkdir(join(w, 'truth'), { recursive: true });
    await writeFile(join(w, 'truth', 'propensity.txt'), 'U1\nU7\r\n\nU9\n');
    await writeFile(join(w, 'truth', 'truth.json'), JSON.stringify({ version: 1, seed: 's', universeSize: 10 }));
    expect(readPropensity(w)).toEqual(new Set(['U1', 'U7', 'U9']));
    expect(readTruth(w)).toMatchObject({ version: 1, seed: 's', universeSize: 10 });
  });

  it('fail clearly', async () => {
    const w = join(root, 'bad-world');
    await mkdir(join(w, 'truth'), { recursive: true });
    expect(() => readPropensity(w)).toThrow(`${join(w, 'truth', 'propensity.txt')}: expected the propensity file, got none`);
    expect(() => readTruth(w)).toThrow(/truth\.json: expected readable JSON, got ENOENT/);
    await writeFile(join(w, 'truth', 'truth.json'), JSON.stringify({ version: 2 }));
    expect(() => readTruth(w)).toThrow('expected a version 1 world truth, got version 2');
    await writeFile(join(w, 'truth', 'propensity.txt'), 'U1\nnot an id\n');
    expect(() => readPropensity(w)).toThrow(`propensity.txt:2: expected a user_id, got 'not an id'`);
  });
});

// Issue 9, item 9: what one bad line may cost — neither memory nor the valid rows after it.
describe('CSV faults are contained to their own line', () => {
  const crmRow = (i: number) => `C${i},+8613800${String(i).padStart(6, '0')},c${i}@x.com,1,champions,1`;

  it('a quote that never closes is rejected at its line; the valid rows after it are read', async () => {
    const p = await file('crm-quote.csv', [CRM_V1, crmRow(1), 'C2,"+86138 never closed,,1,champions,1', crmRow(3), crmRow(4), ''].join('\n'));
    const { rows, rejected } = await readCrm(p);
    expect(rows.map((r) => r.customerId)).toEqual(['C1', 'C3', 'C4']);
    expect(rejected).toEqual([{ line: 3, reason: `${p}:3: expected a closing quote before the end of the file, got none (the lines after it are read as records of their own)` }]);
  });

  it('a quoted multi-line field that stays open past MAX_RECORD_CHARS is rejected and the rows it held re-read', async () => {
    const many = Array.from({ length: 40_000 }, (_, i) => crmRow(10 + i)); // ≈ 1.6 M characters after the stray quote
    const p = await file('crm-quote-long.csv', [CRM_V1, 'C1,"stray,,1,champions,1', ...many, ''].join('\n'));
    const { rows, rejected } = await readCrm(p);
    expect(rows).toHaveLength(many.length);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toMatch(new RegExp(`:2: expected a closing quote within ${MAX_RECORD_CHARS} characters, got none`));
  });

  it('a 100 MB single line is skipped as it streams by (memory stays flat) and the rows after it are read', async () => {
    const p = join(root, 'crm-long-line.csv');
    const out = createWriteStream(p);
    out.write(`${CRM_V1}\n${crmRow(1)}\nC2,`);
    const block = 'x'.repeat(1 << 20);
    for (let i = 0; i < 100; i++) if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
    out.write(`,,1,champions,1\n${crmRow(3)}\n`);
    await new Promise<void>((r) => out.end(() => r()));
    const rssBefore = process.resourceUsage().maxRSS * 1024;
    const { rows, rejected } = await readCrm(p);
    const grown = process.resourceUsage().maxRSS * 1024 - rssBefore;
    expect(rows.map((r) => r.customerId)).toEqual(['C1', 'C3']);
    expect(rejected).toEqual([{ line: 3, reason: `${p}:3: expected a record of at most ${MAX_RECORD_CHARS} characters, got a longer line (skipped unread)` }]);
    // was ≈ 1 GB (the whole line accumulated); streaming keeps it to read buffers and GC lag (69 MB seen on a loaded CI machine)
    expect(grown).toBeLessThan(256 * 1024 * 1024);
  });

  it('an over-long last line without a newline is rejected too', async () => {
    const p = await file('crm-long-tail.csv', `${CRM_V1}\n${crmRow(1)}\n${'y'.repeat(MAX_RECORD_CHARS + 10)}`);
    const { rows, rejected } = await readCrm(p);
    expect(rows.map((r) => r.customerId)).toEqual(['C1']);
    expect(rejected.map((r) => r.line)).toEqual([3]);
  });
});
