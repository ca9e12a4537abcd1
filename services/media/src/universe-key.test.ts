/**
 * The epoch's key file (universe-key.ts) and `cleanroom universe key`: written mode 0600, never
 * overwritten, read back only for its own epoch and only when well formed; and the key a file
 * gives is installed for its epoch, refused where the epoch already has another key.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { ROOT } from '../../../cli/src/cluster.ts';
import { readUniverseKeyFile, UNIVERSE_KEY_FORMAT, writeUniverseKeyFile } from './universe-key.ts';
import { epochKey } from './universe-store.ts';

describe('universe key file', () => {
  it('cleanroom universe key writes a key file once, mode 0600, that reads back for its epoch only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ukey-'));
    const file = join(dir, 'k.json');
    const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'cli/src/main.ts'), 'universe', 'key', ...args], { encoding: 'utf8' });
    const made = cli(['--epoch', 'e-1', '--out', file]);
    expect(made.status, made.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readUniverseKeyFile(file, 'e-1');
    expect(made.stdout).toContain(`fingerprint ${key.fingerprint()}`);
    expect(made.stdout).not.toContain(Buffer.from(key.toBytes()).toString('hex'));
    const before = readFileSync(file, 'utf8');
    const again = cli(['--epoch', 'e-1', '--out', file]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists: a key file is never overwritten/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(cli(['--epoch', 'Bad Epoch', '--out', join(dir, 'x.json')]).stderr).toMatch(/--epoch: expected \[a-z0-9-\]\{1,64\}/);
    expect(() => readUniverseKeyFile(file, 'e-2')).toThrow(/made for epoch 'e-1', this preparation's epoch \(CLEANROOM_UNIVERSE_EPOCH\) is 'e-2'/);
  });

  it('refuses a missing, malformed or unclamped key file, naming the file and never the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ukey-bad-'));
    const f = join(dir, 'k.json');
    expect(() => readUniverseKeyFile(f, 'e')).toThrow(/not found/);
    writeFileSync(f, '{"format":"other"}');
    expect(() => readUniverseKeyFile(f, 'e')).toThrow(new RegExp(`expected format ${UNIVERSE_KEY_FORMAT}`));
    writeFileSync(f, JSON.stringify({ format: UNIVERSE_KEY_FORMAT, epoch: 'e', key: 'ab' }));
    expect(() => readUniverseKeyFile(f, 'e')).toThrow(/64 lower-case hex digits/);
    const unclamped = 'ff'.repeat(32);
    writeFileSync(f, JSON.stringify({ format: UNIVERSE_KEY_FORMAT, epoch: 'e', key: unclamped }));
    const err = (() => { try { readUniverseKeyFile(f, 'e'); } catch (e) { return (e as Error).message; } return ''; })();
    expect(err).toMatch(/clamped X25519 scalar/);
    expect(err).not.toContain(unclamped);
    writeFileSync(f, 'not json');
    expect(() => readUniverseKeyFile(f, 'e')).toThrow(new RegExp(`${f}: expected ${UNIVERSE_KEY_FORMAT} JSON`));
  });

  it('the file\'s key is installed for its epoch; an epoch that already has another key refuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-ukey-epoch-'));
    const root = join(dir, 'universe');
    mkdirSync(root);
    writeUniverseKeyFile(join(dir, 'a.json'), 'e');
    writeUniverseKeyFile(join(dir, 'b.json'), 'e');
    const a = readUniverseKeyFile(join(dir, 'a.json'), 'e');
    expect(epochKey(root, 'e', undefined, a).fingerprint()).toBe(a.fingerprint());
    expect(statSync(join(root, 'e.key')).mode & 0o777).toBe(0o600);
    expect(epochKey(root, 'e', undefined).fingerprint()).toBe(a.fingerprint()); // installed: later processes read it
    expect(() => epochKey(root, 'e', undefined, readUniverseKeyFile(join(dir, 'b.json'), 'e'))).toThrow(/another OPRF key .* a new key needs a new epoch/);
    // an earlier preparation's key.bin (no <epoch>.key yet) counts as the epoch's key too
    const prev = join(dir, 'prev');
    mkdirSync(prev);
    writeFileSync(join(prev, 'key.bin'), OprfKey.generate().toBytes());
    expect(() => epochKey(join(dir, 'other-root'), 'e', prev, a)).toThrow(/another OPRF key/);
  });
});
