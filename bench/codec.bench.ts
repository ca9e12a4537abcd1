/**
 * Decode and encode of one full BlindedBatch (16,384 32-byte elements, BATCH_ITEMS) through
 * the project's codec (rpc/codec.ts: protobuf + validation), by CPU time per batch; a
 * 50,000-element session decodes about four of them at media and four at the broker. Then the
 * same batch through PackedBlindedBatchCodec, from and into one packed list (what the broker
 * and media send each other in the BLIND round). And one page of the broker's universe sync
 * (65,536 tokens with their positions, UniverseTokens) decoded into objects (UniverseTokensCodec)
 * and packed (PackedUniverseTokensCodec, the sync's).
 *
 *   node bench/codec.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { BATCH_ITEMS, BlindedBatchCodec, PackedBlindedBatchCodec, UniverseTokensCodec } from '../shared/src/rpc/codec.ts';
import { PackedUniverseTokensCodec } from '../shared/src/rpc/sync-codec.ts';
import { TOKEN_BYTES } from '../shared/src/common/token-set.ts';
import { PackedList } from '../shared/src/common/packed-list.ts';

const items = Array.from({ length: BATCH_ITEMS }, () => new Uint8Array(randomBytes(32)));
const bytes = BlindedBatchCodec.encode({ offset: 0, items });
const cpuMs = (f: () => void, n: number): number => {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / n;
};
for (let run = 1; run <= 3; run++) {
  const dec = cpuMs(() => BlindedBatchCodec.decode(bytes), 20);
  const enc = cpuMs(() => BlindedBatchCodec.encode({ offset: 0, items }), 20);
  console.log(`run ${run}: ${BATCH_ITEMS}-element batch, decode ${dec.toFixed(2)} ms CPU, encode ${enc.toFixed(2)} ms CPU`);
}
const packed = PackedList.from(items, 32);
for (let run = 1; run <= 3; run++) {
  const dec = cpuMs(() => PackedBlindedBatchCodec.decode(bytes), 20);
  const enc = cpuMs(() => PackedBlindedBatchCodec.encode({ offset: 0, items: packed }), 20);
  console.log(`run ${run}: ${BATCH_ITEMS}-element batch, packed: decode ${dec.toFixed(2)} ms CPU, encode ${enc.toFixed(2)} ms CPU`);
}

const tokens = Array.from({ length: 65_536 }, () => new Uint8Array(randomBytes(TOKEN_BYTES)));
const page = UniverseTokensCodec.encode({ idType: 'phone', offset: 0, tokens, positions: tokens.map((_, i) => i * 3) });
for (let run = 1; run <= 3; run++) {
  const objects = cpuMs(() => UniverseTokensCodec.decode(page), 10);
  const packed = cpuMs(() => PackedUniverseTokensCodec.decode(page), 10);
  console.log(`run ${run}: 65,536-token sync page, decode into objects ${objects.toFixed(2)} ms CPU, packed ${packed.toFixed(2)} ms CPU`);
}
