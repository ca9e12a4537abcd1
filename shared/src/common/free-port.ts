/**
 * A TCP port free on 127.0.0.1 right now, for local clusters and test servers whose port must be
 * known before the process that listens on it starts.
 *
 * Guarantee: the port is drawn below the kernel's ephemeral range, so no outgoing connection of
 * this machine takes it as its source port in the meantime (a port from `listen(0)`, closed again,
 * can be; a `simulate` under a busy test suite failed that way, with EADDRINUSE seconds later when
 * the media node bound it). It was bindable when drawn, and this process never hands it out twice.
 * Another process may still bind it first: callers that start servers retry on EADDRINUSE.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const given = new Set<number>();

/** The first port of the ephemeral range (Linux: ip_local_port_range; elsewhere IANA's 49152). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch { /* not Linux */ }
  return 49152;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.max(1024, Math.min(20_000, high - 4096));
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (given.has(port)) continue;
    if (await bindable(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${low}–${high} on 127.0.0.1`);
}
