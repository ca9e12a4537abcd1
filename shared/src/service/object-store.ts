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
 * up to ATTEMPTS attempts (a stream cannot be replayed) and with its exact length — an object
 * larger than one part (PART_BYTES, 16 MiB) goes up as a multipart upload, each part held in
 * memory while it is sent and retried alone, so a connection lost at 90 % of a 3 GB file costs
 * one part again, not the file, and an object may exceed S3's 5 GiB limit for one request; a
 * multipart upload that fails is aborted — including one whose completing answer was lost (the
 * retry finds the upload gone: the put fails and the caller puts again), and a process killed
 * meanwhile leaves its parts to the bucket's lifecycle rule (docs/operations.md); `get` may
 * start at an offset (a ranged request: a download resumed where its connection was cut); `get` of a
 * missing name returns undefined, never an error; `getBytes` asks again for a body cut short; `list` follows continuation tokens to the
 * end; every failure is an ObjectStoreError naming the operation and the full s3:// address,
 * retried only where it may pass on a second try (network errors, 5xx, 429, timeouts).
 */
import type { Readable } from 'node:stream';
import { parseStoreUrl, type StoreLocation } from './store-url.ts';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException, UploadPartCommand,
} from '@aws-sdk/client-s3';

export { parseStoreUrl, type StoreLocation };

/** Attempts per operation (the first included); for a multipart upload, per part. */
export const ATTEMPTS = 4;

/**
 * Bytes per part of a multipart upload: objects larger go up in parts. S3 takes at most 10,000
 * parts of at least 5 MiB (but the last) and one request of at most 5 GiB; 16 MiB parts hold
 * objects to 160 GiB (larger ones get larger parts), and the four files a shard uploads at a
 * time hold 64 MiB of parts in memory.
 */
export const PART_BYTES = 16 * 1024 * 1024;
const MAX_PARTS = 10_000;

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

  private readonly partBytes: number;
  private readonly retryDelayMs: number;

  /**
   * `partBytes` and `retryDelayMs` (the wait before the second attempt, ×4 before each next):
   * tests (S3 itself refuses parts under 5 MiB but the last).
   */
  constructor(url: string, opts: { endpoint?: string; region?: string; partBytes?: number; retryDelayMs?: number } = {}) {
    this.url = url;
    this.location = parseStoreUrl(url);
    this.partBytes = opts.partBytes ?? PART_BYTES;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    if (!Number.isInteger(this.partBytes) || this.partBytes < 1) throw new RangeError(`expected partBytes ≥ 1, got ${this.partBytes}`);
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
        await new Promise((r) => setTimeout(r, this.retryDelayMs * 4 ** (i - 1)));
      }
    }
  }

  /**
   * Stores `length` bytes that `body()` yields under `name`. Up to one part: one request, body
   * called once per attempt. Larger: a multipart upload, body called once and cut into parts
   * (partsOf), each part retried alone; a body that yields other than `length` bytes fails it.
   */
  async put(name: string, length: number, body: () => Readable | Uint8Array): Promise<void> {
    const partBytes = Math.max(this.partBytes, Math.ceil(length / MAX_PARTS));
    if (length <= partBytes) {
      await this.attempt('put', name, () => this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: this.key(name), Body: body(), ContentLength: length })));
      return;
    }
    const Bucket = this.location.bucket;
    const Key = this.key(name);
    const created = await this.attempt('put (create multipart upload)', name, () => this.client.send(new CreateMultipartUploadCommand({ Bucket, Key })));
    const UploadId = created.UploadId;
    if (!UploadId) throw new ObjectStoreError(`put ${this.address(name)}: the server started a multipart upload without an upload id`, false);
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for await (const part of partsOf(body(), partBytes, length)) {
        const PartNumber = parts.length + 1;
        const r = await this.attempt(`put (part ${PartNumber})`, name, () => this.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: part, ContentLength: part.length })));
        if (!r.ETag) throw new ObjectStoreError(`put ${this.address(name)}: the server took part ${PartNumber} without an ETag`, false);
        parts.push({ ETag: r.ETag, PartNumber });
      }
      // Retried like any request. An answer lost after the server completed makes the retry fail
      // (the upload is gone): the put fails, and the caller puts again — never a false success
      // (an older object of the same name and length may be there).
      await this.attempt('put (complete multipart upload)', name, () => this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })));
    } catch (err) {
      // best effort: parts left by a failed abort (or a killed process) go by the bucket's lifecycle rule
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      if (err instanceof ObjectStoreError) throw err;
      throw new ObjectStoreError(`put ${this.address(name)}: ${reason(err)}`, false);
    }
  }

  /**
   * The object `name` as a stream with its length, or undefined when there is none (the
   * stream's own failures are the caller's). `from`: its bytes from that offset on (a ranged
   * request, to resume a download a connection cut), `length` then what is left.
   */
  async get(name: string, opts: { from?: number } = {}): Promise<{ body: Readable; length: number } | undefined> {
    return this.attempt('get', name, () => this.request(name, opts.from ?? 0));
  }

  private async request(name: string, from = 0): Promise<{ body: Readable; length: number } | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(name), ...(from > 0 ? { Range: `bytes=${from}-` } : {}) }));
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

/**
 * The bytes of `body` in parts of `partBytes` (the last shorter), `length` in all: a part is
 * one buffer, reused for the next once the caller asks for it (the caller has sent it by then).
 * Fails when the body yields more or fewer bytes than `length`.
 */
async function* partsOf(body: Readable | Uint8Array, partBytes: number, length: number): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) {
    if (body.length !== length) throw new RangeError(`the body holds ${body.length} bytes, expected ${length}`);
    for (let at = 0; at < length; at += partBytes) yield body.subarray(at, Math.min(length, at + partBytes));
    return;
  }
  const part = new Uint8Array(Math.min(partBytes, length));
  let fill = 0;
  let total = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > length) {
      body.destroy();
      throw new RangeError(`the body holds more than the ${length} bytes expected`);
    }
    for (let at = 0; at < chunk.length;) {
      const n = Math.min(chunk.length - at, part.length - fill);
      part.set(chunk.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === part.length) {
        yield part;
        fill = 0;
      }
    }
  }
  if (total !== length) throw new RangeError(`the body ended after ${total} of ${length} bytes`);
  if (fill > 0) yield part.subarray(0, fill);
}
