/**
 * The object store (object-store.ts) against a real S3-compatible HTTP server (s3rver, the
 * tests' stand-in for MinIO or S3): addresses parsed and refused, objects put from a body built
 * per attempt and read back, a missing object as undefined but a missing bucket as an error
 * (not retried), listing under a prefix, and a server that does not answer failing after the
 * attempts with the address and the cause.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../common/free-port.ts';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ATTEMPTS, ObjectStore, ObjectStoreError, parseStoreUrl } from './object-store.ts';
import { startTestS3, type TestS3 } from './object-store.fixture.ts';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3?.close();
});

describe('object store', () => {
  it('parses s3:// addresses and refuses what S3 would not take', () => {
    expect(parseStoreUrl('s3://cleanroom-shards')).toEqual({ bucket: 'cleanroom-shards', prefix: '' });
    expect(parseStoreUrl('s3://cleanroom-shards/media/prep/')).toEqual({ bucket: 'cleanroom-shards', prefix: 'media/prep' });
    for (const bad of ['https://x/y', 's3://', 's3://ab', 's3://Upper', 's3://a..b/x', 's3://bucket/a//b', 's3://bucket/a/../b', 's3://bucket/a\\b']) {
      expect(() => parseStoreUrl(bad), bad).toThrow(RangeError);
    }
  });

  it('puts, gets, lists; a missing object is undefined, a missing bucket an error', async () => {
    const store = new ObjectStore(`s3://${s3.bucket}/t1/prefix`, { endpoint: s3.endpoint });
    const data = randomBytes(3_000_000);
    let built = 0;
    await store.put('a/b.bin', data.length, () => {
      built += 1;
      return Readable.from([data.subarray(0, 1_000_000), data.subarray(1_000_000)]);
    });
    expect(built).toBe(1);
    await store.put('a/c.json', 2, () => new TextEncoder().encode('{}'));
    expect(Buffer.from((await store.getBytes('a/b.bin', 4_000_000))!).equals(data)).toBe(true);
    expect(await store.get('a/none.bin')).toBeUndefined();
    await expect(store.getBytes('a/b.bin', 1000)).rejects.toThrow(/3000000 bytes, expected at most 1000/);
    expect((await store.list('a/')).sort((x, y) => x.name.localeCompare(y.name))).toEqual([{ name: 'a/b.bin', size: 3_000_000 }, { name: 'a/c.json', size: 2 }]);
    expect(store.address('a/b.bin')).toBe(`s3://${s3.bucket}/t1/prefix/a/b.bin`);
    const other = new ObjectStore('s3://no-such-bucket/x', { endpoint: s3.endpoint });
    const err = await other.get('y').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect((err as ObjectStoreError).message).toMatch(/^get s3:\/\/no-such-bucket\/x\/y: NoSuchBucket \(HTTP 404\)/);
    expect((err as ObjectStoreError).retryable).toBe(false);
    store.close();
    other.close();
  });

  it('a server that does not answer: fails after the attempts, naming the address and the cause', async () => {
    const port = await freePort(); // nothing listens there
    const store = new ObjectStore(`s3://${s3.bucket}/x`, { endpoint: `http://127.0.0.1:${port}` });
    let built = 0;
    const err = await store.put('y', 3, () => {
      built += 1;
      return new Uint8Array(3);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect((err as Error).message).toMatch(new RegExp(`^put s3://${s3.bucket}/x/y: .*ECONNREFUSED.*\\(after ${ATTEMPTS} attempts\\)`));
    expect(built).toBe(ATTEMPTS); // the body built afresh for each attempt
    store.close();
  }, 30_000);
});
