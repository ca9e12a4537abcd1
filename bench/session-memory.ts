/**
 * What a session's padded list costs in memory, one node's side at a time, as an object per
 * element (`--layout array`: how the broker and media held it before PackedList) or packed
 * (`--layout packed`: PackedList, as they hold it now). Structures only: the bytes travel
 * through the real codecs, batching, padding and unpadding (BlindedBatchCodec / splitBatches /
 * joinBatches against PackedBlindedBatchCodec / splitPacked / joinPacked, padAndShuffle,
 * unpad), but the X25519 work is left out — media's "evaluation" and the broker's dummies are
 * copies of random group elements, so the figure is the holding, not the crypto's CPU (a
 * 2,000,000-element session takes minutes of X25519 on a loaded machine; the full-cluster
 * figure is `node bench/memory.ts --universe 400000 --crm 600000`).
 *
 *   broker: the dummies, the padded list, its batches encoded for media, media's reply decoded
 *           and joined, A's elements unpadded;
 *   media:  the padded list's batches decoded, evaluated batch by batch, the reply encoded.
 *
 * Prints JSON: the resident and heap memory added at the peak (sampled after every step and
 * the process maxRSS), MiB. Run each layout in its own process:
 *
 *   node --expose-gc bench/session-memory.ts --side broker|media --layout array|packed [--padded 2000000]
 */
import { randomFillSync } from 'node:crypto';
import { ELEMENT_BYTES } from '../shared/src/crypto/group.ts';
import { PackedList } from '../shared/src/common/packed-list.ts';
import {
  BATCH_BYTES, BATCH_ITEMS, BlindedBatchCodec, checkContiguous, joinBatches, joinPacked, PackedBlindedBatchCodec, splitBatches, splitPacked,
} from '../shared/src/rpc/codec.ts';
import { padAndShuffle, unpad } from '../shared/src/protocol/padding.ts';
import { randomPermutation } from '../shared/src/protocol/policy.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';

const p = parseArgs(process.argv.slice(2), { side: 'string', layout: 'string', padded: 'string' });
const side = strFlag(p, 'side', 'broker');
const layout = strFlag(p, 'layout', 'packed');
const padded = intFlag(p, 'padded', 2_000_000, 1000, 10_000_000);
if (!['broker', 'media'].includes(side) || !['array', 'packed'].includes(layout)) throw new RangeError(`expected --side broker|media and --layout array|packed, got ${side} / ${layout}`);
const seeds = Math.floor(padded / 10);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const mib = (b: number): number => Math.round(b / 2 ** 20);

/** A random group element's bytes without the X25519 (a valid u-coordinate: top bit clear, far below p). */
function fakeElement(): Uint8Array {
  const e = randomFillSync(new Uint8Array(ELEMENT_BYTES));
  e[31]! &= 0x3f;
  e[0]! |= 0x20; // never a low-order point's encoding (those are 0, 1 or start 0xe0/0x5f/0xec…)
  return e;
}

gc();
const base = process.memoryUsage();
let peakRss = 0;
let peakHeap = 0;
const steps: Record<string, number> = {};
const mark = (step: string): void => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed + m.arrayBuffers);
  steps[step] = mib(m.rss - base.rss);
};

// A's blinded elements as the broker receives them (both layouts: an array, a tenth of the list)
const blinded = Array.from({ length: seeds }, () => fakeElement());
gc();
const afterBlinded = process.memoryUsage();
const held: unknown[] = [];
if (side === 'broker') {
  if (layout === 'array') {
    // before: one Uint8Array per dummy (randomElement's), an array of the padded list, batches of views
    const dummies = Array.from({ length: padded - seeds }, () => fakeElement());
    mark('dummies');
    const perm = randomPermutation(padded, Math.random);
    const list = new Array<Uint8Array>(padded);
    const padMap = new Int32Array(padded);
    for (let pos = 0; pos < padded; pos++) {
      const src = perm[pos]!;
      list[pos] = src < seeds ? blinded[src]! : dummies[src - seeds]!;
      padMap[pos] = src < seeds ? src : -1;
    }
    mark('padded');
    const sent = splitBatches(list, BATCH_ITEMS, BATCH_BYTES).map((b) => BlindedBatchCodec.encode(b));
    mark('sent');
    const evaluated = joinBatches(sent.map((b) => BlindedBatchCodec.decode(b)), 'evaluated elements');
    mark('reply');
    const own = new Array<Uint8Array>(seeds);
    padMap.forEach((src, pos) => {
      if (src >= 0) own[src] = evaluated[pos]!;
    });
    mark('unpadded');
    held.push(dummies, list, sent, evaluated, own);
  } else {
    const dummies = PackedList.alloc(padded - seeds, ELEMENT_BYTES);
    for (let i = 0; i < dummies.length; i++) dummies.set(i, fakeElement());
    mark('dummies');
    const { padded: list, padMap } = padAndShuffle(blinded, dummies, padded, Math.random);
    mark('padded');
    const sent = splitPacked(list, BATCH_ITEMS, BATCH_BYTES).map((b) => PackedBlindedBatchCodec.encode(b));
    mark('sent');
    const evaluated = joinPacked(sent.map((b) => PackedBlindedBatchCodec.decode(b)), 'evaluated elements');
    mark('reply');
    const own = unpad(evaluated, padMap, seeds);
    mark('unpadded');
    held.push(dummies, list, sent, evaluated, own);
  }
} else {
  // what media receives: the padded list's batches, encoded
  const received = splitPacked(PackedList.from(Array.from({ length: padded }, (_, i) => (i < seeds ? blinded[i]! : fakeElement())), ELEMENT_BYTES), BATCH_ITEMS, BATCH_BYTES)
    .map((b) => BlindedBatchCodec.encode({ offset: b.offset, items: b.items.toArray() }));
  gc();
  const before = process.memoryUsage();
  Object.assign(afterBlinded, before);
  if (layout === 'array') {
    // before: decoded to an array of views per batch, each batch's evaluations views into one reply buffer
    const batches = received.map((b) => BlindedBatchCodec.decode(b));
    joinBatches(batches, 'blinded elements');
    mark('decoded');
    const out = batches.map((b) => {
      const buf = new Uint8Array(b.items.length * ELEMENT_BYTES);
      b.items.forEach((e, i) => buf.set(e, i * ELEMENT_BYTES));
      return { offset: b.offset, items: b.items.map((_, i) => buf.subarray(i * ELEMENT_BYTES, (i + 1) * ELEMENT_BYTES)) };
    });
    mark('evaluated');
    const reply = out.map((b) => BlindedBatchCodec.encode(b));
    mark('reply');
    held.push(batches, out, reply);
  } else {
    const batches = received.map((b) => PackedBlindedBatchCodec.decode(b));
    checkContiguous(batches, 'blinded elements');
    mark('decoded');
    const out = batches.map((b) => ({ offset: b.offset, items: new PackedList(b.items.bytes.slice(), ELEMENT_BYTES) }));
    mark('evaluated');
    const reply = out.map((b) => PackedBlindedBatchCodec.encode(b));
    mark('reply');
    held.push(batches, out, reply);
  }
  held.push(received);
}
gc();
const end = process.memoryUsage();
const maxRss = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({
  side, layout, padded, seeds,
  addedRssMiB: mib(peakRss - afterBlinded.rss),
  addedHeapAndBuffersMiB: mib(peakHeap - (afterBlinded.heapUsed + afterBlinded.arrayBuffers)),
  heldAfterGcMiB: mib(end.heapUsed + end.arrayBuffers - (afterBlinded.heapUsed + afterBlinded.arrayBuffers)),
  maxRssMiB: mib(maxRss),
  stepsRssMiB: steps,
  held: held.length,
})}\n`);
