/**
 * Media's universe source, as CLEANROOM_DATA names it: one CSV, or a split source — a path
 * with `{shard}` in it, standing for the files with {shard} = 0, 1, 2, … up to the first that
 * does not exist, read in that order as one universe (consented rows numbered across them,
 * each file with its own header). A split source is how a sharded preparation at 10^8–10^9
 * users reads its input: shard I of N reads file I alone (prepare.ts --shard I --shards N),
 * instead of every shard parsing the whole CSV and skipping the others' rows.
 *
 * Guarantees: a split source has at least file 0 and no gap (file k missing ends it: the
 * files after a gap are not part of it, so a source is exactly the contiguous files from 0);
 * its content hash is splitSourceSha256 of the files' SHA-256s in order — what the merged
 * union of its shards records (mergeShards) and what the node compares to decide whether a
 * prepared universe is current. A whole-file source's hash is the file's SHA-256 (unchanged).
 */
import { createReadStream, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';

/** The placeholder of a split source's path: replaced by 0, 1, 2, … */
export const SHARD_PLACEHOLDER = '{shard}';

export interface UniverseSource {
  /** CLEANROOM_DATA as given. */
  spec: string;
  /** The files read, in order: one for a whole-file source. */
  files: string[];
  split: boolean;
}

/** The file of shard `index` of a split source (`spec` holds {shard}). */
export function shardFile(spec: string, index: number): string {
  return spec.replaceAll(SHARD_PLACEHOLDER, String(index));
}

/** The source CLEANROOM_DATA names: its files listed now (a split source: from 0 to the first missing). */
export function universeSource(spec: string): UniverseSource {
  if (!spec.includes(SHARD_PLACEHOLDER)) return { spec, files: [spec], split: false };
  const files: string[] = [];
  for (let i = 0; existsSync(shardFile(spec, i)); i++) files.push(shardFile(spec, i));
  if (files.length === 0) throw new RangeError(`split universe source ${spec}: expected ${shardFile(spec, 0)} and its successors, found none`);
  return { spec, files, split: true };
}

export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The content hash of a split source from its files' SHA-256s (hex, in file order). */
export function splitSourceSha256(fileHashes: readonly string[]): string {
  const h = createHash('sha256').update(`cleanroom/v1/split-universe-source\0${fileHashes.length}\0`);
  for (const f of fileHashes) h.update(`${f}\0`);
  return h.digest('hex');
}

/** The source's content hash and, per file, the file's own SHA-256 (what each shard of a split source records). */
export async function sourceSha256(src: UniverseSource): Promise<{ sha256: string; files: string[] }> {
  const files: string[] = [];
  for (const f of src.files) files.push(await fileSha256(f));
  return { sha256: src.split ? splitSourceSha256(files) : files[0]!, files };
}
