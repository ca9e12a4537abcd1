/**
 * The memory the offline work's worker threads add (deploy/k8s/sizing.ts WORKER_RUNS): media's
 * publication workers (services/media/src/publication-workers.ts) and the broker's sync workers
 * (services/broker/src/sync-workers.ts), 1, 2 and 4 of each, each given two batches of 64
 * ciphertexts' work; prints the resident memory (RSS) each set added while up, in total and per
 * worker. Run with --expose-gc (a collection before each reading).
 *
 *   node --expose-gc bench/worker-memory.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerBfv, MediaBfv } from '@cleanroom/shared/crypto/bfv.ts';
import { CiphertextFileWriter } from '@cleanroom/shared/service/ciphertext-file.ts';
import { ATTRIBUTE_COUNT } from '@cleanroom/shared/common/attributes.ts';
import { encryptPackedUsers } from '@cleanroom/shared/protocol/publication.ts';
import { PACKED_BYTES } from '@cleanroom/shared/protocol/universe.ts';
import { PublicationWorkers } from '../services/media/src/publication-workers.ts';
import { SyncWorkers } from '../services/broker/src/sync-workers.ts';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const rss = (): number => {
  gc();
  return process.memoryUsage().rss / 2 ** 20;
};
const bfv = await MediaBfv.create(ATTRIBUTE_COUNT);
const users = bfv.layout.usersPerCiphertext * 64;
const packed = Uint8Array.from({ length: users * PACKED_BYTES }, (_, i) => (i * 37) & 0xff);
const cts = encryptPackedUsers(bfv, packed, users);
const dir = mkdtempSync(join(tmpdir(), 'cleanroom-worker-memory-'));
const broker = await BrokerBfv.fromPublicMaterial(bfv.publicMaterial(), ATTRIBUTE_COUNT);
const storedLength = broker.storedFormLength();
broker.dispose();
for (const threads of [1, 2, 4]) {
  const before = rss();
  const p = new PublicationWorkers(bfv, threads);
  await Promise.all(Array.from({ length: 2 * threads }, () => p.encrypt(packed.slice(), users)));
  const pub = rss() - before;
  await p.close();
  const mid = rss();
  const places = new CiphertextFileWriter(dir).reserve(2 * threads * 64, storedLength); // the sync's segment files, written by the workers
  const s = new SyncWorkers(bfv.publicMaterial(), ATTRIBUTE_COUNT, places, threads);
  await Promise.all(Array.from({ length: 2 * threads }, (_, k) => s.convert(k * 64, cts)));
  const sync = rss() - mid;
  await s.close();
  process.stdout.write(`${threads} worker(s): publication +${pub.toFixed(0)} MiB (${(pub / threads).toFixed(0)} each), sync +${sync.toFixed(0)} MiB (${(sync / threads).toFixed(0)} each)\n`);
}
rmSync(dir, { recursive: true, force: true });
