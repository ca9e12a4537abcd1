/**
 * Tests only: a Media gRPC service on loopback without TLS, served with `opts` (a node's server
 * options, as tests build them from nodeServerOptions), and the broker's PeerClient to it;
 * both are closed by the function pushed onto `cleanup`.
 */
import type * as grpc from '@grpc/grpc-js';
import { addService, bindServer, createServer, PeerClient, type Handlers, type ServerOptions } from '@cleanroom/shared/rpc/grpc.ts';

const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export async function plaintextMedia(handlers: Partial<Handlers<'Media'>>, opts: ServerOptions, cleanup: (() => void)[]): Promise<PeerClient<'Media'>> {
  const server: grpc.Server = createServer(opts);
  addService(server, 'Media', handlers, opts);
  const port = await bindServer(server, '127.0.0.1:0', opts.transport);
  const client = new PeerClient('Media', `127.0.0.1:${port}`, {
    transport: { kind: 'plaintext' }, serverParty: 'media', self: 'broker', maxMessageBytes: MAX_MESSAGE_BYTES, deadlineMs: 60_000,
  });
  cleanup.push(() => {
    client.close();
    server.forceShutdown();
  });
  return client;
}
