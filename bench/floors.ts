/**
 * Phase floors for `make bench`: the cost of each cryptographic primitive, measured in this
 * process (one thread, CPU time), and the floor of a phase = Σ over the primitives it counted
 * (common/op-counts.ts, recorded per phase by service/sessions.ts) of count × cost.
 *
 * Primitives and what "the primitive itself" means here:
 *   x25519, x25519Base  libsodium crypto_scalarmult / _base, nothing around them;
 *   hashToGroup         the project's hashToGroupBatch per element (libsodium calls: two
 *                       Elligator 2 maps, a point addition, SHA-512 expand, one batched
 *                       inversion) — the same calls any implementation on this curve makes;
 *   bfv*                one SEAL call each (N = 8192, this project's parameters): symmetric
 *                       encryption of an encoded plaintext (seed-compressed form, unsaved) —
 *                       a plaintext like media's: random 0/1 slots, whose batch encoding is a
 *                       dense polynomial. SEAL's cost depends on it: adding the scaled plaintext
 *                       (multiply_add_plain_with_scaling_variant) does one 128-by-64-bit division
 *                       per coefficient, in SEAL's generic bit-by-bit form here (WebAssembly),
 *                       which costs nothing for a zero coefficient and ≈ 2 ms per ciphertext
 *                       for a dense plaintext, so a degenerate plaintext (alternating 0/1 slots
 *                       encode to 3 nonzero coefficients) takes about half the time and is no
 *                       floor for encrypting data (bench/publication-steps.ts prints both);
 *                       public-key encryption of zero, decryption, NTT-form multiply_plain,
 *                       add, one row rotation, one forward NTT of a ciphertext;
 *   bfvPlainNtt         Evaluator.plainTransformToNtt of an encoded plaintext at the first level
 *                       (its lift to the level's primes and their forward NTTs): with its
 *                       bfvEncode, the operand of a session-specific multiply_plain. The
 *                       joint-count sum builds one per indicator ciphertext it touches — the
 *                       selection of that ciphertext's matched slots is the session's data,
 *                       and a precomputed single-slot basis would be 8192 plaintexts of 196 KB
 *                       (1.6 GB); timed on a sparse selection (a few ones), as the sum's are;
 *   bfvLoad             SEAL's load of one of media's wire ciphertexts (seed-compressed, in
 *                       WIRE_COMPRESSION) into a reused Ciphertext: regenerating the half sent as
 *                       a seed and SEAL's validity check. The broker's sync must parse every
 *                       ciphertext it receives (untrusted input), so its floor counts one per
 *                       ciphertext beside the NTT into its stored form;
 *   bfvReadStored       one positioned read (readv) of a stored ciphertext (the broker's NTT form,
 *                       uncompressed: SEAL's header and 2 × 3 × 8192 words) from a file in the
 *                       page cache into memory, cycling over a 128 MiB file of them (≈ 340;
 *                       larger than the CPU caches, like a session's reads from a file of
 *                       gigabytes — a file of 64, 25 MB, fitted this machine's 32 MiB L3 and
 *                       measured 0.025 ms a read against 0.030 at 200 MB and 0.043–0.050 for
 *                       the aggregation's reads from 3 GB): the broker's aggregation must
 *                       bring every ciphertext it masks from its file (the encrypted universe
 *                       is on disk: ≈ 3 GB at 10^6 users) into SEAL's memory, and one copy is
 *                       the least that takes — SEAL's own load (copies and a range check) is above it;
 *   bfvWriteStored      its converse: one vectored write (writev) of a stored ciphertext (SEAL's
 *                       header and the coefficients) appended to a fresh file, into the page
 *                       cache — 64 per file, a new file per timed run: the broker's sync must
 *                       persist every ciphertext it stores (the encrypted universe lives on
 *                       disk, not in memory), and one copy into the page cache is the least
 *                       that takes; the kernel's page allocation is part of it, writeback to
 *                       the disk (kernel threads) and the final fsync's wait are not;
 *   lookalikeScore      scoring one user for a look-alike: its 8 packed attribute bytes
 *                       looked up in the per-byte score table and summed, four users side by
 *                       side as protocol/lookalike.ts's scan sums them (its inner loop, nothing
 *                       around it: no selection, no quality figure, no I/O; one user at a time
 *                       it costs ≈ 2× as much, above what the scan itself takes). Media's
 *                       look-alike phase must score every user of its universe — the ranking
 *                       is over all of them, so this pass is the phase's inherent work,
 *                       ≈ 10^6 × this cost at 10^6 users, beside the profile's decryption;
 *   ed25519Sign, ed25519Verify  node:crypto's Ed25519 signature / verification (OpenSSL, what
 *                       crypto/dsse.ts calls) of a message statement's PAE bytes (≈ 300 bytes,
 *                       a statement like the sessions'), nothing around it: every session message
 *                       is signed by its sender and verified by its receiver (the charter), one
 *                       of each per message sealed / opened (rpc/channel.ts);
 *   bfvEncode           BatchEncoder.encode of N slot values like media's (random 0/1) into a
 *                       reused plaintext: how values enter a BFV plaintext, one per ciphertext
 *                       media encrypts (counted beside each bfvEncrypt of its wire form);
 *   bfvDecode           BatchEncoder.decodeBigInt64 of a decrypted plaintext (what media reads
 *                       a profile or masked sum with: its N slots);
 *   bfvNoiseBudget      Decryptor.invariantNoiseBudget of a last-level ciphertext: media checks
 *                       every broker ciphertext it decrypts (past its budget it would decrypt
 *                       to garbage, undetected); bfvDecrypt too is timed at the last level,
 *                       the level of every ciphertext media decrypts (a profile, a masked sum);
 *   psiLookup           one membership test of a 32-byte element in a DH-PSI element table
 *                       (crypto/dh-psi.ts ElementTable.has, 10,000 random elements, probed
 *                       with random elements): media's LOOKALIKE in retargeting / joint-
 *                       activate must test the answer of each of its offered elements against
 *                       the broker's set — ≈ 0.87·U tests in retargeting, its inherent work
 *                       beside the X25519s of the broker's set (decoding the pages,
 *                       validating the elements and the transcripts are above it).
 * Everything else a phase does (encoding other than the bfvEncode / bfvDecode above, (de)serialisation, zstd, validation, hashing payloads for their signatures,
 * transcripts, protobuf, database, waiting) is above the floor: floorRatio = phase CPU ÷ floor.
 *
 * Each cost is the fastest of `repeats` timed runs (the floor: the least the machine took),
 * by process CPU time, so other processes on a shared machine inflate it least.
 */
import { generateKeyPairSync, randomBytes, sign as edSign, verify as edVerify } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readvSync, rmSync, writeSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToGroupBatch, oprfDst } from '@cleanroom/shared/crypto/h2c.ts';
import { sodium } from '@cleanroom/shared/crypto/group.ts';
import { BFV_PARAMETERS, loadSeal, MediaBfv, WIRE_COMPRESSION } from '@cleanroom/shared/crypto/bfv.ts';
import { PRIMITIVES, type Primitive } from '@cleanroom/shared/common/op-counts.ts';
import { PACKED_BYTES } from '@cleanroom/shared/protocol/universe.ts';
import { ElementTable } from '@cleanroom/shared/crypto/dh-psi.ts';

export type PrimitiveCosts = Record<Primitive, number>;

/** Coefficient bytes of a first-level ciphertext: 2 polynomials × 3 primes × N words of 8 bytes. */
const STORED_COEFFICIENT_BYTES = 2 * (BFV_PARAMETERS.coeffModulusBits.length - 1) * BFV_PARAMETERS.polyModulusDegree * 8;

/** ms of CPU per call of `f`, the fastest of `repeats` runs of `n` calls. */
function costMs(n: number, repeats: number, f: () => void): number {
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000 / n);
  }
  return best;
}

/** The token primitives' costs alone (ms of CPU per call, one thread): universe preparation's floor. */
export function measureTokenCosts(opts: { repeats?: number } = {}): Pick<PrimitiveCosts, 'x25519' | 'x25519Base' | 'hashToGroup'> {
  const repeats = opts.repeats ?? 3;
  const scalar = randomBytes(32);
  scalar[0]! &= 248;
  scalar[31]! &= 127;
  scalar[31]! |= 64;
  const enc = new TextEncoder();
  const inputs = Array.from({ length: 4096 }, (_, i) => enc.encode(`+8613${String(i).padStart(9, '0')}`));
  const points = hashToGroupBatch(inputs, oprfDst('phone', 'floor'));
  const out = new Uint8Array(32);
  let k = 0;
  const hashToGroup = costMs(1, repeats, () => hashToGroupBatch(inputs, oprfDst('phone', 'floor'))) / inputs.length;
  return {
    x25519: costMs(4000, repeats, () => sodium.crypto_scalarmult(out, scalar, points[k++ & 4095]!)),
    x25519Base: costMs(4000, repeats, () => sodium.crypto_scalarmult_base(out, scalar)),
    hashToGroup,
  };
}

/**
 * ms of CPU per Ed25519 signature and per verification (node:crypto, OpenSSL) of a statement's
 * PAE bytes: 300 bytes, about a session statement's (crypto/dsse.ts pae of its canonical JSON).
 */
export function measureSignatureCosts(opts: { repeats?: number } = {}): Pick<PrimitiveCosts, 'ed25519Sign' | 'ed25519Verify'> {
  const repeats = opts.repeats ?? 3;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const msg = randomBytes(300);
  const sig = edSign(null, msg, privateKey);
  if (!edVerify(null, msg, publicKey, sig)) throw new Error('floors: an Ed25519 signature did not verify');
  return {
    ed25519Sign: costMs(500, repeats, () => edSign(null, msg, privateKey)),
    ed25519Verify: costMs(500, repeats, () => edVerify(null, msg, publicKey, sig)),
  };
}

/**
 * ms of CPU to score one user for a look-alike (the `lookalikeScore` kernel): 2^18 random
 * packed vectors, each user's 8 bytes looked up in a PACKED_BYTES × 256 table and summed,
 * four users side by side (four independent chains of additions, which the CPU overlaps — as
 * protocol/lookalike.ts's scan sums them; one user at a time, one chain, measured ≈ 2× slower
 * and was the floor until the scan was measured below it), each sum compared with the best so
 * far so the loop cannot be dropped. Warmed by the repeats (the fastest run).
 */
export function measureScoreCost(opts: { repeats?: number } = {}): number {
  const users = 1 << 18;
  const packed = new Uint8Array(randomBytes(users * PACKED_BYTES));
  const t = Float64Array.from({ length: PACKED_BYTES * 256 }, (_, i) => Math.sin(i));
  if (PACKED_BYTES !== 8) throw new Error(`floors: the scoring kernel expects 8 packed bytes per user, got ${PACKED_BYTES}`);
  let best = 0;
  const cost = costMs(1, Math.max(5, opts.repeats ?? 3), () => {
    for (let o = 0; o < users * 8; o += 32) {
      let s0 = 0.5 + t[packed[o]!]!;
      let s1 = 0.5 + t[packed[o + 8]!]!;
      let s2 = 0.5 + t[packed[o + 16]!]!;
      let s3 = 0.5 + t[packed[o + 24]!]!;
      for (let b = 1, tb = 256; b < 8; b++, tb += 256) {
        s0 += t[tb + packed[o + b]!]!;
        s1 += t[tb + packed[o + 8 + b]!]!;
        s2 += t[tb + packed[o + 16 + b]!]!;
        s3 += t[tb + packed[o + 24 + b]!]!;
      }
      if (s0 > best) best = s0;
      if (s1 > best) best = s1;
      if (s2 > best) best = s2;
      if (s3 > best) best = s3;
    }
  }) / users;
  if (!Number.isFinite(best)) throw new Error('floors: the scoring kernel produced no score');
  return cost;
}

/**
 * ms of CPU of one `psiLookup`: 2^16 random 32-byte elements tested against an ElementTable of
 * 10,000 random elements (the table media builds from the broker's set), hits counted so the
 * loop cannot be dropped. Warmed by the repeats (the fastest run).
 */
export function measureLookupCost(opts: { repeats?: number } = {}): number {
  const probes = 1 << 16;
  const table = new ElementTable(Array.from({ length: 10_000 }, () => new Uint8Array(randomBytes(32))));
  const probe = new Uint8Array(randomBytes(probes * 32));
  let hits = 0;
  const cost = costMs(1, Math.max(5, opts.repeats ?? 3), () => {
    for (let i = 0; i < probes; i++) if (table.has(probe, i * 32)) hits++;
  }) / probes;
  if (hits < 0) throw new Error('floors: the lookup kernel counted no probes');
  return cost;
}

/**
 * A SEAL context on media's BFV parameters for `attributeCount` attributes, with a fresh key
 * pair: the set-up of the BFV floors and of the bench scripts that time SEAL directly. The
 * caller deletes the handles.
 */
export async function sealKeys(attributeCount: number) {
  const seal = await loadSeal();
  const media = await MediaBfv.create(attributeCount);
  const parms = new seal.EncryptionParameters(seal.SchemeType.bfv);
  parms.loadFromArray(media.publicMaterial().params);
  media.dispose();
  const context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
  const keygen = new seal.KeyGenerator(context);
  return { seal, parms, context, keygen, sk: keygen.secretKey(), pk: keygen.createPublicKey() };
}

/** Measures every primitive's cost (ms of CPU per call, one thread). Takes a few seconds. */
export async function measurePrimitiveCosts(opts: { repeats?: number } = {}): Promise<PrimitiveCosts> {
  const repeats = opts.repeats ?? 3;
  const costs = { ...measureTokenCosts(opts), ...measureSignatureCosts(opts), lookalikeScore: measureScoreCost(opts), psiLookup: measureLookupCost(opts) } as PrimitiveCosts;

  const { seal, parms, context, keygen, sk, pk } = await sealKeys(64);
  const galois = keygen.createGaloisKeysWithSteps(Int32Array.from([1]));
  const encryptor = new seal.Encryptor(context, pk, sk);
  const decryptor = new seal.Decryptor(context, sk);
  const evaluator = new seal.Evaluator(context);
  const encoder = new seal.BatchEncoder(context);
  const N = BFV_PARAMETERS.polyModulusDegree;
  const slots = BigInt64Array.from({ length: N }, (_, i) => BigInt(i & 1));
  const pt = new seal.Plaintext();
  encoder.encode(slots, pt);
  const ct = new seal.Ciphertext();
  encryptor.encrypt(pt, ct);
  const tmp = new seal.Ciphertext();
  const dec = new seal.Plaintext();
  const nttPt = new seal.Plaintext();
  encoder.encode(slots, nttPt);
  const first = context.firstParmsId();
  evaluator.plainTransformToNttInplace(nttPt, first);
  const nttCt = new seal.Ciphertext();
  encryptor.encrypt(pt, nttCt);
  evaluator.cipherTransformToNttInplace(nttCt);
  // What media encrypts: 0/1 slots at random (bench/publication-steps.ts, protocol/publication.ts).
  const bits = randomBytes(N);
  const dataPt = new seal.Plaintext();
  const dataSlots = BigInt64Array.from(bits, (b) => BigInt(b & 1));
  encoder.encode(dataSlots, dataPt);
  const encodePt = new seal.Plaintext();
  const lastCt = new seal.Ciphertext();
  const last = context.lastParmsId();
  const seeded = encryptor.encryptSymmetricSerializable(dataPt);
  const wire = seeded.saveToArray(seal.ComprModeType[WIRE_COMPRESSION]) as Uint8Array;
  seeded.delete();
  const loaded = new seal.Ciphertext();
  const selPt = new seal.Plaintext();
  const selNtt = new seal.Plaintext();
  try {
    costs.bfvEncrypt = costMs(10, repeats, () => encryptor.encryptSymmetricSerializable(dataPt).delete());
    costs.bfvEncryptZero = costMs(10, repeats, () => encryptor.encryptZero(tmp));
    // At the last level (a profile or masked sum, as media decrypts them), from data-like slots.
    encryptor.encrypt(dataPt, lastCt);
    evaluator.cipherModSwitchToInplace(lastCt, last);
    costs.bfvDecrypt = costMs(10, repeats, () => decryptor.decrypt(lastCt, dec));
    costs.bfvNoiseBudget = costMs(10, repeats, () => decryptor.invariantNoiseBudget(lastCt));
    costs.bfvDecode = costMs(20, repeats, () => encoder.decodeBigInt64(dec));
    costs.bfvEncode = costMs(20, repeats, () => encoder.encode(dataSlots, encodePt));
    // In place, repeatedly on the same ciphertext: the cost does not depend on the values.
    costs.bfvMultiplyPlain = costMs(50, repeats, () => evaluator.multiplyPlainInplace(nttCt, nttPt));
    costs.bfvAdd = costMs(50, repeats, () => evaluator.addInplace(tmp, ct));
    costs.bfvRotate = costMs(10, repeats, () => evaluator.rotateRows(ct, 1, galois, tmp));
    // A forward and an inverse transform per call: half of it is one NTT.
    costs.bfvNtt = costMs(20, repeats, () => {
      evaluator.cipherTransformToNttInplace(tmp);
      evaluator.cipherTransformFromNttInplace(tmp);
    }) / 2;
    costs.bfvLoad = costMs(20, repeats, () => loaded.loadFromArray(context, wire));
    const selection = new BigInt64Array(N);
    for (let i = 0; i < 11; i++) selection[(i * 7919) % N] = 1n;
    encoder.encode(selection, selPt);
    costs.bfvPlainNtt = costMs(50, repeats, () => evaluator.plainTransformToNtt(selPt, first, selNtt));
    evaluator.cipherTransformToNttInplace(loaded);
    const stored = loaded.saveToArray(seal.ComprModeType.none) as Uint8Array;
    costs.bfvReadStored = storedReadCost(stored, repeats);
    costs.bfvWriteStored = storedWriteCost(stored, repeats);
  } finally {
    for (const h of [selNtt, selPt, last, lastCt, encodePt, loaded, dataPt, nttCt, first, nttPt, dec, tmp, ct, pt, encoder, evaluator, decryptor, encryptor, galois, pk, sk, keygen, context, parms]) h.delete();
  }
  for (const p of PRIMITIVES) if (!Number.isFinite(costs[p])) throw new Error(`floors: no cost measured for ${p}`);
  return costs;
}

/** Bytes of the file storedReadCost cycles over: 4× a 32 MiB last-level cache, so that no read finds its source in a CPU cache. */
const STORED_READ_FILE_BYTES = 128 * 1024 * 1024;

/** ms of CPU per positioned read of one stored ciphertext (`stored`: its bytes) from a file of STORED_READ_FILE_BYTES of copies, in the page cache. */
function storedReadCost(stored: Uint8Array, repeats: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'floors-'));
  try {
    const copies = Math.ceil(STORED_READ_FILE_BYTES / stored.length);
    const file = join(dir, 'ciphertexts.bin');
    const fd = openSync(file, 'w+');
    try {
      for (let i = 0; i < copies; i++) writeSync(fd, stored, 0, stored.length, i * stored.length);
      const head = new Uint8Array(stored.length - STORED_COEFFICIENT_BYTES);
      const rest = new Uint8Array(STORED_COEFFICIENT_BYTES);
      for (let i = 0; i < copies; i++) readvSync(fd, [head, rest], i * stored.length); // into the page cache
      let i = 0;
      return costMs(copies, repeats, () => {
        readvSync(fd, [head, rest], (i++ % copies) * stored.length);
      });
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * ms of CPU per vectored write of one stored ciphertext (`stored`: its bytes, as SEAL's header
 * and the coefficients, the two parts CiphertextFileWriter.appendParts writes) appended to a
 * fresh file: the fastest of `repeats` files of 64.
 */
function storedWriteCost(stored: Uint8Array, repeats: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'floors-'));
  try {
    const head = stored.subarray(0, stored.length - STORED_COEFFICIENT_BYTES);
    const rest = stored.subarray(stored.length - STORED_COEFFICIENT_BYTES);
    const copies = 64;
    let best = Infinity;
    for (let r = 0; r < repeats; r++) {
      const fd = openSync(join(dir, `ciphertexts-${r}.bin`), 'w');
      try {
        const c0 = process.cpuUsage();
        for (let i = 0; i < copies; i++) writevSync(fd, [head, rest]);
        const c = process.cpuUsage(c0);
        best = Math.min(best, (c.user + c.system) / 1000 / copies);
      } finally {
        closeSync(fd);
      }
      rmSync(join(dir, `ciphertexts-${r}.bin`));
    }
    return best;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A phase's floor in ms of CPU: Σ count × cost over the primitives it counted. */
export function floorMs(ops: Partial<Record<Primitive, number>> | undefined, costs: PrimitiveCosts): number {
  let total = 0;
  for (const [k, n] of Object.entries(ops ?? {}) as [Primitive, number][]) total += n * costs[k];
  return total;
}

/** measured ÷ floor, 2 decimals; null when the phase uses no counted primitive (no floor to compare with). */
export function ratio(measuredMs: number, floor: number): number | null {
  return floor > 0 ? Math.round((measuredMs / floor) * 100) / 100 : null;
}

/** The primitives every session message costs its sender and receiver, whatever the phase. */
const MESSAGE_PRIMITIVES: readonly Primitive[] = ['ed25519Sign', 'ed25519Verify'];

/**
 * A phase's floorRatio: its CPU ÷ its floor (message signatures included), or null for a
 * message-only phase — one whose only counted primitives are its messages' signatures
 * (opening a session, relaying a result): its work is the protocol's bookkeeping (database,
 * ledger, transcripts), which no primitive bounds, so a ratio to ≈ 0.1 ms of signatures would
 * say nothing about how close the phase's computation is to its floor.
 */
export function phaseRatio(cpuMs: number, ops: Partial<Record<Primitive, number>> | undefined, costs: PrimitiveCosts): number | null {
  const computes = Object.entries(ops ?? {}).some(([k, n]) => n > 0 && !MESSAGE_PRIMITIVES.includes(k as Primitive));
  return computes ? ratio(cpuMs, floorMs(ops, costs)) : null;
}
