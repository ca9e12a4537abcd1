/**
 * Issue 9, items 1 and 2, on three nodes in memory: a transcript that cannot be created fails
 * that session only (never the process), and a session id is never reused — an OpenSession or
 * PrepareSession for the id of a finished session, after broker and media restart, is refused
 * with ALREADY_EXISTS and the finished transcripts stay byte-identical and verify.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdvertiserRole } from '@cleanroom/shared/protocol/advertiser.ts';
import { OpenSessionCodec, PrepareSessionCodec, type Codec } from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { makeTrustBundle } from '@cleanroom/shared/crypto/dsse.ts';
import { verifyPaths } from '@cleanroom/shared/transcript/verify.ts';
import { makeWorld, type World } from './world.ts';
import { memoryCluster } from './memory-cluster.ts';

describe('transcripts under faults and replays (issue 9, items 1-2)', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld({ universeSize: 4000, crmSize: 600 });
  });
  const trust = () => makeTrustBundle({
    advertiser: w.identities.advertiser.key.publicKey, media: w.identities.media.key.publicKey, broker: w.identities.broker.key.publicKey,
  });

  it('item 1: CLEANROOM_TRANSCRIPT_DIR naming a regular file fails that session (ENOTDIR), nothing rejects unhandled, later sessions run', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cleanroom-notdir-')), 'a-file');
    writeFileSync(file, 'not a directory');
    const c = memoryCluster(w, { advertiserTranscriptDir: file, minCohort: 10 });
    await c.broker.syncUniverse();
    const { done } = c.advertiser.start({ audienceSize: 200, minCohort: 10 });
    const rec = await done; // resolves: the failure is the session's, not a rejection
    expect(rec.status).toBe('failed');
    expect(rec.error).toMatch(/ENOTDIR/);
    expect(c.broker.sessions.list()).toHaveLength(0); // nothing was sent
    // the node still serves: the next session (to a good directory) completes
    const good = memoryCluster(w, { transcriptDir: c.transcriptDir, minCohort: 10 });
    await good.broker.syncUniverse();
    const ok = await good.advertiser.start({ audienceSize: 200, minCohort: 10 }).done;
    expect(ok.error).toBeUndefined();
    expect(ok.status).toBe('completed');
    c.close();
    good.close();
  });

  it('item 2: a finished session id replayed after broker and media restart is refused with ALREADY_EXISTS; its transcripts are untouched and verify', async () => {
    const first = memoryCluster(w, { minCohort: 10 });
    await first.broker.syncUniverse();
    const { sessionId, done } = first.advertiser.start({ audienceSize: 200, minCohort: 10 });
    expect((await done).status).toBe('completed');
    first.close();
    const dir = join(first.transcriptDir, sessionId);
    const before = Object.fromEntries(['advertiser', 'media', 'broker'].map((p) => [p, readFileSync(join(dir, `${p}.jsonl`))]));
    expect(verifyPaths([dir], trust())[0]!.ok).toBe(true);

    // restart: new broker and media objects (empty memory) over the same directories
    const again = memoryCluster(w, { transcriptDir: first.transcriptDir, stateDir: first.stateDir, minCohort: 10 });
    await again.broker.syncUniverse();
    const role = new AdvertiserRole({
      idType: 'phone', seeds: w.crm.filter((r) => r.purchaser && r.consent).map((r) => r.phone), audienceSize: 200, decoyRatio: 9, minCohort: 10,
      signingPublicKey: w.identities.advertiser.key.publicKey,
    });
    const replayOpen = new SessionChannel(w.identities.advertiser, sessionId).seal('broker', 'OPEN', OpenSessionCodec, role.open());
    await expect(again.brokerPeer.call('OpenSession', [replayOpen])).rejects.toMatchObject({ code: 'ALREADY_EXISTS', message: expect.stringMatching(/never reused/) });
    // media too: a PrepareSession signed by the broker for the old id is refused before its payload is read
    const anyPayload: Codec<null> = { type: PrepareSessionCodec.type, encode: () => new Uint8Array([0]), decode: () => null } as unknown as Codec<null>;
    const replayPrepare = new SessionChannel(w.identities.broker, sessionId).seal('media', 'OPEN', anyPayload, null);
    await expect(again.mediaPeer.call('PrepareSession', [replayPrepare])).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(again.broker.sessions.list()).toHaveLength(0);
    expect(again.media.sessions.list()).toHaveLength(0);

    for (const p of ['advertiser', 'media', 'broker']) expect(readFileSync(join(dir, `${p}.jsonl`)).equals(before[p]!)).toBe(true);
    const report = verifyPaths([dir], trust())[0]!;
    expect(report.ok, JSON.stringify(report.checks.filter((x) => !x.ok))).toBe(true);
    again.close();
  });
});
