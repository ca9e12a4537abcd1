/** Configuration from the environment: defaults, and every mistake named by its variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopbackHost, loadConfig } from './config.ts';

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

// Issue 9, item 7: the loopback exemption from the admin token is decided on the parsed IP.
describe('isLoopbackHost / the admin token rule', () => {
  it('127.0.0.0/8, ::1 and localhost are loopback; names that merely start with 127. are not', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '[::1]', '::1', 'localhost', 'LOCALHOST', '[0:0:0:0:0:0:0:1]']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['127.evil.example', '127.0.0.1.nip.io', '127.', '1270.0.0.1', '0.0.0.0', '10.0.0.1', '[::]', '[::2]', 'localhost.evil.example', 'example.com']) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });
  it('an admin API on 127.evil.example needs a token', () => {
    expect(() => loadConfig('broker', { CLEANROOM_ADMIN_LISTEN: '127.evil.example:8083' })).toThrow(/CLEANROOM_ADMIN_TOKEN: required because CLEANROOM_ADMIN_LISTEN \(127\.evil\.example:8083\) is not a loopback address/);
    expect(loadConfig('broker', { CLEANROOM_ADMIN_LISTEN: 'localhost:8083' }).adminToken).toBeUndefined();
    expect(loadConfig('broker', { CLEANROOM_ADMIN_LISTEN: '127.0.0.9:8083' }).adminToken).toBeUndefined();
  });
});
