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
 * Pure: no filesystem, no network, no worker thread. Each labelled (user, ID type) takes the
 * OPRF point X25519(k, H(id)) its token was finalised from as the source gives it — media
 * stores it when it prepares the universe (services/media/src/universe-points.ts), so no hash
 * to group or X25519 is done here — and the box is sealed only once finalize(id, point) is
 * checked to equal the published token: that check is what proves the box is sealed to the
 * right ID, and it fails loudly on a wrong stored point (a corrupt file) instead of sealing a
 * box nobody can open. Cost per real box: that finalize (SHA-512), the label key (SHA-512) and
 * one XChaCha20-Poly1305 seal — symmetric crypto, on the calling thread, which yields an
 * event-loop turn between chunks (common/turns.ts) — and the source's reads.
 * For the same `random` and the same points, the boxes are byte for byte the same whether the
 * points were stored or recomputed.
 */
import { createHash } from 'node:crypto';
import { finalizeInto } from '../crypto/oprf.ts';
import type { ElementBytes } from '../crypto/group.ts';
import { LABEL_BOX_BYTES, LABEL_KEY_BYTES, labelAdHead, labelKeyInto, randomLabelBoxInto, sealLabelInto, type LabelBytes } from '../crypto/label-box.ts';
import { TOKEN_BYTES } from '../common/token-set.ts';
import { turnTaker } from '../common/turns.ts';
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
  /** The OPRF point X25519(k, H_dst(id)) of that ID (its token is finalize(id, point)), or undefined. */
  pointOf(row: number, idType: IdType): ElementBytes | undefined;
  /** The encoded label of `row` and its data-sharing consent (consent_share), or undefined for no label. */
  labelOf(row: number): { label: LabelBytes; consentShare: boolean } | undefined;
}

const CHUNK = 32_768;

/** Fills its argument with random bytes (nonces, the boxes of unlabelled tokens); default libsodium's CSPRNG. Tests pass a seeded one. */
export type LabelRandom = (out: Uint8Array) => void;

/**
 * Seals every published token's label. Throws if a labelled row has no point, or if its ID
 * and point do not give the published token (the label would be sealed to the wrong ID).
 */
export async function publishLabels(
  pub: { epoch: string; version: string; tokens: ReadonlyMap<IdType, TokenPages> },
  src: LabelSource,
  opts: { random?: LabelRandom; sink?: LabelSink; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ labels: LabelPublication; stats: LabelPublicationStats }> {
  const t0 = performance.now();
  const turn = turnTaker(); // a node's admin API keeps answering meanwhile (minutes at 10^7 users)
  const { random, onProgress } = opts;
  const sink = opts.sink ?? memorySink();
  const boxes = new Map<IdType, LabelBoxes>();
  const total = [...pub.tokens.values()].reduce((a, t) => a + t.count, 0);
  let done = 0;
  const labelled: Record<string, number> = {};
  const enc = new TextEncoder();
  for (const [idType, t] of pub.tokens) {
    const n = t.count;
    let real = 0;
    // one associated-data buffer (its head fixed for this ID type, the token written in per box)
    // and one key buffer, wiped after each chunk: no array per box
    const adHead = labelAdHead(pub.epoch, idType);
    const ad = new Uint8Array(adHead.length + TOKEN_BYTES);
    ad.set(adHead);
    const key = new Uint8Array(LABEL_KEY_BYTES);
    for (let s = 0; s < n; s += CHUNK) {
      // one chunk's boxes at a time, handed to the sink: never every box in memory here
      const out = new Uint8Array((Math.min(n, s + CHUNK) - s) * LABEL_BOX_BYTES);
      const page = t.page(s, Math.min(n, s + CHUNK)); // read page by page: no table of every token in memory
      // the chunk's random boxes first, then its seals: the order `random` is drawn in (so the
      // same random source gives the same bytes as when the points were computed in between)
      const idx: number[] = [];
      const xs: Uint8Array[] = [];
      const labels: LabelBytes[] = [];
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
          randomLabelBoxInto(out, (i - s) * LABEL_BOX_BYTES, random);
        }
      }
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k]!;
        const row = src.order[page.positions[i - s]!]!;
        const x = xs[k]!;
        const token = page.tokens.subarray((i - s) * TOKEN_BYTES, (i - s + 1) * TOKEN_BYTES);
        const point = checkedPoint(src.pointOf(row, idType), x, token, idType, i, row);
        ad.set(token, adHead.length);
        sealLabelInto(out, (i - s) * LABEL_BOX_BYTES, labelKeyInto(key, x, point), labels[k]!, ad, random);
      }
      key.fill(0);
      real += idx.length;
      sink.append(idType, out);
      done += out.length / LABEL_BOX_BYTES;
      onProgress?.(done, total);
      await turn();
    }
    boxes.set(idType, sink.finish(idType));
    labelled[idType] = real;
  }
  return {
    labels: { epoch: pub.epoch, publicationVersion: pub.version, version: labelsVersion(pub.epoch, pub.version, boxes), boxes },
    stats: { labelled, seconds: (performance.now() - t0) / 1000 },
  };
}

/** checkedPoint's recomputed token (compared as a Buffer view: no copy per check). */
const checkToken = Buffer.alloc(TOKEN_BYTES);

/** `point` when finalize(x, point) is `token`; throws otherwise (no point, an invalid one, or another ID's). */
function checkedPoint(point: ElementBytes | undefined, x: Uint8Array, token: Uint8Array, idType: IdType, i: number, row: number): ElementBytes {
  if (point === undefined) throw new Error(`label publication: no OPRF point for the ${idType} ID of row ${row} (token ${i}): prepare the universe again`);
  let ok = false;
  try {
    finalizeInto(checkToken, 0, x, point);
    ok = checkToken.equals(token);
  } catch {
    ok = false; // not a valid element: no token can come from it
  }
  if (!ok) throw new Error(`label publication: the ${idType} ID of token ${i} (row ${row}) and its OPRF point do not give its published token — a corrupt points file or a changed ID; no box is sealed with it: prepare the universe again`);
  return point;
}
