/**
 * The address of an S3-compatible object store, `s3://bucket[/prefix]`, parsed where it enters
 * (configuration, Kubernetes values) without loading the S3 client (object-store.ts).
 *
 * Guarantees: returns the bucket and the prefix (no leading or trailing '/') only for bucket
 * names S3 allows (3–63 of a-z 0-9 . -, starting and ending with a letter or digit, no '..')
 * and prefixes of non-empty printable parts other than '.' and '..'; otherwise a RangeError
 * saying what was expected.
 */
export interface StoreLocation {
  bucket: string;
  /** '' or a prefix without leading or trailing '/'. */
  prefix: string;
}

/**
 * `s3://bucket[/prefix]`: bucket names as S3 allows them (3–63 of a-z 0-9 . -, starting and
 * ending with a letter or digit), a prefix of printable characters without '//' or '..' parts.
 */
export function parseStoreUrl(url: string): StoreLocation {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new RangeError(`expected s3://bucket[/prefix], got '${url}'`);
  const bucket = m[1]!;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) throw new RangeError(`expected an S3 bucket name (3–63 of a-z 0-9 . -), got '${bucket}'`);
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  if (prefix.split('/').some((p) => p === '' || p === '.' || p === '..') && prefix !== '') throw new RangeError(`expected a prefix of non-empty parts without . or .., got '${prefix}'`);
  if (/[\x00-\x1f\x7f\\]/.test(prefix)) throw new RangeError(`expected a prefix of printable characters, got '${prefix}'`);
  return { bucket, prefix };
}
