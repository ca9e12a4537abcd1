/**
 * The broker's sync collection policy (BrokerNodeOptions.syncGcPolicy; main.ts passes
 * service/gc-policy.ts applySyncGcPolicy) is held exactly while a sync transfers a
 * publication: applied after the manifest, before the first page; undone after the last
 * message, before syncUniverse resolves — and undone too when the sync fails (a refused page),
 * so a failed sync never leaves the broker on the sync's policy. A sync that finds the
 * publication unchanged transfers nothing and applies nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '@cleanroom/shared/protocol/messages.ts';
import { UniverseRequestCodec } from '@cleanroom/shared/rpc/codec.ts';
import type { Peer } from '@cleanroom/shared/rpc/peer.ts';
import { makeWorld, type World } from './world.ts';
import { memoryCluster } from './memory-cluster.ts';

/** A media peer that records each SyncUniverse part asked for in `events`, and refuses `refuse` when given. */
function recording(peer: Peer, events: string[], refuse?: string): Peer {
  return {
    call: async (method, req, ms) => {
      if (method === 'SyncUniverse') {
        const part = UniverseRequestCodec.decode(req[0]!.payload).part;
        events.push(part);
        if (part === refuse) throw new ProtocolError('UNAVAILABLE', `media went away during ${part} (test)`);
      }
      return peer.call(method, req, ms);
    },
  };
}

describe("the broker's sync collection policy", () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld({ universeSize: 3000, crmSize: 300 });
  });

  function cluster(events: string[], refuse?: string) {
    return memoryCluster(w, {
      wrap: (name, peer) => (name === 'media' ? recording(peer, events, refuse) : peer),
      syncGcPolicy: () => {
        events.push('apply');
        return () => events.push('undo');
      },
    });
  }

  it('is held from after the manifest to after the last message of a sync, once; an unchanged publication applies nothing', async () => {
    const events: string[] = [];
    const c = cluster(events);
    try {
      await c.broker.syncUniverse();
      events.push('synced');
      const first = events.indexOf('apply');
      expect(events.slice(0, first)).toEqual(['MANIFEST']);
      expect(events.filter((e) => e === 'apply' || e === 'undo')).toEqual(['apply', 'undo']);
      expect(events.slice(events.indexOf('undo') - 1)).toEqual(['DONE', 'undo', 'synced']);
      expect(events).toContain('CIPHERTEXTS');
      events.length = 0;
      await c.broker.syncUniverse(); // unchanged: manifest and done only
      expect(events).toEqual(['MANIFEST', 'DONE']);
    } finally {
      c.close();
    }
  });

  it('is undone when the sync fails', async () => {
    const events: string[] = [];
    const c = cluster(events, 'CIPHERTEXTS');
    try {
      await expect(c.broker.syncUniverse()).rejects.toThrow(/media went away during CIPHERTEXTS/);
      expect(events).toEqual(['MANIFEST', 'apply', ...events.slice(2, events.indexOf('CIPHERTEXTS')), 'CIPHERTEXTS', 'undo']);
      expect(events.slice(2, events.indexOf('CIPHERTEXTS')).every((e) => e === 'TOKENS')).toBe(true);
    } finally {
      c.close();
    }
  });
});
