/** freePort draws bindable ports below the ephemeral range and never the same one twice. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from './free-port.ts';

describe('freePort', () => {
  it('gives distinct ports that can be bound, none from the ephemeral range outgoing connections draw from', async () => {
    const low = (() => {
      try { return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]); } catch { return 49152; }
    })();
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(50);
    for (const p of ports) expect(p).toBeLessThan(low);
    await new Promise<void>((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(ports[0], '127.0.0.1', () => s.close(() => res()));
    });
  });
});
