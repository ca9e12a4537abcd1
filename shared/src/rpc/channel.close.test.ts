/** SessionChannel.close never throws (issue 9, item 1): it runs from timers and `finally` blocks, where a throw would end the process. */
import { describe, expect, it } from 'vitest';
import { SigningKey } from '../crypto/dsse.ts';
import type { TranscriptWriter } from '../transcript/writer.ts';
import { SessionChannel } from './channel.ts';

describe('SessionChannel.close', () => {
  it('keeps a failing transcript close in closeError instead of throwing', () => {
    const key = SigningKey.generate();
    const failing = { close: () => { throw new Error('EIO: fsync failed'); } } as unknown as TranscriptWriter;
    const ch = new SessionChannel({ party: 'media', key, peerKey: () => key.publicKey }, 's-close', failing);
    expect(() => ch.close()).not.toThrow();
    expect(ch.closeError?.message).toBe('EIO: fsync failed');
  });
});
