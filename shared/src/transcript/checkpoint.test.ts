/**
 * Checkpoint co-signing rules: a peer co-signs only a tree that contains every message it
 * exchanged, in its order, and that extends the last tree it signed. A broker that drops,
 * reorders or rewrites a message — or shows two peers different histories — is refused.
 */
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../crypto/jcs.ts';
import { SigningKey } from '../crypto/dsse.ts';
import { check, cosign, propose, verifyCosignature } from './checkpoint.ts';

const stmt = (sender: string, receiver: string, seq: number) =>
  canonicalBytes({ v: 1, sessionId: 's1', round: 'BLIND', sender, receiver, seq, chunk: 0, last: true, payloadType: 'cleanroom.v1.BlindedBatch', payloadSha256: '0'.repeat(64), payloadSize: 1, sentAt: '2026-01-01T00:00:00.000Z' });

// The broker's view: A↔C and C↔B messages interleaved.
const brokerLeaves = [stmt('advertiser', 'broker', 0), stmt('broker', 'media', 0), stmt('media', 'broker', 0), stmt('broker', 'advertiser', 0), stmt('advertiser', 'broker', 1)];
const advertiserView = brokerLeaves.filter((_, i) => [0, 3, 4].includes(i));
const mediaView = brokerLeaves.filter((_, i) => [1, 2].includes(i));

describe('checkpoints', () => {
  it('both peers accept an honest proposal and co-sign the same root', () => {
    const pa = propose(brokerLeaves, 'advertiser', 'BLIND', undefined);
    const pm = propose(brokerLeaves, 'media', 'BLIND', undefined);
    expect(() => check(pa, advertiserView, undefined)).not.toThrow();
    expect(() => check(pm, mediaView, undefined)).not.toThrow();
    expect(Buffer.from(pa.rootHash).equals(Buffer.from(pm.rootHash))).toBe(true);
    const k = SigningKey.generate();
    expect(verifyCosignature(k.publicKey, 's1', pa, cosign(k, 's1', pa).sig)).toBe(true);
    expect(verifyCosignature(k.publicKey, 's2', pa, cosign(k, 's1', pa).sig)).toBe(false);
  });

  it('refuses a tree that misses one of the peer\'s messages', () => {
    const withoutOne = brokerLeaves.filter((_, i) => i !== 3);
    expect(() => check(propose(withoutOne, 'advertiser', 'BLIND', undefined), advertiserView, undefined)).toThrow(/includes 2 of this party's messages, this party has 3/);
  });

  it('refuses a tree where the peer\'s message was rewritten', () => {
    const rewritten = [...brokerLeaves];
    rewritten[3] = stmt('broker', 'advertiser', 7);
    expect(() => check(propose(rewritten, 'advertiser', 'BLIND', undefined), advertiserView, undefined)).toThrow(/message 1 of this party is not in the tree/);
  });

  it('refuses a history shown differently: a tree that does not extend the last one signed', () => {
    const first = propose(brokerLeaves.slice(0, 3), 'media', 'OPEN', undefined);
    check(first, mediaView, undefined);
    const last = { size: first.treeSize, root: first.rootHash };
    // honest extension
    expect(() => check(propose(brokerLeaves, 'media', 'BLIND', last), mediaView, last)).not.toThrow();
    // a forked history: same media messages, but the broker rewrote an advertiser message before them
    const forked = [stmt('advertiser', 'broker', 9), ...brokerLeaves.slice(1)];
    expect(() => check(propose(forked, 'media', 'BLIND', last), mediaView, last)).toThrow(/not consistent with the tree of size 3/);
    // claiming no previous tree
    expect(() => check(propose(brokerLeaves, 'media', 'BLIND', undefined), mediaView, last)).toThrow(/extends a tree of size 0, this party last signed size 3/);
  });
});
