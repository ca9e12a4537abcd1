/** Configuration from the environment: defaults, and every mistake named by its variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('applies defaults and freezes the result', () => {
    const c = loadConfig('broker', {});
    expect(c.grpcListen).toBe('0.0.0.0:50053');
    expect(c.adminListen).toBe('127.0.0.1:8083');
    expect(c.minDecoyRatio).toBe(9);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every bad setting at once, each by name', () => {
    try {
      loadConfig('media', { CLEANROOM_GRPC_LISTEN: 'not-an-address', CLEANROOM_DEADLINE_MS: '-5', CLEANROOM_ID_TYPES: 'phone,fax' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/CLEANROOM_GRPC_LISTEN: expected host:port, got 'not-an-address'/);
      expect(msg).toMatch(/CLEANROOM_DEADLINE_MS: expected an integer/);
      expect(msg).toMatch(/CLEANROOM_ID_TYPES: unknown ID type 'fax'/);
      expect(msg).toMatch(/CLEANROOM_DATA: required for the media node/);
    }
  });

  it('requires an admin token when the admin API leaves loopback', () => {
    expect(() => loadConfig('broker', { CLEANROOM_ADMIN_LISTEN: '0.0.0.0:8083' })).toThrow(/CLEANROOM_ADMIN_TOKEN: required/);
    expect(loadConfig('broker', { CLEANROOM_ADMIN_LISTEN: '0.0.0.0:8083', CLEANROOM_ADMIN_TOKEN: 'x'.repeat(32) }).adminToken).toBe('x'.repeat(32));
  });
});
