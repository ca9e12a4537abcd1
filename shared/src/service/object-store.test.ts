/**
 * The object store (object-store.ts) against a real S3-compatible HTTP server (s3rver, the
 * tests' stand-in for MinIO or S3): addresses parsed and refused, objects put from a body built
 * per attempt and read back, a missing object as undefined but a missing bucket as an error
 * (not retried), listing under a prefix, a server that does not answer failing after the
 * attempts with the address and the cause, and objects larger than a part going up in parts:
 * a part cut off retried alone, a body of the wrong length failing the upload and aborting it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../common/free-port.ts';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ATTEMPTS, ObjectStore, ObjectStoreError, parseStoreUrl } from './object-store.ts';
import { startTestS3, type TestS3 } from './object-store.fixture.ts';
import { startTcpProxy } from './tcp-proxy.fixture.ts';

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
    const store = new ObjectStore(`s3://${s3.bucket}/x`, { endpoint: `http://127.0.0.1:${port}`, retryDelayMs: 10 });
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

  it('an object larger than a part goes up in parts: exact, each part retried alone when its connection is cut', async () => {
    // A TCP proxy in front of the store: records every request line, and cuts the connection
    // once, 20,000 bytes into the body of part 2's first attempt.
    const requests: string[] = [];
    let cut = 0;
    let lost = 0;
    const proxy = await startTcpProxy(s3.endpoint, () => {
      let inPart2 = -1;
      let completing = false;
      return {
        toServer(d, link) {
          for (const m of d.toString('latin1').matchAll(/(PUT|POST|GET|DELETE|HEAD) (\S+) HTTP\/1\.1/g)) {
            requests.push(`${m[1]} ${m[2]}`);
            if (cut === 0 && m[1] === 'PUT' && m[2]!.includes('big.bin') && /[?&]partNumber=2(&|$)/.test(m[2]!)) inPart2 = 0;
            if (lost === 0 && m[1] === 'POST' && m[2]!.includes('lost.bin') && m[2]!.includes('uploadId=')) completing = true;
          }
          if (inPart2 >= 0 && cut === 0) {
            inPart2 += d.length;
            if (inPart2 > 20_000) {
              cut += 1;
              link.cut();
              return undefined;
            }
          }
          return d;
        },
        toClient(d, link) {
          if (completing && lost === 0) {
            // the server has completed the upload: its answer is lost on the way
            lost += 1;
            link.cut();
            return undefined;
          }
          return d;
        },
      };
    });
    const store = new ObjectStore(`s3://${s3.bucket}/parts`, { endpoint: proxy.endpoint, partBytes: 64 * 1024, retryDelayMs: 10 });
    try {
      // 3.5 parts from a stream of uneven chunks
      const data = randomBytes(64 * 1024 * 3 + 32 * 1024);
      let built = 0;
      await store.put('big.bin', data.length, () => {
        built += 1;
        return Readable.from([data.subarray(0, 1000), data.subarray(1000, 150_000), data.subarray(150_000)]);
      });
      expect(built).toBe(1); // a multipart upload reads its body once: parts are retried from memory
      expect(cut).toBe(1);
      expect(Buffer.from((await store.getBytes('big.bin', data.length))!).equals(data)).toBe(true);
      const parts = requests.filter((r) => r.startsWith('PUT') && r.includes('big.bin')).map((r) => Number(/partNumber=(\d+)/.exec(r)?.[1]));
      expect(parts).toEqual([1, 2, 2, 3, 4]); // only the part that was cut went again
      expect(requests.filter((r) => r.startsWith('POST') && r.includes('big.bin'))).toHaveLength(2); // created, completed
      // a buffer body the same way; one at exactly one part is one request
      const buf = randomBytes(64 * 1024 * 2 + 1);
      await store.put('buf.bin', buf.length, () => buf);
      expect(Buffer.from((await store.getBytes('buf.bin', buf.length))!).equals(buf)).toBe(true);
      const before = requests.length;
      await store.put('one.bin', 64 * 1024, () => randomBytes(64 * 1024));
      expect(requests.slice(before).filter((r) => r.includes('one.bin'))).toEqual([expect.stringMatching(/^PUT \/[^?]*one\.bin(\?x-id=PutObject)?$/)]);
      // a body shorter than announced fails the upload, names the object, aborts it, stores nothing
      const err = await store.put('short.bin', 64 * 1024 * 3, () => Readable.from([randomBytes(100_000)])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ObjectStoreError);
      expect((err as Error).message).toMatch(new RegExp(`^put s3://${s3.bucket}/parts/short\\.bin: .*ended after 100000 of 196608 bytes`));
      expect(requests.some((r) => r.startsWith('DELETE') && r.includes('short.bin') && r.includes('uploadId='))).toBe(true);
      expect(await store.get('short.bin')).toBeUndefined();
      // the answer to the completing request lost: the retries find the upload gone, so the put
      // fails (never a false success: an older object of that name and length could be there);
      // the caller's next put stores it
      const whole = randomBytes(64 * 1024 * 2 + 5);
      await expect(store.put('lost.bin', whole.length, () => whole)).rejects.toThrow(new RegExp(`^put \\(complete multipart upload\\) s3://${s3.bucket}/parts/lost\\.bin: `));
      expect(lost).toBe(1);
      await store.put('lost.bin', whole.length, () => whole);
      expect(Buffer.from((await store.getBytes('lost.bin', whole.length))!).equals(whole)).toBe(true);
      // and one longer than announced
      await expect(store.put('long.bin', 64 * 1024 * 2, () => Readable.from([randomBytes(64 * 1024 * 3)]))).rejects.toThrow(/holds more than the 131072 bytes expected/);
    } finally {
      store.close();
      await proxy.close();
    }
  }, 60_000);
});
