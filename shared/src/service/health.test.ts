/**
 * grpc.health.v1 over real gRPC: NodeHealth says NOT_SERVING until the peer server is bound
 * AND the node is ready (media preparing its universe), SERVING then, NOT_SERVING again from
 * the start of a shutdown; Watch streams see each transition. (The three real node processes
 * answering on their peer and health ports: test/unit/ops.node.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';
import { checkHealth, NodeHealth } from './health.ts';

const insecure = grpc.credentials.createInsecure();

describe('NodeHealth (grpc.health.v1 through grpc-health-check)', () => {
  let h: NodeHealth | undefined;
  afterEach(() => h?.close());

  it('NOT_SERVING while not ready (universe preparing), SERVING once ready and bound, NOT_SERVING on shutdown', async () => {
    h = new NodeHealth('Media');
    const port = await h.listenPlaintext('127.0.0.1:0');
    const addr = `127.0.0.1:${port}`;
    let preparing = true;
    h.readinessFrom(() => !preparing);
    expect(await checkHealth(addr, '', insecure)).toBe('NOT_SERVING');
    expect(await checkHealth(addr, 'cleanroom.v1.Media', insecure)).toBe('NOT_SERVING');
    h.setGrpcServing(true); // peer port bound, universe still preparing
    expect(await checkHealth(addr, 'cleanroom.v1.Media', insecure)).toBe('NOT_SERVING');
    preparing = false;
    h.refresh();
    expect(await checkHealth(addr, '', insecure)).toBe('SERVING');
    expect(await checkHealth(addr, 'cleanroom.v1.Media', insecure)).toBe('SERVING');
    h.shutdown();
    expect(await checkHealth(addr, 'cleanroom.v1.Media', insecure)).toBe('NOT_SERVING');
  });

  it('an unknown service name is NOT_FOUND (the standard answer)', async () => {
    h = new NodeHealth('Broker');
    const port = await h.listenPlaintext('127.0.0.1:0');
    await expect(checkHealth(`127.0.0.1:${port}`, 'cleanroom.v1.Media', insecure)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('a Watch stream sees NOT_SERVING, then SERVING when the node becomes ready', async () => {
    h = new NodeHealth('Broker');
    const port = await h.listenPlaintext('127.0.0.1:0');
    let synced = false;
    h.readinessFrom(() => synced);
    h.setGrpcServing(true);
    const def = protoLoader.loadSync(protoPath, { keepCase: true, enums: String, defaults: true });
    const Health = (grpc.loadPackageDefinition(def) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor;
    const client = new Health(`127.0.0.1:${port}`, insecure) as any;
    const seen: string[] = [];
    const call = client.watch({ service: 'cleanroom.v1.Broker' });
    call.on('error', () => undefined); // CANCELLED when the test ends the stream
    const done = new Promise<void>((resolve) => {
      call.on('data', (m: { status: string }) => {
        seen.push(m.status);
        if (m.status === 'NOT_SERVING' && seen.length === 1) {
          synced = true; // the broker has synced the universe table
          h!.refresh();
        }
        if (m.status === 'SERVING') resolve();
      });
    });
    await done;
    call.cancel();
    client.close();
    expect(seen).toEqual(['NOT_SERVING', 'SERVING']);
  });
});
