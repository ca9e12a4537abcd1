/**
 * `make bench-peer`: this project's matching against OpenMined's `@openmined/psi.js` (ECDH-PSI
 * on P-256, WASM, single-threaded) on equal sets, in the same process, one after the other.
 *
 * Sets: a server set of S phone numbers (media's universe) and a client set of C (the
 * advertiser's seeds), half of which are in the server set; every run must find the same
 * intersection size (checked).
 *
 * psi.js: server.createSetupMessage (its set, as a Golomb-compressed filter at false-positive
 * rate FPR), client.createRequest, server.processRequest, client.getIntersectionSize.
 * This project: media's per-epoch tokens of the server set (hash to group, X25519, finalize),
 * then the session path — the client hashes to group and blinds, media evaluates, the client
 * unblinds and finalizes, and the tokens are looked up in the server's token table (what the
 * broker does). No network, signing or transcripts on either side: the matching itself.
 * Runs of this project's path:
 *   - one thread: everything on the main thread; CPU time, comparable with psi.js's CPU;
 *   - media's way: media's work on its worker pools with THREADS (2) threads, as the node runs
 *     it — the universe's tokens on a TokenPool (crypto/oprf-tokens.ts, prepareToDisk's pool),
 *     the session's evaluation by evaluateBatchParallel (crypto/oprf-pool.ts; workers started
 *     before, as media's main does at boot); the client's steps stay on one thread. Wall time,
 *     compared with psi.js's wall time in the same run (psi.js cannot use a second thread).
 * Floor: the X25519 and hash-to-group calls the one-thread run made (common/op-counts.ts)
 * times their costs measured in this run (bench/floors.ts measureTokenCosts): the least any
 * implementation of this protocol with these primitives can take, so psi.js's time over the
 * floor bounds the time ratio reachable at all.
 * Bytes: psi.js's three serialized messages; this project's 32-byte blinded and evaluated
 * elements and TOKEN_BYTES (12-byte) tokens per client element, plus the token table of the
 * server set (TOKEN_BYTES per item, sent to the broker once per epoch; the 4-byte positions
 * beside it serve the BFV part, not matching), shown with and without it.
 *
 *   node bench/peer.ts --psi DIR [--server 50000] [--client 12500] [--threads 2]
 * DIR holds node_modules/@openmined/psi.js (installed by `make bench-peer` with
 * --ignore-scripts, outside the project's dependencies).
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { hashToGroupBatch, oprfDst } from '@cleanroom/shared/crypto/h2c.ts';
import { OprfKey, blindBatch, finalize, unblindBatch } from '@cleanroom/shared/crypto/oprf.ts';
import { computeTokens, TokenPool } from '@cleanroom/shared/crypto/oprf-tokens.ts';
import { closeOprfWorkers, evaluateBatchParallel, prepareOprfWorkers } from '@cleanroom/shared/crypto/oprf-pool.ts';
import { TOKEN_BYTES, TokenTable } from '@cleanroom/shared/common/token-set.ts';
import { primitiveDelta, primitiveSnapshot } from '@cleanroom/shared/common/op-counts.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';
import { floorMs, measureTokenCosts, type PrimitiveCosts } from './floors.ts';

const FPR = 1e-9;
const p = parseArgs(process.argv.slice(2), { psi: 'string', server: 'string', client: 'string', threads: 'string' });
const S = intFlag(p, 'server', 50_000, 1000, 10_000_000);
const C = intFlag(p, 'client', 12_500, 100, 10_000_000);
// psi.js 2.0.6's GCS hash range is about S·C/FPR and must fit an int64: at 200,000 × 50,000 and
// FPR 1e-9 (10^19 > 2^63) getIntersectionSize fails with "Assertion failed" after minutes of work.
if ((S * C) / FPR >= 2 ** 63) throw new RangeError(`expected server × client / ${FPR} below 2^63 (psi.js's GCS hash range), got ${S} × ${C}`);
const THREADS = intFlag(p, 'threads', 2, 1, 64);
const psiDir = resolve(strFlag(p, 'psi', 'out/peer-psi'));
const require = createRequire(join(psiDir, 'package.json'));
const PSI = require('@openmined/psi.js') as () => Promise<any>;

const phone = (i: number) => `+86138${String(i).padStart(8, '0')}`;
const server = Array.from({ length: S }, (_, i) => phone(i));
// half of the client's IDs are server IDs, half are not
const client = Array.from({ length: C }, (_, i) => (i % 2 === 0 ? phone((i * 7919) % S) : phone(S + i)));
const expected = new Set(client.filter((x, i) => i % 2 === 0)).size;

/** CPU (all threads of the process) and wall time of one step, in ms. */
interface Timed<T> { value: T; ms: number; wallMs: number }
function timed<T>(f: () => T): Timed<T> {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const value = f();
  const wallMs = performance.now() - w0;
  const c = process.cpuUsage(c0);
  return { value, ms: (c.user + c.system) / 1000, wallMs };
}
async function timedAsync<T>(f: () => Promise<T>): Promise<Timed<T>> {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const value = await f();
  const wallMs = performance.now() - w0;
  const c = process.cpuUsage(c0);
  return { value, ms: (c.user + c.system) / 1000, wallMs };
}
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const rounded = (o: Record<string, number>) => ({ ...Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)])), total: Math.round(sum(Object.values(o))) });

// psi.js (single-threaded WASM)
const psi = await PSI();
const ps = psi.server.createWithNewKey(false);
const pc = psi.client.createWithNewKey(false);
const setup = timed(() => ps.createSetupMessage(FPR, C, server, psi.dataStructure.GCS));
const request = timed(() => pc.createRequest(client));
const response = timed(() => ps.processRequest(request.value));
const inter = timed(() => pc.getIntersectionSize(setup.value, response.value));
const psiBytes = { setup: setup.value.serializeBinary().length, request: request.value.serializeBinary().length, response: response.value.serializeBinary().length };
const psiSteps = { serverSetup: setup, clientRequest: request, serverProcess: response, clientIntersect: inter };
const psiMs = Object.fromEntries(Object.entries(psiSteps).map(([k, t]) => [k, t.ms]));
const psiWall = Object.fromEntries(Object.entries(psiSteps).map(([k, t]) => [k, t.wallMs]));
const psiTotal = sum(Object.values(psiMs));
const psiWallTotal = sum(Object.values(psiWall));
for (const x of [setup.value, request.value, response.value]) x.delete?.();
ps.delete?.();
pc.delete?.();

// this project, one thread
const enc = new TextEncoder();
const dst = oprfDst('phone', 'peer-bench');
const key = OprfKey.generate();
const serverBytes = server.map((x) => enc.encode(x));
const clientBytes = client.map((x) => enc.encode(x));
// primitive calls per side: media's (universe tokens, evaluation) and the client's (blind, unblind)
const ops0 = primitiveSnapshot();
const tokens = timed(() => computeTokens(key, serverBytes, dst));
const table = timed(() => TokenTable.fromPacked(tokens.value));
const ops1 = primitiveSnapshot();
const blinded = timed(() => blindBatch(hashToGroupBatch(clientBytes, dst)));
const ops2 = primitiveSnapshot();
const evaluated = timed(() => key.evaluateBatch(blinded.value.map((b) => b.blinded)));
const ops3 = primitiveSnapshot();
const clientTokens = timed(() => unblindBatch(blinded.value.map((b) => b.inverse), evaluated.value).map((u, i) => finalize(clientBytes[i]!, u)));
const matched = timed(() => clientTokens.value.reduce((n, t) => n + (table.value.has(t) ? 1 : 0), 0));
const primitives = primitiveDelta(ops0);
const mediaPrims = [primitiveDelta(ops0), primitiveDelta(ops1), primitiveDelta(ops2), primitiveDelta(ops3)];
const oursMs = { serverTokens: tokens.ms + table.ms, clientBlind: blinded.ms, serverEvaluate: evaluated.ms, clientUnblindFinalize: clientTokens.ms, match: matched.ms };
const oursTotal = sum(Object.values(oursMs));
const oursOnline = oursTotal - oursMs.serverTokens;

// this project, media's way: media's work on its worker pools (THREADS), the client on one thread
await prepareOprfWorkers(THREADS);
const pool = new TokenPool(key, THREADS);
await pool.compute(serverBytes.slice(0, THREADS), dst); // workers up, as in a running preparation
const pTokens = await timedAsync(() => pool.compute(serverBytes, dst));
await pool.close();
const pTable = timed(() => TokenTable.fromPacked(pTokens.value.tokens));
const pBlinded = timed(() => blindBatch(hashToGroupBatch(clientBytes, dst)));
const pEvaluated = await timedAsync(() => evaluateBatchParallel(key, pBlinded.value.map((b) => b.blinded), THREADS));
const pClientTokens = timed(() => unblindBatch(pBlinded.value.map((b) => b.inverse), pEvaluated.value).map((u, i) => finalize(clientBytes[i]!, u)));
const pMatched = timed(() => pClientTokens.value.reduce((n, t) => n + (pTable.value.has(t) ? 1 : 0), 0));
await closeOprfWorkers();
const poolSteps = { serverTokens: [pTokens, pTable], clientBlind: [pBlinded], serverEvaluate: [pEvaluated], clientUnblindFinalize: [pClientTokens], match: [pMatched] };
const poolWall = Object.fromEntries(Object.entries(poolSteps).map(([k, ts]) => [k, sum(ts.map((t) => t.wallMs))]));
const poolCpu = Object.fromEntries(Object.entries(poolSteps).map(([k, ts]) => [k, sum(ts.map((t) => t.ms))]));
const poolWallTotal = sum(Object.values(poolWall));

// the floor of this project's path: its primitive calls × their costs, measured now
const costs = measureTokenCosts();
const floor = floorMs(primitives, costs as PrimitiveCosts);
const f = (o: Partial<Record<string, number>>) => floorMs(o as Parameters<typeof floorMs>[0], costs as PrimitiveCosts);
// media's part: universe tokens (ops0→ops1) and evaluation (ops2→ops3); the rest is the client's
const mediaFloor = f(mediaPrims[0]!) - f(mediaPrims[1]!) + f(mediaPrims[2]!) - f(mediaPrims[3]!);
const clientFloor = floor - mediaFloor;
// with media's part on THREADS threads, the least wall an idle machine can give
const poolFloorWall = clientFloor + mediaFloor / THREADS;

const oursBytes = { blinded: C * 32, evaluated: C * 32, tokens: C * TOKEN_BYTES, serverTable: S * TOKEN_BYTES };
const oursSession = oursBytes.blinded + oursBytes.evaluated + oursBytes.tokens;
const psiTotalBytes = psiBytes.setup + psiBytes.request + psiBytes.response;

for (const [who, n] of [['psi.js', inter.value], ['this project (one thread)', matched.value], [`this project (${THREADS} threads)`, pMatched.value]] as const) {
  if (n !== expected) throw new Error(`expected ${expected} common IDs, ${who} found ${n}`);
}
const round = (x: number, d = 2) => Number(x.toFixed(d));
const out = {
  date: new Date().toISOString(), server: S, client: C, intersection: expected, threads: THREADS, tokenBytes: TOKEN_BYTES,
  psiJs: { version: '2.0.6', curve: 'P-256', dataStructure: 'GCS', fpr: FPR, threads: 1 },
  cpuMs: { psiJs: rounded(psiMs), project: rounded(oursMs), projectMediaPool: rounded(poolCpu) },
  wallMs: { psiJs: rounded(psiWall), projectMediaPool: rounded(poolWall) },
  floor: {
    primitiveCostsMs: Object.fromEntries(Object.entries(costs).map(([k, v]) => [k, round(v, 5)])),
    primitives,
    projectFloorMs: Math.round(floor),
    mediaFloorMs: Math.round(mediaFloor),
    clientFloorMs: Math.round(clientFloor),
    mediaPoolFloorWallMs: Math.round(poolFloorWall),
    projectOverFloor: round(oursTotal / floor),
  },
  loadAverage: loadavg().map((x) => round(x, 1)),
  bytes: {
    psiJs: { ...psiBytes, total: psiTotalBytes, perClientElement: round((psiBytes.request + psiBytes.response) / C, 1), serverSetupPerItem: round(psiBytes.setup / S, 2) },
    project: { ...oursBytes, sessionTotal: oursSession, withTable: oursSession + oursBytes.serverTable, perClientElement: 64 + TOKEN_BYTES, serverTablePerItem: TOKEN_BYTES },
  },
  ratios: {
    timePsiOverProjectCpuOneThread: round(psiTotal / oursTotal),
    timePsiOverProjectCpuOneThreadOnline: round(psiTotal / oursOnline),
    timePsiOverProjectWallMediaPool: round(psiWallTotal / poolWallTotal),
    timePsiOverProjectFloor: round(psiTotal / floor),
    timePsiOverProjectFloorMediaPool: round(psiTotal / poolFloorWall),
    bytesProjectOverPsi: round((oursSession + oursBytes.serverTable) / psiTotalBytes),
    bytesProjectOverPsiSessionOnly: round(oursSession / psiTotalBytes),
  },
};
writeFileSync('bench/peer-results.json', `${JSON.stringify(out, null, 2)}\n`);
const say = (s: string) => process.stdout.write(`${s}\n`);
const n = (x: number) => Math.round(x).toLocaleString('en');
say(`equal sets: server ${n(S)}, client ${n(C)}, ${n(expected)} in common (every run found it)`);
say(`psi.js 2.0.6 (P-256, GCS fpr ${FPR}, single-threaded WASM): ${n(psiTotal)} ms CPU, ${n(psiWallTotal)} ms wall  ${JSON.stringify(out.cpuMs.psiJs)}; ${n(psiTotalBytes)} bytes ${JSON.stringify(psiBytes)}`);
say(`this project, one thread (X25519 OPRF, ${TOKEN_BYTES}-byte tokens): ${n(oursTotal)} ms CPU  ${JSON.stringify(out.cpuMs.project)}`);
say(`this project, media on its ${THREADS}-thread worker pools (universe tokens: TokenPool; evaluation: evaluateBatchParallel), client on one thread: ${n(poolWallTotal)} ms wall, ${n(sum(Object.values(poolCpu)))} ms CPU  wall ${JSON.stringify(out.wallMs.projectMediaPool)}`);
say(`floor of this project's path (its ${JSON.stringify(primitives)} × costs measured now ${JSON.stringify(out.floor.primitiveCostsMs)}): ${n(floor)} ms; this project is ${out.floor.projectOverFloor}× its floor`);
say(`time, psi.js over this project: ${out.ratios.timePsiOverProjectCpuOneThread}× (CPU, one thread each; ${out.ratios.timePsiOverProjectCpuOneThreadOnline}× per-session part) | ${out.ratios.timePsiOverProjectWallMediaPool}× (wall, media on ${THREADS} threads, psi.js on its one; load average ${out.loadAverage.join(' ')})`);
say(`reachable with these primitives (psi.js CPU ÷ this project's floor): at most ${out.ratios.timePsiOverProjectFloor}× on one thread, ${out.ratios.timePsiOverProjectFloorMediaPool}× with media's floor on ${THREADS} threads (media ${n(mediaFloor)} ms, client ${n(clientFloor)} ms)`);
say(`bytes: this project ${n(oursSession)} per session (${64 + TOKEN_BYTES} B per client element) + ${n(oursBytes.serverTable)} per epoch (token table, ${TOKEN_BYTES} B per item); ${out.ratios.bytesProjectOverPsi}× psi.js's with the per-epoch table, ${out.ratios.bytesProjectOverPsiSessionOnly}× without`);
say('figures written to bench/peer-results.json');
