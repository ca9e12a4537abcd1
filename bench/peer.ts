/**
 * `make bench-peer`: this project's matching against OpenMined's `@openmined/psi.js` (ECDH-PSI
 * on P-256, WASM) on equal sets, in the same process, one thread each, one after the other.
 *
 * Sets: a server set of S phone numbers (media's universe) and a client set of C (the
 * advertiser's seeds), half of which are in the server set; both sides must find the same
 * intersection size (checked).
 *
 * psi.js: server.createSetupMessage (its set, as a Golomb-compressed filter at false-positive
 * rate FPR), client.createRequest, server.processRequest, client.getIntersectionSize.
 * This project: media's per-epoch tokens of the server set (hash to group, X25519, finalize),
 * then the session path — the client hashes to group and blinds, media evaluates, the client
 * unblinds and finalizes, and the tokens are looked up in the server's token table (what the
 * broker does). No network, signing or transcripts on either side: the matching itself.
 * Bytes: psi.js's three serialized messages; this project's 32-byte blinded and evaluated
 * elements and 16-byte tokens per client element plus the 16-byte token table of the server
 * set (sent to the broker once per epoch, so shown both with and without it).
 *
 *   node bench/peer.ts --psi DIR [--server 200000] [--client 50000]
 * DIR holds node_modules/@openmined/psi.js (installed by `make bench-peer` with
 * --ignore-scripts, outside the project's dependencies).
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { hashToGroupBatch, oprfDst } from '@cleanroom/shared/crypto/h2c.ts';
import { OprfKey, blindBatch, finalize, unblindBatch } from '@cleanroom/shared/crypto/oprf.ts';
import { computeTokens } from '@cleanroom/shared/crypto/oprf-tokens.ts';
import { TokenTable } from '@cleanroom/shared/common/token-set.ts';
import { intFlag, parseArgs, strFlag } from '../cli/src/args.ts';

const FPR = 1e-9;
const p = parseArgs(process.argv.slice(2), { psi: 'string', server: 'string', client: 'string' });
const S = intFlag(p, 'server', 200_000, 1000, 10_000_000);
const C = intFlag(p, 'client', 50_000, 100, 10_000_000);
const psiDir = resolve(strFlag(p, 'psi', 'out/peer-psi'));
const require = createRequire(join(psiDir, 'package.json'));
const PSI = require('@openmined/psi.js') as () => Promise<any>;

const phone = (i: number) => `+86138${String(i).padStart(8, '0')}`;
const server = Array.from({ length: S }, (_, i) => phone(i));
// half of the client's IDs are server IDs, half are not
const client = Array.from({ length: C }, (_, i) => (i % 2 === 0 ? phone((i * 7919) % S) : phone(S + i)));
const expected = new Set(client.filter((x, i) => i % 2 === 0)).size;

function cpuMs<T>(f: () => T): { value: T; ms: number } {
  const c0 = process.cpuUsage();
  const value = f();
  const c = process.cpuUsage(c0);
  return { value, ms: (c.user + c.system) / 1000 };
}

// psi.js
const psi = await PSI();
const ps = psi.server.createWithNewKey(false);
const pc = psi.client.createWithNewKey(false);
const setup = cpuMs(() => ps.createSetupMessage(FPR, C, server, psi.dataStructure.GCS));
const request = cpuMs(() => pc.createRequest(client));
const response = cpuMs(() => ps.processRequest(request.value));
const inter = cpuMs(() => pc.getIntersectionSize(setup.value, response.value));
const psiBytes = { setup: setup.value.serializeBinary().length, request: request.value.serializeBinary().length, response: response.value.serializeBinary().length };
const psiMs = { serverSetup: setup.ms, clientRequest: request.ms, serverProcess: response.ms, clientIntersect: inter.ms };
const psiTotal = Object.values(psiMs).reduce((a, b) => a + b, 0);
for (const x of [setup.value, request.value, response.value]) x.delete?.();
ps.delete?.();
pc.delete?.();

// this project
const enc = new TextEncoder();
const dst = oprfDst('phone', 'peer-bench');
const key = OprfKey.generate();
const serverBytes = server.map((x) => enc.encode(x));
const clientBytes = client.map((x) => enc.encode(x));
const tokens = cpuMs(() => computeTokens(key, serverBytes, dst));
const table = cpuMs(() => TokenTable.fromPacked(tokens.value));
const blinded = cpuMs(() => blindBatch(hashToGroupBatch(clientBytes, dst)));
const evaluated = cpuMs(() => key.evaluateBatch(blinded.value.map((b) => b.blinded)));
const clientTokens = cpuMs(() => unblindBatch(blinded.value.map((b) => b.inverse), evaluated.value).map((u, i) => finalize(clientBytes[i]!, u)));
const matched = cpuMs(() => clientTokens.value.reduce((n, t) => n + (table.value.has(t) ? 1 : 0), 0));
const oursMs = { serverTokens: tokens.ms + table.ms, clientBlind: blinded.ms, serverEvaluate: evaluated.ms, clientUnblindFinalize: clientTokens.ms, match: matched.ms };
const oursTotal = Object.values(oursMs).reduce((a, b) => a + b, 0);
const oursOnline = oursTotal - oursMs.serverTokens;
const oursBytes = { blinded: C * 32, evaluated: C * 32, tokens: C * 16, serverTable: S * 16 };
const oursSession = oursBytes.blinded + oursBytes.evaluated + oursBytes.tokens;
const psiTotalBytes = psiBytes.setup + psiBytes.request + psiBytes.response;

if (inter.value !== expected || matched.value !== expected) throw new Error(`expected ${expected} common IDs, psi.js found ${inter.value}, this project ${matched.value}`);
const round = (x: number, d = 2) => Number(x.toFixed(d));
const out = {
  date: new Date().toISOString(), server: S, client: C, intersection: expected, psiJs: { version: '2.0.6', curve: 'P-256', dataStructure: 'GCS', fpr: FPR },
  cpuMs: { psiJs: { ...Object.fromEntries(Object.entries(psiMs).map(([k, v]) => [k, Math.round(v)])), total: Math.round(psiTotal) }, project: { ...Object.fromEntries(Object.entries(oursMs).map(([k, v]) => [k, Math.round(v)])), total: Math.round(oursTotal) } },
  bytes: { psiJs: { ...psiBytes, total: psiTotalBytes, perClientElement: round((psiBytes.request + psiBytes.response) / C, 1), serverSetupPerItem: round(psiBytes.setup / S, 2) }, project: { ...oursBytes, sessionTotal: oursSession, withTable: oursSession + oursBytes.serverTable, perClientElement: 80 } },
  ratios: {
    timePsiOverProject: round(psiTotal / oursTotal),
    timePsiOverProjectOnline: round(psiTotal / oursOnline),
    bytesProjectOverPsi: round((oursSession + oursBytes.serverTable) / psiTotalBytes),
    bytesProjectOverPsiSessionOnly: round(oursSession / psiTotalBytes),
  },
};
writeFileSync('bench/peer-results.json', `${JSON.stringify(out, null, 2)}\n`);
const say = (s: string) => process.stdout.write(`${s}\n`);
say(`equal sets: server ${S.toLocaleString('en')}, client ${C.toLocaleString('en')}, ${expected.toLocaleString('en')} in common (both found it); one thread, CPU time`);
say(`psi.js 2.0.6 (P-256, GCS fpr ${FPR}): ${Math.round(psiTotal)} ms  ${JSON.stringify(out.cpuMs.psiJs)}; ${psiTotalBytes.toLocaleString('en')} bytes ${JSON.stringify(psiBytes)}`);
say(`this project (X25519 OPRF, 16-byte tokens): ${Math.round(oursTotal)} ms  ${JSON.stringify(out.cpuMs.project)}; ${oursSession.toLocaleString('en')} bytes per session + ${oursBytes.serverTable.toLocaleString('en')} per epoch (token table)`);
say(`time: psi.js takes ${out.ratios.timePsiOverProject}× this project's (${out.ratios.timePsiOverProjectOnline}× its per-session part); bytes: this project sends ${out.ratios.bytesProjectOverPsi}× psi.js's with the per-epoch table, ${out.ratios.bytesProjectOverPsiSessionOnly}× without`);
say('figures written to bench/peer-results.json');
