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

export interface LabelPublication {
  epoch: string;
  /** The publication (tokens) these boxes sit beside. */
  publicationVersion: string;
  /** SHA-256 over the epoch, the publication version and every box (labelsVersion). */
  version: string;
  /** Per ID type: LABEL_BOX_BYTES per token, token-table order. */
  boxes: Map<IdType, Uint8Array>;
}

/** What only media knows about its label publication (never sent). */
export interface LabelPublicationStats {
  /** Real boxes per ID type (the rest are random). */
  labelled: Record<string, number>;
  seconds: number;
}

export function labelsVersion(epoch: string, publicationVersion: string, boxes: ReadonlyMap<IdType, Uint8Array>): string {
  const h = createHash('sha256').update(`cleanroom/v1/labels\0${epoch}\0${publicationVersion}\0${LABEL_BOX_BYTES}\0`);
  for (const type of [...boxes.keys()].sort()) {
    const b = boxes.get(type);
    if (!b) continue;
    h.update(`${type}\0${b.length / LABEL_BOX_BYTES}\0`).update(b);
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
  opts: { threads?: number; random?: LabelRandom } = {},
): Promise<{ labels: LabelPublication; stats: LabelPublicationStats }> {
  const t0 = performance.now();
  const threads = opts.threads ?? 1;
  const pool = threads > 1 ? new PointPool(key, threads) : undefined;
  try {
    return await seal(pub, src, opts.random, (xs, dst) => (pool && xs.length >= POOL_THRESHOLD ? pool.compute(xs, dst) : Promise.resolve(computePoints(key, xs, dst))), t0);
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
  points: (xs: readonly Uint8Array[], dst: string) => Promise<Uint8Array[]>,
  t0: number,
): Promise<{ labels: LabelPublication; stats: LabelPublicationStats }> {
  const boxes = new Map<IdType, Uint8Array>();
  const labelled: Record<string, number> = {};
  const enc = new TextEncoder();
  for (const [idType, t] of pub.tokens) {
    const n = t.count;
    const out = new Uint8Array(n * LABEL_BOX_BYTES);
    const dst = oprfDst(idType, pub.epoch);
    let real = 0;
    for (let s = 0; s < n; s += CHUNK) {
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
          out.set(randomLabelBox(random), i * LABEL_BOX_BYTES);
        }
      }
      const evaluated = await points(xs, dst);
      idx.forEach((i, k) => {
        const token = page.tokens.subarray((i - s) * TOKEN_BYTES, (i - s + 1) * TOKEN_BYTES);
        const x = xs[k]!;
        const point = evaluated[k]!;
        if (!Buffer.from(finalize(x, point)).equals(token)) throw new Error(`label publication: the ${idType} ID of token ${i} does not give its published token`);
        out.set(sealLabel(labelKey(x, point), labels[k]!, labelAd(pub.epoch, idType, token), random), i * LABEL_BOX_BYTES);
      });
      real += idx.length;
    }
    boxes.set(idType, out);
    labelled[idType] = real;
  }
  return {
    labels: { epoch: pub.epoch, publicationVersion: pub.version, version: labelsVersion(pub.epoch, pub.version, boxes), boxes },
    stats: { labelled, seconds: (performance.now() - t0) / 1000 },
  };
}
