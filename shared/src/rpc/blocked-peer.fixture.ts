/**
 * Tests only (blocked-peer.test.ts): a Media gRPC server on its own thread — as media runs in
 * its own process — with the nodes' server options, a message limit of `maxMessageBytes` and
 * keepalive `keepalive`; Activate answers with the number of messages it received. Posts its
 * port to the parent once listening.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { addService, bindServer, createServer, type KeepalivePolicy } from './grpc.ts';

const { maxMessageBytes, keepalive } = workerData as { maxMessageBytes: number; keepalive: KeepalivePolicy };
const log = { warn: () => undefined, error: () => undefined };
const opts = { transport: { kind: 'plaintext' as const }, maxMessageBytes, maxCallBytes: 256 * 1024 * 1024, log, keepalive };
const server = createServer(opts);
addService(server, 'Media', {
  Activate: async (_caller, envs) => [{ statement: new Uint8Array(0), payload: Uint8Array.of(envs.length), signatures: [] }],
}, opts);
const port = await bindServer(server, '127.0.0.1:0', opts.transport);
parentPort?.postMessage(port);
