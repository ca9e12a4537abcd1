/**
 * Media's label publication, beside the token table of a publication (publication.ts): for
 * every published token, one fixed-size box (crypto/label-box.ts) that holds its user's
 * label sealed under a key derived from that user's OPRF output — or random bytes of the
 * same size when the user gave no data-sharing consent (or has no label). Boxes are in
 * token-table order, so entry i belongs to token i of that ID type.
 *
 * The broker stores the boxes with the publication and, in a lookup session, returns the
 * boxes of A's matched tokens (lookup.ts); it cannot open any (the key is a hash of the
 * unblinded OPRF point, not of the token) and cannot tell a real box from a random one, so
 * it does not learn who consented either. Only a party that evaluated the ID through the
 * OPRF — A, for its own IDs — opens it.
 *
 * Pure apart from worker threads for the OPRF points: no filesystem, no network.
 * Cost: one hash-to-group and one X25519 per labelled (user, ID type) — media recomputes
 * the OPRF point the token was finalised from, since the prepared universe keeps tokens only —
 * both on `threads` workers (crypto/oprf-points.ts); sealing stays on the calling thread, so
 * the boxes are byte for byte those of the single-thread path for the same `random`.
 */
import { createHash } from 'node:crypto';
import type { OprfKey } from '../crypto/oprf.ts';
import { finalize } from '../crypto/oprf.ts';
import { computePoints, PointPool } from '../crypto/oprf-points.ts';
import { oprfDst } from '../crypto/h2c.ts';
import { LABEL_BOX_BYTES, labelAd, labelKey, randomLabelBox, sealLabel, type LabelBytes } from '../crypto/label-box.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import type { IdType } from './messages.ts';
import type { TokenPages } from './publication.ts';

/**
 * One ID type's boxes (LABEL_BOX_BYTES each, token-table order), read by range: in memory
 * (labelBoxes) or from a file (service/label-file.ts), so that a node serving 10^8 tokens
 * never holds every box.
 */
export interface LabelBoxes {
  readonly count: number;
  /** Boxes [from, to) back to back, the caller's to keep. */
  read(from: number, to: number): Uint8Array;
  /** Boxes [from, to) into `out` (at least (to − from) boxes long); returns the filled view. Optional: for passes over every box without a buffer per page. */
  readInto?(from: number, to: number, out: Uint8Array): Uint8Array;
}

/** Boxes held in memory (tests, small publications). */
export function labelBoxes(bytes: Uint8Array): LabelBoxes {
  if (bytes.length % LABEL_BOX_BYTES !== 0) throw new RangeError(`expected a multiple of ${LABEL_BOX_BYTES} box bytes, got ${bytes.length}`);
  const count = bytes.length / LABEL_BOX_BYTES;
  return {
    count,
    read(from, to) {
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from || to > count) throw new RangeError(`expected a box range within [0, ${count}], got [${from}, ${to})`);
      return bytes.slice(from * LABEL_BOX_BYTES, to * LABEL_BOX_BYTES);
    },
  };
}

/** Where publishLabels puts the boxes as it seals them, chunk by chunk, per ID type. */
export interface LabelSink {
  append(idType: IdType, boxes: Uint8Array): void;
  /** Every box of `idType` appended: the boxes, readable. */
  finish(idType: IdType): LabelBoxes;
}

/** A sink that keeps the boxes in memory (the default). */
export function memorySink(): LabelSink {
  const parts = new Map<IdType, Uint8Array[]>();
  return {
    append(idType, boxes) {
      const list = parts.get(idType) ?? [];
      list.push(boxes);
      parts.set(idType, list);
    },
    finish(idType) {
      return labelBoxes(Buffer.concat(parts.get(idType) ?? []));
    },
  };
}

export interface LabelPublication {
  epoch: string;
  /** The publication (tokens) these boxes sit beside. */
  publicationVersion: string;
  /** SHA-256 over the epoch, the publication version and every box (labelsVersion). */
  version: string;
  /** Per ID type: LABEL_BOX_BYTES per token, token-table order. */
  boxes: Map<IdType, LabelBoxes>;
}

/** What only media knows about its label publication (never sent). */
export interface LabelPublicationStats {
  /** Real boxes per ID type (the rest are random). */
  labelled: Record<string, number>;
  seconds: number;
}

/** Boxes hashed at a time by labelsVersion. */
const HASH_PAGE = 65_536;

export function labelsVersion(epoch: string, publicationVersion: string, boxes: ReadonlyMap<IdType, LabelBoxes>): string {
  const h = createHash('sha256').update(`cleanroom/v1/labels\0${epoch}\0${publicationVersion}\0${LABEL_BOX_BYTES}\0`);
  for (const type of [...boxes.keys()].sort()) {
    const b = boxes.get(type);
    if (!b) continue;
    h.update(`${type}\0${b.count}\0`);
    // one page buffer for every page where the boxes can fill it: at 10^7 users the pages are
    // 543 MB, which the broker's GC policy let pile up as garbage (its peak at a sync's end)
    const page = b.readInto ? new Uint8Array(Math.min(b.count, HASH_PAGE) * LABEL_BOX_BYTES) : undefined;
    for (let i = 0; i < b.count; i += HASH_PAGE) {
      const to = Math.min(b.count, i + HASH_PAGE);
      h.update(page && b.readInto ? b.readInto(i, to, page) : b.read(i, to));
    }
  }
  return h.digest('hex');
}

export interface LabelSource {
  /** The user row at a publication position (Publication.order). */
  order: Uint32Array;
  /** The normalised ID of `row` for `idType`, or undefined. */
  idOf(row: number, idType: IdType): string | undefined;
  /** The encoded label of `row` and its data-sharing consent (consent_share), or undefined for no label. */
  labelOf(row: number): { label: LabelBytes; consentShare: boolean } | undefined;
}

const CHUNK = 32_768;

/** Fills its argument with random bytes (nonces, the boxes of unlabelled tokens); default libsodium's CSPRNG. Tests pass a seeded one. */
export type LabelRandom = (out: Uint8Array) => void;

/**
 * Seals every published token's label. Throws if a recomputed token differs from the
 * published one (the label would be sealed to the wrong ID).
 */
export async function publishLabels(
  pub: { epoch: string; version: string; tokens: ReadonlyMap<IdType, TokenPages> },
  key: OprfKey,
  src: LabelSource,
  opts: { threads?: number; random?: LabelRandom; sink?: LabelSink; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ labels: LabelPublication; stats: LabelPublicationStats }> {
  const t0 = performance.now();
  const threads = opts.threads ?? 1;
  const pool = threads > 1 ? new PointPool(key, threads) : undefined;
  try {
    return await seal(pub, src, opts.random, opts.sink ?? memorySink(), (xs, dst) => (pool && xs.length >= POOL_THRESHOLD ? pool.compute(xs, dst) : Promise.resolve(computePoints(key, xs, dst))), t0, opts.onProgress);
  } finally {
    await pool?.close();
  }
}

/** Below this many labelled IDs in a chunk the points are computed on the calling thread. */
const POOL_THRESHOLD = 2000;

async function seal(
  pub: { epoch: string; version: string; tokens: ReadonlyMap<IdType, TokenPages> },
  src: LabelSource,
  random: LabelRandom | undefined,
  sink: LabelSink,
  points: (xs: readonly Uint8Array[], dst: string) => Promise<Uint8Array[]>,
  t0: number,
  onProgress?: (done: number, total: number) => void,
): Promise<{ labels: LabelPublication; stats: LabelPublicationStats }> {
  const boxes = new Map<IdType, LabelBoxes>();
  const total = [...pub.tokens.values()].reduce((a, t) => a + t.count, 0);
  let done = 0;
  const labelled: Record<string, number> = {};
  const enc = new TextEncoder();
  for (const [idType, t] of pub.tokens) {
    const n = t.count;
    const dst = oprfDst(idType, pub.epoch);
    let real = 0;
    for (let s = 0; s < n; s += CHUNK) {
      // one chunk's boxes at a time, handed to the sink: never every box in memory here
      const out = new Uint8Array((Math.min(n, s + CHUNK) - s) * LABEL_BOX_BYTES);
      const idx: number[] = [];
      const xs: Uint8Array[] = [];
      const labels: LabelBytes[] = [];
      const page = t.page(s, Math.min(n, s + CHUNK)); // read page by page: no table of every token in memory
      for (let i = s; i < Math.min(n, s + CHUNK); i++) {
        const row = src.order[page.positions[i - s]!]!;
        // consent enforced per record: without consent_share the box is random bytes
        const l = src.labelOf(row);
        const id = l?.consentShare ? src.idOf(row, idType) : undefined;
        if (l?.consentShare && id !== undefined) {
          idx.push(i);
          xs.push(enc.encode(id));
          labels.push(l.label);
        } else {
          out.set(randomLabelBox(random), (i - s) * LABEL_BOX_BYTES);
        }
      }
      const evaluated = await points(xs, dst);
      idx.forEach((i, k) => {
        const token = page.tokens.subarray((i - s) * TOKEN_BYTES, (i - s + 1) * TOKEN_BYTES);
        const x = xs[k]!;
        const point = evaluated[k]!;
        if (!Buffer.from(finalize(x, point)).equals(token)) throw new Error(`label publication: the ${idType} ID of token ${i} does not give its published token`);
        out.set(sealLabel(labelKey(x, point), labels[k]!, labelAd(pub.epoch, idType, token), random), (i - s) * LABEL_BOX_BYTES);
      });
      real += idx.length;
      sink.append(idType, out);
      done += out.length / LABEL_BOX_BYTES;
      onProgress?.(done, total);
    }
    boxes.set(idType, sink.finish(idType));
    labelled[idType] = real;
  }
  return {
    labels: { epoch: pub.epoch, publicationVersion: pub.version, version: labelsVersion(pub.epoch, pub.version, boxes), boxes },
    stats: { labelled, seconds: (performance.now() - t0) / 1000 },
  };
}
