/**
 * A full state volume — tmpfs volumes of a few MB mounted for this test (as root; where this
 * process may not mount one, the test is skipped with one line saying so).
 *
 * The broker's (in memory, with media and the advertiser beside it). A sync that cannot fit is
 * refused before anything is fetched (RESOURCE_EXHAUSTED naming the space available and
 * needed); one whose volume fills up while it writes — something else took the space it saw,
 * here a file written when the first ciphertext page is asked for — fails with
 * RESOURCE_EXHAUSTED naming ENOSPC, on the broker's thread and in its sync workers alike. In
 * every case the download is removed (no descriptor of it left open), the copy held before
 * still serves a session, the node says why (`lastSyncError`, shown by /readyz; the metrics
 * count the failure by code and show the room left on the volume) and, once space is freed,
 * the next sync succeeds.
 *
 * Media's (a real process). On a volume that holds its prepared universe but not its
 * publication it exits 2 before encrypting, naming the stage and both figures, nothing
 * half-made left; on one that fills up during the publication, exit 2 naming the stage, ENOSPC
 * and the volume. Never a stack trace.
 *
 * Media's audience (in memory, with the broker and the advertiser beside it): a volume that
 * fills up as the audience is written fails that session RESOURCE_EXHAUSTED naming ENOSPC and
 * the volume, and leaves no audience file, whole or half; a node started again removes a
 * half-written one a stopped process left; with room, the next session stores its audience.
 *
 * A transcript's: an entry that cannot be written whole is refused (RESOURCE_EXHAUSTED) and
 * what was written of it cut off, so the file ends at its last complete entry and verifies. */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cluster, type Cluster } from './nodes.ts';
import { LOOKUP_LIMITS, makeLookupWorld, makeWorld } from './world.ts';
import { UniverseRequestCodec } from '@cleanroom/shared/rpc/codec.ts';
import { generatePki } from '@cleanroom/shared/pki/pki.ts';
import { generateWorld } from '@cleanroom/shared/data/generate.ts';
import type { Envelope } from '@cleanroom/shared/transcript/statement.ts';
import { nodeMetrics } from '@cleanroom/shared/service/metrics.ts';
import { readTranscript, TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';
import { SigningKey } from '@cleanroom/shared/crypto/dsse.ts';

/** Mounts a tmpfs of `mb` MB on a new directory (its size changed by resize), or undefined where this process may not. */
const mounts: string[] = [];
function volume(mb: number): { dir: string; resize(mb: number): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'cleanroom-volume-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  mounts.push(dir);
  return { dir, resize: (size) => execFileSync('mount', ['-o', `remount,size=${size}m`, dir], { stdio: 'pipe' }) };
}
const probe = process.getuid?.() === 0 ? volume(1) : undefined;
if (!probe) process.stderr.write('full-volume: skipped — this process cannot mount a tmpfs (needs root); full volumes are untested here\n');
afterAll(() => {
  // lazily: the nodes' copies replaced in the test stay open until their close timers
  for (const dir of mounts) execFileSync('umount', ['-l', dir]);
  for (const dir of mounts) rmSync(dir, { recursive: true, force: true });
});

/** Writes a file until the volume is full (ENOSPC): nothing more fits. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 16, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

/** Downloads left behind under the broker's state directory (none after a failed sync). */
const downloads = (stateDir: string): string[] => {
  const root = join(stateDir, 'universe');
  return existsSync(root) ? readdirSync(root).filter((f) => f.includes('.tmp-')) : [];
};

/** Open descriptors of this process on removed files under `dir`. */
const openRemoved = (dir: string): string[] => readdirSync('/proc/self/fd').flatMap((fd) => {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    return target.startsWith(dir) && target.endsWith('(deleted)') ? [target] : [];
  } catch {
    return [];
  }
});

/** Fills the volume when the broker asks media for its first page of ciphertexts (the space check passed). */
function fillAtCiphertexts(c: Cluster, filler: string): void {
  const media = c.media as unknown as { handlers(): Record<string, (caller: unknown, envs: Envelope[]) => Promise<Envelope[]>> };
  const handlers = media.handlers.bind(c.media);
  let filled = false;
  media.handlers = () => {
    const h = handlers();
    const sync = h.SyncUniverse!;
    return { ...h, SyncUniverse: (caller, envs) => {
      if (!filled && UniverseRequestCodec.decode(envs[0]!.payload).part === 'CIPHERTEXTS') {
        filled = true;
        fill(filler);
      }
      return sync(caller, envs);
    } };
  };
}

describe.skipIf(!probe)('the broker\'s state volume full', () => {
  it('a sync that cannot fit is refused before fetching; one that fills the volume fails naming ENOSPC, on one thread or on workers; the copy held serves on; with space freed the next sync succeeds', async () => {
    const lw = await makeLookupWorld({ universeSize: 6000, crmSize: 1500 });
    // one session on each half of the CRM: disjoint cohorts (the differencing rule refuses a repeat)
    const halves = [lw.w.crm.slice(0, 750), lw.w.crm.slice(750)];
    const session = async (c: Cluster, half: number) => {
      const rec = await c.useCrm(halves[half]!).start({ audienceSize: 100 }).done;
      expect(rec.status, rec.error).toBe('completed');
    };

    for (const threads of [1, 2]) {
      const vol = volume(3)!;
      const stateDir = join(vol.dir, 'broker');
      mkdirSync(stateDir);
      const c = cluster(lw.w, {
        lookup: LOOKUP_LIMITS, policy: { noiseScale: 0 }, brokerStateDir: stateDir,
        ...(threads > 1 ? { brokerThreads: { threads, syncWorkersFrom: 1 } } : {}),
      });
      // 1. 3 MB: the publication (46 ciphertexts of ≈ 393 KB in the stored form) cannot fit
      const refused = await c.broker.syncUniverse().then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(refused?.message).toMatch(/universe sync: .* has [\d.]+ MB available, publication [0-9a-f]{12} needs ≈ [\d.]+ MB to download \(\d+ ciphertexts of \d+ B in the stored form, \d+ tokens\): free space or grow the volume/);
      expect(refused?.code).toBe('RESOURCE_EXHAUSTED');
      expect(c.broker.lastSyncError?.message).toBe(refused?.message);
      expect(c.broker.universe).toBeUndefined();
      // the metrics an operator alerts on: the refusals by code, the room left on the state volume
      nodeMetrics.stateVolume(stateDir);
      const scraped = (await nodeMetrics.scrape()).body;
      expect(Number(/^cleanroom_universe_sync_failures_total\{code="RESOURCE_EXHAUSTED"[^}]*\} (\d+)$/m.exec(scraped)?.[1])).toBeGreaterThanOrEqual(1);
      const room = Number(/^cleanroom_state_volume_available_bytes(?:\{[^}]*\})? (\d+)$/m.exec(scraped)?.[1]);
      expect(room).toBeGreaterThan(0);
      expect(room).toBeLessThanOrEqual(3 * 2 ** 20);
      expect(downloads(stateDir)).toEqual([]);

      // 2. room for two copies: it syncs, and sessions run
      vol.resize(64);
      const held = await c.broker.syncUniverse();
      expect(c.broker.lastSyncError).toBeUndefined();
      await session(c, 0);

      // 3. labels turned on at media: the next sync fetches the whole publication again; the
      // volume fills up when its first ciphertexts are asked for
      (c.media as unknown as { o: { labels: unknown } }).o.labels = lw.labels;
      const filler = join(vol.dir, 'filler');
      fillAtCiphertexts(c, filler);
      const failed = await c.broker.syncUniverse().then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(failed?.code).toBe('RESOURCE_EXHAUSTED');
      expect(failed?.message).toMatch(new RegExp(`filled up while storing the publication \\(.*ENOSPC.*\\); the download is removed and the copy held \\(${held.version.slice(0, 12)}\\) still serves sessions: free space or grow the volume`));
      if (threads > 1) expect(failed?.message).toMatch(/sync worker failed: ciphertext \d+: ENOSPC/);
      expect(c.broker.lastSyncError?.message).toBe(failed?.message);
      expect(c.broker.universe?.version).toBe(held.version);
      expect(c.broker.universe?.labels).toBeUndefined();
      expect(downloads(stateDir)).toEqual([]);
      // and no descriptor of the removed download stays open (its space is free again), the sync workers' included
      await new Promise((r) => setTimeout(r, 200));
      expect(openRemoved(stateDir)).toEqual([]);
      await session(c, 1); // on the copy held

      // 4. space freed: the next sync brings the labels, and a lookup completes
      rmSync(filler);
      const after = await c.broker.syncUniverse();
      expect(after.labels?.version).toBe(lw.labels.version);
      expect(c.broker.lastSyncError).toBeUndefined();
      const rec = await c.useCrm(lw.w.crm).startLookup({ kind: 'lookup', ids: lw.crmPhones }).done;
      expect(rec.status, rec.error).toBe('completed');
      c.broker.close();
    }
  }, 180_000);
});

describe.skipIf(!probe)('media\'s state volume full', () => {
  /** Media started on a state volume of `mb` MB with a world of `users`: its exit code and stderr. */
  async function startMedia(users: number, mb: number): Promise<{ code: number | null; stderr: string; stateDir: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-media-full-'));
    const pki = join(dir, 'pki');
    generatePki(pki);
    await generateWorld(join(dir, 'world'), { seed: 'full-volume', universeSize: users, crmSize: 100 });
    const stateDir = join(volume(mb)!.dir, 'state');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const p = spawn(process.execPath, [join(import.meta.dirname, '../../services/media/src/main.ts')], {
        env: {
          PATH: process.env.PATH ?? '', CLEANROOM_PKI_DIR: pki, CLEANROOM_STATE_DIR: stateDir, CLEANROOM_TRANSCRIPT_DIR: join(dir, 'tx'),
          CLEANROOM_DATA: join(dir, 'world', 'media', 'universe.csv'), CLEANROOM_GRPC_LISTEN: '127.0.0.1:0', CLEANROOM_ADMIN_LISTEN: '127.0.0.1:0',
          CLEANROOM_LOG_LEVEL: 'silent', CLEANROOM_BROKER_ADDR: '127.0.0.1:1', CLEANROOM_ADVERTISER_ADDR: '127.0.0.1:1',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('error', reject);
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    return { ...r, stateDir };
  }

  it('on a volume that holds its prepared universe but not its publication, media exits 2 before encrypting, naming the stage and both figures', async () => {
    // 6,000 users: the prepared universe and the state database fit in 6 MB, the publication (47 ciphertexts of ≈ 197 KB) does not
    const { stderr, stateDir } = await startMedia(6000, 6);
    expect(stderr).toMatch(new RegExp(`^cleanroom media: cannot make the publication: ${stateDir}/publication has [\\d.]+ MB available, the publication of \\d+ users needs at least [\\d.]+ MB \\(\\d+ ciphertexts of at least 196608 B\\): free space or grow the volume$`, 'm'));
    expect(readdirSync(join(stateDir, 'publication')).filter((f) => f.includes('.tmp-'))).toEqual([]); // nothing half-made left
  }, 60_000);

  it('a volume that fills up during the publication (its ciphertexts fit, not everything beside them): exit 2 naming the stage, ENOSPC and the volume', async () => {
    // 2,000 users in 5 MB: the check's lower bound (16 ciphertexts' first polynomials) fits, the whole publication does not
    const { stderr, stateDir } = await startMedia(2000, 5);
    expect(stderr).toMatch(new RegExp(`^cleanroom media: cannot make the publication: ENOSPC: no space left on device, \\w+.* — the state volume CLEANROOM_STATE_DIR=${stateDir} is full: free space or grow it`, 'm'));
  }, 60_000);
});

describe.skipIf(!probe)('media\'s audience on a full volume', () => {
  it('a volume that fills up as the audience is written: the session fails RESOURCE_EXHAUSTED naming ENOSPC, no audience file is left, whole or half; with room the next session stores its audience', async () => {
    const w = await makeWorld({ universeSize: 6000, crmSize: 1500 }); // the broker's test's world
    // one session on each half of the CRM: disjoint cohorts (the differencing rule refuses a repeat)
    const halves = [w.crm.slice(0, 750), w.crm.slice(750)];
    const vol = volume(1)!;
    const audiences = join(vol.dir, 'audiences');
    const c = cluster(w, { policy: { noiseScale: 0 }, mediaStateDir: vol.dir });
    await c.broker.syncUniverse();
    // the volume filled when the broker first asks media for the look-alike: the audience cannot be written
    const media = c.media as unknown as { handlers(): Record<string, (caller: unknown, envs: Envelope[]) => Promise<Envelope[]>> };
    const handlers = media.handlers.bind(c.media);
    const filler = join(vol.dir, 'filler');
    let filled = false;
    media.handlers = () => {
      const h = handlers();
      const build = h.BuildLookalike!;
      return { ...h, BuildLookalike: (caller, envs) => {
        if (!filled) fill(filler);
        filled = true;
        return build(caller, envs);
      } };
    };
    const failed = await c.useCrm(halves[0]!).start({ audienceSize: 2000 }).done;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(new RegExp(`^RESOURCE_EXHAUSTED: media could not store the audience: its state volume \\(${vol.dir}\\) is full \\(ENOSPC\\); nothing was released`));
    expect(readdirSync(audiences)).toEqual([]); // neither the audience nor its temporary file
    rmSync(filler);
    // a half-written audience a stopped process left is removed when a media node starts on the volume
    writeFileSync(join(audiences, 'aud_left.txt.tmp-99999'), 'U0001\nU00');
    cluster(w, { policy: { noiseScale: 0 }, mediaStateDir: vol.dir }).media.close();
    expect(readdirSync(audiences)).toEqual([]);
    // with room, the next session stores its audience whole
    const done = await c.useCrm(halves[1]!).start({ audienceSize: 2000 }).done;
    expect(done.status, done.error).toBe('completed');
    const id = (done.result as { lookalike: { audienceId: string } }).lookalike.audienceId;
    expect(readdirSync(audiences)).toEqual([`${id}.txt`]);
    const file = join(audiences, `${id}.txt`);
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(2000);
    expect(statSync(file).mode & 0o777).toBe(0o600); // media's users: owner-only
  }, 120_000);
});

describe.skipIf(!probe)('a transcript on a full volume', () => {
  it('an entry that cannot be written whole is refused (RESOURCE_EXHAUSTED) and cut off: the file ends at the entry before and verifies; with room again the next entry follows it', () => {
    const vol = volume(1)!;
    const key = SigningKey.generate();
    const w = TranscriptWriter.open(vol.dir, 'advertiser', 'full-volume-transcript');
    const path = join(vol.dir, 'full-volume-transcript', 'advertiser.jsonl');
    // entries of ≈ 700 B until the file's last page has room left but less than the next entry
    for (let i = 0; i < 4; i++) w.appendPolicy({ n: i, pad: 'x'.repeat(600) }, key);
    const before = statSync(path).size;
    const slack = 4096 - (before % 4096);
    expect(slack).toBeGreaterThan(100);
    fill(join(vol.dir, 'filler')); // no page left: the next entry gets its first `slack` bytes written, then ENOSPC
    const err = (() => {
      try {
        w.appendPolicy({ n: 4, pad: 'y'.repeat(slack + 500) }, key);
      } catch (e) {
        return e as Error & { code?: string };
      }
      return undefined;
    })();
    expect(err?.code).toBe('RESOURCE_EXHAUSTED');
    expect(err?.message).toMatch(/the volume is full \(ENOSPC\): entry 4 was not recorded/);
    expect(statSync(path).size).toBe(before);
    const read = readTranscript(path);
    expect(read.problems).toEqual([]);
    expect(read.entries).toHaveLength(4);
    rmSync(join(vol.dir, 'filler'));
    w.appendPolicy({ n: 4, pad: 'z' }, key);
    w.close();
    const again = readTranscript(path);
    expect(again.problems).toEqual([]);
    expect(again.entries).toHaveLength(5);
  });
});
