/**
 * An S3-compatible object store under one prefix (`s3://bucket/prefix`): AWS S3, MinIO, Ceph
 * RGW, GCS's XML API… through the AWS SDK (`@aws-sdk/client-s3`). Credentials come from the
 * SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a web identity token as
 * Kubernetes service accounts get on EKS, an instance role); the region from AWS_REGION
 * (us-east-1 when unset); with `endpoint` set (MinIO and the like) requests use path-style
 * addresses. Checksums are sent and checked only where S3 requires them, so servers that do not
 * know the SDK's newer checksum headers store the bytes as sent.
 *
 * Guarantees: names are relative to the prefix; `put` sends a body it builds afresh for each of
 * up to ATTEMPTS attempts (a stream cannot be replayed) and with its exact length; `get` of a
 * missing name returns undefined, never an error; `getBytes` asks again for a body cut short; `list` follows continuation tokens to the
 * end; every failure is an ObjectStoreError naming the operation and the full s3:// address,
 * retried only where it may pass on a second try (network errors, 5xx, 429, timeouts).
 */
import type { Readable } from 'node:stream';
import { parseStoreUrl, type StoreLocation } from './store-url.ts';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';

export { parseStoreUrl, type StoreLocation };

/** Attempts per operation (the first included). */
export const ATTEMPTS = 4;

export class ObjectStoreError extends Error {
  /** Whether another attempt might have passed (the attempts ran out). */
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
    this.name = 'ObjectStoreError';
  }
}

function retryable(err: unknown): boolean {
  if (err instanceof RangeError) return false; // the object is not what was asked for: another try gives the same
  if (err instanceof S3ServiceException) {
    const status = err.$metadata?.httpStatusCode ?? 0;
    return status >= 500 || status === 429 || err.$retryable !== undefined;
  }
  return true; // no answer from the server: a network error or a timeout
}

function reason(err: unknown): string {
  if (err instanceof S3ServiceException) return `${err.name} (HTTP ${err.$metadata?.httpStatusCode ?? '?'}): ${err.message}`;
  const e = err as NodeJS.ErrnoException & { errors?: Error[] };
  // a refused connection to every address of a name comes as an AggregateError
  const inner = e.errors?.map((x) => x.message).join('; ');
  return `${e.code ? `${e.code} ` : ''}${e.message || inner || String(err)}`;
}

export class ObjectStore {
  readonly url: string;
  readonly location: StoreLocation;
  private readonly client: S3Client;

  constructor(url: string, opts: { endpoint?: string; region?: string } = {}) {
    this.url = url;
    this.location = parseStoreUrl(url);
    this.client = new S3Client({
      region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
      maxAttempts: 1, // retried here, where the body is rebuilt for each attempt
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** The key of `name` in the bucket. */
  key(name: string): string {
    return this.location.prefix ? `${this.location.prefix}/${name}` : name;
  }

  /** The s3:// address of `name`. */
  address(name: string): string {
    return `s3://${this.location.bucket}/${this.key(name)}`;
  }

  private async attempt<T>(op: string, name: string, run: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await run();
      } catch (err) {
        const again = retryable(err);
        if (!again || i >= ATTEMPTS) throw new ObjectStoreError(`${op} ${this.address(name)}: ${reason(err)}${again ? ` (after ${i} attempts)` : ''}`, again);
        await new Promise((r) => setTimeout(r, 250 * 4 ** (i - 1)));
      }
    }
  }

  /** Stores `length` bytes that `body()` yields under `name` (body is called once per attempt). */
  async put(name: string, length: number, body: () => Readable | Uint8Array): Promise<void> {
    await this.attempt('put', name, () => this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: this.key(name), Body: body(), ContentLength: length })));
  }

  /** The object `name` as a stream with its length, or undefined when there is none (the stream's own failures are the caller's). */
  async get(name: string): Promise<{ body: Readable; length: number } | undefined> {
    return this.attempt('get', name, () => this.request(name));
  }

  private async request(name: string): Promise<{ body: Readable; length: number } | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(name) }));
      return { body: r.Body as Readable, length: r.ContentLength ?? -1 };
    } catch (err) {
      if (err instanceof S3ServiceException && err.name === 'NoSuchKey') return undefined; // not NoSuchBucket: a missing bucket is an error
      throw err;
    }
  }

  /** The whole object `name` (at most `limit` bytes), or undefined when there is none; a body cut short is asked for again. */
  async getBytes(name: string, limit: number): Promise<Uint8Array | undefined> {
    return this.attempt('get', name, async () => {
      const r = await this.request(name);
      if (!r) return undefined;
      if (r.length > limit) {
        r.body.destroy();
        throw new RangeError(`${r.length} bytes, expected at most ${limit}`);
      }
      const parts: Buffer[] = [];
      let n = 0;
      for await (const c of r.body as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > limit) {
          r.body.destroy();
          throw new RangeError(`more than ${limit} bytes`);
        }
        parts.push(c);
      }
      if (r.length >= 0 && n !== r.length) throw new Error(`the connection ended after ${n} of ${r.length} bytes`);
      return new Uint8Array(Buffer.concat(parts));
    });
  }

  /** Removes the object `name` (none there is no error). */
  async delete(name: string): Promise<void> {
    await this.attempt('delete', name, () => this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.key(name) })));
  }

  /** Names and sizes of every object whose name starts with `prefix` (relative names). */
  async list(prefix: string): Promise<{ name: string; size: number }[]> {
    const out: { name: string; size: number }[] = [];
    const strip = this.location.prefix ? this.location.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const r = await this.attempt('list', prefix, () => this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: this.key(prefix), ContinuationToken: token })));
      for (const o of r.Contents ?? []) if (o.Key !== undefined) out.push({ name: o.Key.slice(strip), size: o.Size ?? 0 });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  close(): void {
    this.client.destroy();
  }
}

