// Benchmark of media's publication encryption and the broker's store path of a synced
// publication, in one process on a synthetic universe: CPU per ciphertext of
//   publish()  (protocol/publication.ts: order, token tables, encryption, digests) into media's
//              ciphertext file (service/ciphertext-file.ts), as services/media/src/publication-store.ts does;
//   the broker's UniverseDownload (services/broker/src/universe-store.ts): each ciphertext
//              through the codec of a SyncUniverse page (CiphertextBatchCodec), validated,
//              stored in NTT form, digested; then finish() (tables, version).
// Beside them the floors' primitives measured in the same process (bench/floors.ts): publication
// per ciphertext bfvEncrypt; the broker's sync bfvLoad + bfvNtt (bench/bench.ts). And what
// bfvEncrypt's plaintext does to its cost: SEAL's encryption of a plaintext encoded from
// alternating 0/1 slots (3 nonzero coefficients: the floor's plaintext until 2026-11-30)
// against random 0/1 slots (a dense polynomial, like every plaintext media encrypts).
// Run: nice -n 10 node bench/publication-steps.ts [users=40000]. Single-threaded CPU time.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTRIBUTE_COUNT } from '../shared/src/common/attributes.ts';
import { BrokerBfv, MediaBfv } from '../shared/src/crypto/bfv.ts';
import { PACKED_BYTES, unpackVector, type Universe } from '../shared/src/protocol/universe.ts';
import { ciphertextDigest, publish } from '../shared/src/protocol/publication.ts';
import { CiphertextBatchCodec } from '../shared/src/rpc/codec.ts';
import { CiphertextFile, CiphertextFileWriter } from '../shared/src/service/ciphertext-file.ts';
import { UniverseDownload } from '../services/broker/src/universe-store.ts';
import { measurePrimitiveCosts, sealKeys } from './floors.ts';
import { TOKEN_BYTES } from '../shared/src/common/token-set.ts';
import { PackedList } from '../shared/src/common/packed-list.ts';

const users = Number(process.argv[2] ?? 40_000);
if (!Number.isInteger(users) || users < 1) throw new RangeError(`expected a positive user count, got ${process.argv[2]}`);

const system = { publish: 0, store: 0 };
/** Minor page faults per step: fresh memory touched (a large buffer allocated per ciphertext shows here, as system time). */
const faults = { publish: 0, store: 0 };
let faults0 = process.resourceUsage().minorPageFault;
const cpuMs = (c0: NodeJS.CpuUsage, step?: keyof typeof system): number => {
  const c = process.cpuUsage(c0);
  const f = process.resourceUsage().minorPageFault;
  if (step) {
    system[step] = c.system / 1000;
    faults[step] = f - faults0;
  }
  faults0 = f;
  return (c.user + c.system) / 1000;
};

// A synthetic universe: random attribute bits (about a quarter set), one phone token per user.
const packed = randomBytes(users * PACKED_BYTES);
const mask = randomBytes(packed.length);
for (let i = 0; i < packed.length; i++) packed[i]! &= mask[i]!;
const tokens = randomBytes(users * TOKEN_BYTES);
const rows = Uint32Array.from({ length: users }, (_, i) => i);
const universe = {
  epoch: 'bench', size: users, idTypes: ['phone'], packed,
  vector: (row: number) => unpackVector(packed.subarray(row * PACKED_BYTES, (row + 1) * PACKED_BYTES)),
  tokenChunks: function* () {
    yield { tokens: new Uint8Array(tokens), rows };
  },
} as unknown as Universe;

/** ms of CPU per SEAL symmetric encryption (seed-compressed, unsaved) of a plaintext encoded from `slots`: the fastest of 3 runs of 10. */
async function encryptCost(slots: BigInt64Array): Promise<number> {
  const { seal, parms, context, keygen, sk, pk } = await sealKeys(ATTRIBUTE_COUNT);
  const encryptor = new seal.Encryptor(context, pk, sk);
  const encoder = new seal.BatchEncoder(context);
  const pt = new seal.Plaintext();
  encoder.encode(slots, pt);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < 10; i++) encryptor.encryptSymmetricSerializable(pt).delete();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000 / 10);
  }
  const nonzero = pt.nonzeroCoeffCount();
  for (const h of [pt, encoder, encryptor, pk, sk, keygen, context, parms]) h.delete();
  console.log(`  SEAL symmetric encryption, plaintext with ${nonzero} nonzero coefficients: ${best.toFixed(3)} ms`);
  return best;
}

const dir = mkdtempSync(join(tmpdir(), 'publication-steps-'));
try {
  const costs = await measurePrimitiveCosts({ repeats: 3 });
  console.log('bfvEncrypt by plaintext:');
  await encryptCost(BigInt64Array.from({ length: 8192 }, (_, i) => BigInt(i & 1)));
  await encryptCost(BigInt64Array.from(randomBytes(8192), (b) => BigInt(b & 1)));
  const bfv = await MediaBfv.create(ATTRIBUTE_COUNT);
  bfv.encryptUsers([new Uint8Array(ATTRIBUTE_COUNT)]); // warm-up
  let c0 = process.cpuUsage();
  faults0 = process.resourceUsage().minorPageFault;
  const w = new CiphertextFileWriter(dir);
  const pub = await publish(universe, bfv, { sink: (ct) => w.append(ct) });
  w.close();
  const publishMs = cpuMs(c0, 'publish');
  const count = pub.ciphertexts.count;
  const file = new CiphertextFile(dir);
  let wireBytes = 0;
  for (let c = 0; c < count; c++) wireBytes += file.view(c).length;

  const stateDir = join(dir, 'broker');
  c0 = process.cpuUsage();
  const broker = await BrokerBfv.fromPublicMaterial(pub.material, ATTRIBUTE_COUNT);
  const keysMs = cpuMs(c0);
  const phone = pub.tokens.get('phone')!;
  const t = { count: phone.count, ...phone.page(0, phone.count) };
  const download = new UniverseDownload(stateDir, {
    epoch: pub.epoch, version: pub.version, users, ciphertexts: count, attributeCount: ATTRIBUTE_COUNT, usersPerCiphertext: bfv.layout.usersPerCiphertext,
    idTypes: [{ idType: 'phone', tokens: t.count }], sizeClass: 'bench', unchanged: false, bfv: pub.material, labelsVersion: '',
  }, broker);
  c0 = process.cpuUsage();
  download.addTokens('phone', 0, new PackedList(t.tokens, TOKEN_BYTES), Uint32Array.from(t.positions));
  const tokensMs = cpuMs(c0);
  // SyncUniverse pages as media sends them (48 ciphertexts each, services/broker/src/node.ts),
  // encoded before the clock starts: the broker pays for decoding them, not for encoding.
  const PAGE = 48;
  const pages: Uint8Array[] = [];
  for (let first = 0; first < count; first += PAGE) {
    const items: Uint8Array[] = [];
    for (let c = first; c < Math.min(count, first + PAGE); c++) items.push(file.get(c));
    pages.push(CiphertextBatchCodec.encode({ offset: first, items }));
  }
  c0 = process.cpuUsage();
  faults0 = process.resourceUsage().minorPageFault;
  for (const wire of pages) {
    const page = CiphertextBatchCodec.decode(wire);
    download.addCiphertexts(page.offset, page.items);
  }
  const storeMs = cpuMs(c0, 'store');
  c0 = process.cpuUsage();
  const held = await download.finish();
  const finishMs = cpuMs(c0);
  file.close();
  const per = (x: number): string => `${(x / count).toFixed(3)} ms`;
  console.log(`${users} users, ${count} ciphertexts, media's wire form ${Math.round(wireBytes / count)} B per ciphertext, broker holds ${Math.round(held.bytesOnDisk / count)} B per ciphertext`);
  const syncFloor = (costs as Partial<typeof costs>).bfvLoad === undefined ? Number.NaN : costs.bfvLoad + costs.bfvNtt;
  console.log(`floor primitives: bfvEncrypt ${costs.bfvEncrypt.toFixed(3)} ms, bfvNtt ${costs.bfvNtt.toFixed(3)} ms, bfvLoad ${(costs as Partial<typeof costs>).bfvLoad?.toFixed(3) ?? '—'} ms`);
  console.log(`publish:        ${per(publishMs)} CPU per ciphertext (${per(system.publish)} of it system, ${Math.round(faults.publish / count)} page faults; ${(publishMs / count / costs.bfvEncrypt).toFixed(2)}× bfvEncrypt)`);
  console.log(`broker keys:    ${keysMs.toFixed(0)} ms once; tokens ${tokensMs.toFixed(0)} ms`);
  console.log(`broker store:   ${per(storeMs)} CPU per ciphertext (${per(system.store)} of it system, ${Math.round(faults.store / count)} page faults; codec, validate, NTT, store, digest; ${(storeMs / count / syncFloor).toFixed(2)}× bfvLoad + bfvNtt)`);
  console.log(`broker finish:  ${per(finishMs)} CPU per ciphertext (tables, version)`);
  // The store step's parts, each over every ciphertext again (same pages): SEAL's part
  // (storedFormView, as the broker stores: load, checks, NTT, copy out of SEAL's memory into a
  // reused buffer) and the SHA-256 the version
  // needs; the rest of the store step is the page codec and the file write.
  c0 = process.cpuUsage();
  for (const wire of pages) for (const ct of CiphertextBatchCodec.decode(wire).items) held.bfv.storedFormView(ct);
  const sealMs = cpuMs(c0);
  c0 = process.cpuUsage();
  for (const wire of pages) for (const ct of CiphertextBatchCodec.decode(wire).items) ciphertextDigest(ct);
  const digestMs = cpuMs(c0);
  console.log(`  of the store: storedFormView ${per(sealMs)} (${(sealMs / count / syncFloor).toFixed(2)}× bfvLoad + bfvNtt), SHA-256 ${per(digestMs)}, codec and write ${per(storeMs - sealMs - digestMs)}`);
  held.ciphertexts instanceof CiphertextFile && held.ciphertexts.close();
  held.bfv.dispose();
  bfv.dispose();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
