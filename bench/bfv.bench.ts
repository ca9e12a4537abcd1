// Benchmark of the BFV cohort profile (shared/src/crypto/bfv.ts) for 64 attributes: time per
// encryptUsers ciphertext (128 users), aggregate time per input ciphertext (masked, the worst
// case) from the wire form and from the broker's stored (NTT) form with one real user per
// ciphertext (a session's typical case) — also from the broker's file, by CPU time, reading
// each ciphertext into a fresh buffer or into one reused buffer — decryptProfile time, and the byte sizes.
// Run: node bench/bfv.bench.ts [ciphertexts=40]. Single-threaded; numbers are for one core.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BFV_PARAMETERS, BrokerBfv, MediaBfv } from '../shared/src/crypto/bfv.ts';
import { CiphertextFile, CiphertextFileWriter } from '../shared/src/service/ciphertext-file.ts';

const ATTRIBUTES = 64;
const count = Number(process.argv[2] ?? 40);
if (!Number.isInteger(count) || count < 1) throw new RangeError(`expected a positive ciphertext count, got ${process.argv[2]}`);

const ms = (t0: number): number => performance.now() - t0;
const kb = (n: number): string => `${n} B (${(n / 1024).toFixed(1)} KiB)`;

let t0 = performance.now();
const media = await MediaBfv.create(ATTRIBUTES);
const keygenMs = ms(t0);
const material = media.publicMaterial();
t0 = performance.now();
const broker = await BrokerBfv.fromPublicMaterial(material, ATTRIBUTES);
const loadMs = ms(t0);
const { usersPerCiphertext } = media.layout;

const vectors = Array.from({ length: count * usersPerCiphertext }, () =>
  Uint8Array.from({ length: ATTRIBUTES }, () => (Math.random() < 0.5 ? 1 : 0)),
);
media.encryptUsers(vectors.slice(0, usersPerCiphertext)); // warm-up
t0 = performance.now();
const cts = media.encryptUsers(vectors);
const encMs = ms(t0) / cts.length;

// Every ciphertext masked (one decoy per ciphertext at least): the costliest aggregation.
const keep = Uint8Array.from({ length: vectors.length }, (_, i) => (i % usersPerCiphertext === 0 ? 0 : Math.random() < 0.1 ? 1 : 0));
const noise = Array.from({ length: ATTRIBUTES }, () => Math.round((Math.random() - 0.5) * 20));
t0 = performance.now();
const profile = broker.aggregate(cts, keep, noise);
const aggMs = ms(t0);
// Fixed part (rotate-and-sum, noise, re-randomization, switch): aggregate of one ciphertext.
t0 = performance.now();
broker.aggregate([cts[0]!], keep.subarray(0, usersPerCiphertext), noise);
const aggOneMs = ms(t0);

// The broker's stored form (NTT, uncompressed) with one real user per ciphertext, against the
// wire form for the same positions: what a session pays per touched ciphertext.
const stored = cts.map((c) => broker.toStoredForm(c));
const onePerCt = cts.map((_, c) => c * usersPerCiphertext + 1);
const zero = new Array(ATTRIBUTES).fill(0);
broker.aggregateStored((c) => stored[c], stored.length, onePerCt.slice(0, 1), zero); // warm-up: cached masks
t0 = performance.now();
broker.aggregateStored((c) => stored[c], stored.length, onePerCt, zero);
const storedMs = ms(t0);
// The same from the broker's file (service/ciphertext-file.ts), as a session reads it: a fresh
// buffer per ciphertext (get) against one reused buffer (view, what the broker does), CPU time.
const dir = mkdtempSync(join(tmpdir(), 'bfv-bench-'));
const writer = new CiphertextFileWriter(dir);
for (const st of stored) writer.append(st);
writer.close();
const file = new CiphertextFile(dir);
const cpuMs = (f: () => void): number => {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
};
const oneCpuMs = cpuMs(() => broker.aggregateStored((c) => file.view(c), stored.length, onePerCt.slice(0, 1), zero));
const fileGetCpuMs = cpuMs(() => broker.aggregateStored((c) => file.get(c), stored.length, onePerCt, zero));
const fileViewCpuMs = cpuMs(() => broker.aggregateStored((c) => file.view(c), stored.length, onePerCt, zero));
file.close();
rmSync(dir, { recursive: true, force: true });
const keepOne = new Uint8Array(vectors.length);
for (const p of onePerCt) keepOne[p] = 1;
t0 = performance.now();
broker.aggregate(cts, keepOne, zero);
const wireMs = ms(t0);

t0 = performance.now();
const reps = 10;
let consistent = true;
for (let i = 0; i < reps; i++) consistent &&= media.decryptProfile(profile).consistent;
const decMs = ms(t0) / reps;

const publicMaterialBytes = material.params.length + material.publicKey.length + material.galoisKeys.length;
const ctBytes = cts.reduce((a, c) => a + c.length, 0) / cts.length;

console.log(`BFV N=${BFV_PARAMETERS.polyModulusDegree}, coeff modulus ${BFV_PARAMETERS.coeffModulusBits.join('+')} bits, ` +
  `t ${BFV_PARAMETERS.plainModulusBits}-bit batching prime, ${BFV_PARAMETERS.securityLevel}-bit security; ` +
  `${ATTRIBUTES} attributes, ${usersPerCiphertext} users per ciphertext, ${count} ciphertexts`);
console.table({
  'keygen (MediaBfv.create), ms': keygenMs.toFixed(1),
  'BrokerBfv.fromPublicMaterial, ms': loadMs.toFixed(1),
  'encryptUsers per ciphertext, ms': encMs.toFixed(2),
  'aggregate total, ms': aggMs.toFixed(1),
  'aggregate per input ciphertext (marginal), ms': ((aggMs - aggOneMs) / (count - 1 || 1)).toFixed(2),
  'aggregate fixed part (1 ciphertext), ms': aggOneMs.toFixed(1),
  'one real user per ciphertext, wire form, ms per ciphertext': ((wireMs - aggOneMs) / count).toFixed(2),
  'one real user per ciphertext, stored (NTT) form, ms per ciphertext': ((storedMs - aggOneMs) / count).toFixed(2),
  'one real user per ciphertext, from the file, fresh buffer each (get), ms CPU per ciphertext': ((fileGetCpuMs - oneCpuMs) / count).toFixed(2),
  'one real user per ciphertext, from the file, reused buffer (view), ms CPU per ciphertext': ((fileViewCpuMs - oneCpuMs) / count).toFixed(2),
  'decryptProfile, ms': decMs.toFixed(2),
});
console.table({
  'public material (params + pk + galois)': kb(publicMaterialBytes),
  params: kb(material.params.length),
  'public key': kb(material.publicKey.length),
  'galois keys': kb(material.galoisKeys.length),
  'one user ciphertext (mean)': kb(Math.round(ctBytes)),
  'stored (NTT) form at the broker': kb(stored[0]!.length),
  profile: kb(profile.length),
  'profile noise budget, bits': String(media.noiseBudgetBits(profile)),
  'profile consistent': String(consistent),
});
broker.dispose();
media.dispose();
