/**
 * SessionRegistry's idle reaper (issue 9, item 12), on fake timers (no real waiting): a
 * session is failed for silence only when its peers are silent — not while a call for it is in
 * progress here, and not while the peer is busy talking to this node about other sessions
 * (up to the fair-shared cap of N × idle with N sessions running); a silent peer still fails
 * it after the idle limit.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SigningKey } from '../crypto/dsse.ts';
import { AbortCodec } from '../rpc/codec.ts';
import { SessionChannel } from '../rpc/channel.ts';
import { paddedCallDeadlineMs, PEER_WORK_MS_PER_ELEMENT, SessionRegistry } from './sessions.ts';

const IDLE = 1000;

describe('SessionRegistry: silent peers vs busy peers', () => {
  const broker = SigningKey.generate();
  const brokerId = { party: 'broker' as const, key: broker, peerKey: () => broker.publicKey };
  /** A message from the broker about session `sid` (seq increases per channel). */
  const channels = new Map<string, SessionChannel>();
  const fromBroker = (sid: string) => {
    const ch = channels.get(sid) ?? new SessionChannel(brokerId, sid);
    channels.set(sid, ch);
    return ch.seal('media', 'ABORT', AbortCodec, { reason: 'test' });
  };
  let expired: string[];
  let reg: SessionRegistry<null>;
  beforeEach(() => {
    vi.useFakeTimers();
    expired = [];
    channels.clear();
    reg = new SessionRegistry<null>(IDLE, (rec) => {
      expired.push(rec.sessionId);
      reg.finish(rec, 'failed', undefined, 'silent');
    });
  });
  afterEach(() => {
    reg.close();
    vi.useRealTimers();
  });

  it('a silent peer fails a waiting session after the idle limit (as before)', () => {
    reg.create('x', null, 'open');
    vi.advanceTimersByTime(IDLE / 2);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(IDLE);
    expect(expired).toEqual(['x']);
  });

  it('a session whose call is in progress here (serving it, or waiting on a peer for it) is never idle', async () => {
    const x = reg.create('x', null, 'blind');
    let release!: () => void;
    const step = reg.step(x, 'blind', () => new Promise<void>((r) => (release = r)), () => undefined);
    vi.advanceTimersByTime(IDLE * 20);
    expect(expired).toEqual([]);
    expect(x.status).toBe('running');
    release();
    await step;
    vi.advanceTimersByTime(IDLE * 2);
    expect(expired).toEqual(['x']); // once idle again, silence counts from the end of the call
  });

  it('a peer busy with another session is not silent: the waiting session survives up to N × idle', () => {
    reg.create('x', null, 'aggregate'); // waits for the broker's next call
    const y = reg.create('y', null, 'blind');
    // the broker talks about y every half idle period, never about x
    for (let t = 0; t < 3; t++) {
      vi.advanceTimersByTime(IDLE / 2);
      const rec = reg.forEnvelope(fromBroker('y'), 'broker', 'media', broker.publicKey);
      reg.touch(rec);
    }
    expect(expired).toEqual([]); // 1.5 × idle without a word about x: busy, not silent
    expect(y.status).toBe('running');
    for (let t = 0; t < 2; t++) {
      vi.advanceTimersByTime(IDLE / 2);
      reg.touch(reg.forEnvelope(fromBroker('y'), 'broker', 'media', broker.publicKey));
    }
    vi.advanceTimersByTime(IDLE / 4);
    expect(expired).toEqual(['x']); // past 2 × idle (two sessions): the fair share is used up
  });

  it('a session waiting on its peers\' O(P) work gets that allowance more, until its next phase comes', () => {
    const x = reg.create('x', null, 'open');
    reg.expectPeerWork(x, 3 * IDLE); // e.g. media after SessionReady: A blinds, C draws dummies
    reg.create('z', null, 'open'); // no allowance: the plain idle limit
    vi.advanceTimersByTime(IDLE / 2);
    // a message of the session that is not the awaited round (the broker's OPEN checkpoint)
    reg.touch(reg.forEnvelope(fromBroker('x'), 'broker', 'media', broker.publicKey));
    vi.advanceTimersByTime(IDLE * 1.5);
    expect(expired).toEqual(['z']);
    vi.advanceTimersByTime(IDLE * 2); // 3.5 × idle since the checkpoint: within idle + allowance
    expect(expired).toEqual(['z']);
    // the awaited round arrives: the allowance is used, silence counts from here with the plain limit
    reg.touch(reg.forEnvelope(fromBroker('x'), 'broker', 'media', broker.publicKey), 'blind');
    vi.advanceTimersByTime(IDLE / 2);
    expect(expired).toEqual(['z']);
    vi.advanceTimersByTime(IDLE);
    expect(expired).toEqual(['z', 'x']);
    expect(() => reg.expectPeerWork(x, -1)).toThrow(/non-negative allowance/);
  });

  it('the BLIND round\'s call deadline grows with the padded size', () => {
    expect(paddedCallDeadlineMs(120_000, 0)).toBe(120_000);
    expect(paddedCallDeadlineMs(120_000, 2_000_000)).toBe(120_000 + 2_000_000 * PEER_WORK_MS_PER_ELEMENT);
    expect(paddedCallDeadlineMs(120_000, 2_000_000)).toBe(620_000);
  });

  it('the allowance ends: a peer silent past idle + allowance still fails the session', () => {
    const x = reg.create('x', null, 'open');
    reg.expectPeerWork(x, IDLE);
    vi.advanceTimersByTime(IDLE * 1.5);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(IDLE);
    expect(expired).toEqual(['x']);
  });
});

describe('SessionRegistry: per-phase CPU split', () => {
  it('records the main thread\'s CPU of a phase beside the process\'s, never more than it', () => {
    const reg = new SessionRegistry<null>(60_000, () => {});
    try {
      const rec = reg.create('cpu-split', null, 'open');
      reg.touch(rec, 'blind');
      // CPU on this (the main) thread: hashing until the thread's own CPU clock has moved.
      const t0 = process.threadCpuUsage();
      let x = 0;
      while (process.threadCpuUsage(t0).user + process.threadCpuUsage(t0).system < 20_000) x += Math.sqrt(x + 1);
      reg.touch(rec, 'tokens');
      const m = rec.metrics.blind!;
      expect(x).toBeGreaterThan(0);
      expect(m.mainThreadCpuMs).toBeGreaterThanOrEqual(20);
      expect(m.mainThreadCpuMs).toBeLessThanOrEqual(m.cpuMs + 1); // the two clocks are read one after the other
    } finally {
      reg.close();
    }
  });
});
