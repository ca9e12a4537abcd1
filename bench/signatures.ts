// CPU per Ed25519 signature and verification of a message statement (one thread): the
// project's SigningKey.sign / verifySignature (crypto/dsse.ts, node:crypto's OpenSSL Ed25519
// after @noble/curves' strict key checks, cached per key) beside @noble/curves' pure-JS
// sign / strict verify, which dsse.ts used before. Every message a node sends is signed and
// every message it receives is verified: at 1,000,000 users the broker's universe sync opens
// ≈ 880 envelopes (758 ciphertext chunks of ≈ 2 MB, token and label pages).
// Run: nice -n 10 node bench/signatures.ts [calls=500]
import { ed25519 } from '@noble/curves/ed25519.js';
import { STATEMENT_TYPE, SigningKey, pae, verifySignature } from '../shared/src/crypto/dsse.ts';

const calls = Number(process.argv[2] ?? 500);
if (!Number.isInteger(calls) || calls < 1) throw new RangeError(`expected a positive call count, got ${process.argv[2]}`);
const seed = new Uint8Array(32).fill(7);
const key = SigningKey.fromSeed(seed);
const body = new TextEncoder().encode(JSON.stringify({ round: 'UNIVERSE', payloadSha256: 'ab'.repeat(32), payloadSize: 2_000_000, seq: 17 }));
const { sig } = key.sign(STATEMENT_TYPE, body);
if (!verifySignature(key.publicKey, STATEMENT_TYPE, body, sig)) throw new Error('signatures: the project\'s signature does not verify');

/** ms of CPU per call, the fastest of 3 runs of `n` calls. */
function cost(n: number, f: () => unknown): number {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000 / n);
  }
  return best;
}
const msg = pae(STATEMENT_TYPE, body);
const rows: [string, number][] = [
  ['sign    (dsse: node:crypto)', cost(calls, () => key.sign(STATEMENT_TYPE, body))],
  ['sign    (@noble/curves)', cost(Math.ceil(calls / 10), () => ed25519.sign(msg, seed))],
  ['verify  (dsse: node:crypto)', cost(calls, () => verifySignature(key.publicKey, STATEMENT_TYPE, body, sig))],
  ['verify  (@noble/curves, strict)', cost(Math.ceil(calls / 10), () => ed25519.verify(sig, msg, key.publicKey, { zip215: false }))],
];
for (const [what, ms] of rows) console.log(`${what.padEnd(34)} ${ms.toFixed(3)} ms CPU per call`);
