/**
 * Tests' TCP proxy in front of a server (an S3 endpoint), on a loopback port: each connection
 * gets hooks of its own (`perConnection`), which see every chunk each way and may pass it on
 * (return it, or a part of it), hold it back (return undefined), or cut the connection — to
 * make a transfer fail partway, or an answer get lost, exactly where a test wants. Not for
 * production use.
 */
import { connect, createServer } from 'node:net';

export interface ProxyLink {
  /** Sends `last` to the client (if given), then closes both sides. */
  cut(last?: Buffer): void;
}

export interface ProxyHooks {
  /** A chunk from the client: what to pass to the server. */
  toServer?(chunk: Buffer, link: ProxyLink): Buffer | undefined;
  /** A chunk from the server: what to pass to the client. */
  toClient?(chunk: Buffer, link: ProxyLink): Buffer | undefined;
}

export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: what a client connects to instead of the server. */
  endpoint: string;
  close(): Promise<void>;
}

/** A proxy to the server at `endpoint` (http://host:port). */
export async function startTcpProxy(endpoint: string, perConnection: () => ProxyHooks = () => ({})): Promise<TcpProxy> {
  const { hostname, port } = new URL(endpoint);
  const server = createServer((client) => {
    const up = connect(Number(port), hostname);
    const hooks = perConnection();
    const link: ProxyLink = {
      cut(last) {
        if (last) client.write(last);
        client.destroy();
        up.destroy();
      },
    };
    client.on('data', (d: Buffer) => {
      const out = hooks.toServer ? hooks.toServer(d, link) : d;
      if (out && !up.destroyed) up.write(out);
    });
    up.on('data', (d: Buffer) => {
      const out = hooks.toClient ? hooks.toClient(d, link) : d;
      if (out && !client.destroyed) client.write(out);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    up.on('close', () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
