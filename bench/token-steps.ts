/**
 * The advertiser's token rounds step by step, in one process on one thread, for paired
 * before/after runs (issue 13): the CPU of each step of phase `blind` that is A's own (blind
 * the IDs in slices, encode and sign the BLIND batches into a transcript, open and decode the
 * evaluated batches) and of phase `tokens` (unblind and finalise in slices, the lookup's label
 * keys, encode and sign the TOKENS batches), for the look-alike role and the lookup role on the
 * same IDs, beside their floors (the X25519 and hash-to-group calls at costs measured here).
 * Media's evaluation is done here with a fresh key (it is not A's work, and not timed). Runs
 * each role `--rounds` times in turn: the first is the cold, first-session figure. `--warm`
 * runs a start-up warm-up first, as the advertiser's entry point does: none, `token` (the
 * per-ID token path alone, protocol/token-rounds.ts warmTokenPath) or `all` (the node's
 * warm-up, services/advertiser/src/warm.ts). Prints thread CPU (this thread) and process CPU
 * (all threads: V8's background compiler and GC threads too) per phase.
 *
 *   node bench/token-steps.ts [--ids 5000] [--rounds 3] [--crm out/bench/world/advertiser/crm.csv] [--warm none|token|all]
 *
 * Measures; judges nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, intFlag, strFlag } from '../cli/src/args.ts';
import { readCrm } from '@cleanroom/shared/data/files.ts';
import { OprfKey } from '@cleanroom/shared/crypto/oprf.ts';
import { AdvertiserRole } from '@cleanroom/shared/protocol/advertiser.ts';
import { LookupAdvertiserRole } from '@cleanroom/shared/protocol/lookup.ts';
import { TOKEN_SLICE, warmTokenPath } from '@cleanroom/shared/protocol/token-rounds.ts';
import { warmAdvertiserPath } from '../services/advertiser/src/warm.ts';
import type { Policy, SessionAccepted } from '@cleanroom/shared/protocol/messages.ts';
import { BATCH_BYTES, BATCH_ITEMS, BlindedBatchCodec, joinBatches, splitBatches, TokenBatchCodec } from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { TranscriptWriter } from '@cleanroom/shared/transcript/writer.ts';
import { primitiveSnapshot, primitiveDelta } from '@cleanroom/shared/common/op-counts.ts';
import { measureTokenCosts } from './floors.ts';
import { SigningKey } from '@cleanroom/shared/crypto/dsse.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';

const p = parseArgs(process.argv.slice(2), { ids: 'string', rounds: 'string', crm: 'string', warm: 'string' });
const nIds = intFlag(p, 'ids', 5000, 10);
const rounds = intFlag(p, 'rounds', 3, 1);
const crmFile = strFlag(p, 'crm', '');
const warm = strFlag(p, 'warm', 'none');
if (!['none', 'token', 'all'].includes(warm)) throw new RangeError(`--warm: expected none, token or all, got '${warm}'`);
const ids = crmFile ? (await readCrm(crmFile)).rows.filter((r) => r.consent).map((r) => r.phone).slice(0, nIds)
  : Array.from({ length: nIds }, (_, i) => `+86138${String(10_000_000 + i * 7919).slice(-8)}`);
const policy: Policy = {
  decoyRatio: 9, minCohort: 50, noiseScale: 0, sizeBuckets: [], evaluationQuota: 1e9,
  epsilonProfile: 1, epsilonCount: 0.1, epsilonDifferencing: 0.25, privacyBudget: 10, differencingMin: 1,
};
const thread = (): number => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const proc = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const dir = mkdtempSync(join(tmpdir(), 'token-steps-'));
const keys: Partial<Record<Party, SigningKey>> = { advertiser: SigningKey.generate(), broker: SigningKey.generate() };
const peerKey = (party: Party): Uint8Array => {
  const k = keys[party];
  if (!k) throw new Error(`no key for ${party}`);
  return k.publicKey;
};
const a = { party: 'advertiser' as const, key: keys.advertiser as SigningKey, peerKey };
const c = { party: 'broker' as const, key: keys.broker as SigningKey, peerKey };
const key = OprfKey.generate();
const rows: string[] = [];
const w0 = proc();
if (warm === 'token') warmTokenPath();
if (warm === 'all') warmAdvertiserPath();
process.stdout.write(`warm-up ${warm}: ${(proc() - w0).toFixed(0)} ms process CPU\n`);
try {
  for (let r = 0; r < rounds; r++) {
    for (const kind of ['lookalike', 'lookup'] as const) {
      const role = kind === 'lookup'
        ? new LookupAdvertiserRole({ idType: 'phone', ids, decoyRatio: 9, signingPublicKey: a.key.publicKey })
        : new AdvertiserRole({ idType: 'phone', seeds: ids, audienceSize: 100, decoyRatio: 9, minCohort: 50, signingPublicKey: a.key.publicKey });
      const n = kind === 'lookup' ? (role as LookupAdvertiserRole).count : (role as AdvertiserRole).seedCount;
      const accepted: SessionAccepted = { policy, paddedCount: Math.ceil(n * 10 / 1000) * 1000 + 1000, universeSizeClass: 'S', universeEpoch: 'e1', privacy: undefined };
      const sid = `steps-${kind}-${r}`;
      const chA = new SessionChannel(a, sid, TranscriptWriter.open(dir, 'advertiser', sid));
      const chC = new SessionChannel(c, sid, TranscriptWriter.open(dir, 'broker', sid));
      role.open();
      const t: Record<string, number> = {};
      const ops0 = primitiveSnapshot();
      let t0 = thread();
      let p0 = proc();
      const lap = (name: string) => {
        const t1 = thread();
        const p1 = proc();
        t[name] = (t[name] ?? 0) + (t1 - t0);
        t[`proc.${name}`] = (t[`proc.${name}`] ?? 0) + (p1 - p0);
        t0 = t1;
        p0 = p1;
      };
      role.beginBlind(accepted);
      let blinded;
      while (!(blinded = role.blindSome(TOKEN_SLICE)));
      lap('blindSlices');
      const sent = chA.sealChunks('broker', 'BLIND', BlindedBatchCodec, splitBatches(blinded, BATCH_ITEMS, BATCH_BYTES));
      lap('sealBlind');
      const blindOps = primitiveDelta(ops0);
      // the broker's side (not timed): open A's batches, media evaluates, seal the reply
      const got = joinBatches(chC.openChunks(sent, 'advertiser', ['BLIND'], BlindedBatchCodec), 'blinded');
      const evaluated = key.evaluateBatch(got);
      const reply = chC.sealChunks('advertiser', 'BLIND', BlindedBatchCodec, splitBatches(evaluated, BATCH_ITEMS, BATCH_BYTES));
      t0 = thread();
      p0 = proc();
      const ev = joinBatches(chA.openChunks(reply, 'broker', ['BLIND'], BlindedBatchCodec), 'evaluated elements');
      lap('openEvaluated');
      const ops1 = primitiveSnapshot();
      t0 = thread();
      p0 = proc();
      role.beginUnblind(ev);
      let tokens;
      while (!(tokens = role.unblindSome(TOKEN_SLICE)));
      lap('unblindSlices');
      chA.sealChunks('broker', 'TOKENS', TokenBatchCodec, splitBatches(tokens, BATCH_ITEMS, BATCH_BYTES));
      lap('sealTokens');
      const tokenOps = primitiveDelta(ops1);
      chA.close();
      chC.close();
      const costs = measureTokenCosts();
      // the token primitives only (a signature's floor is 0.03–0.07 ms: left out)
      const floor = (ops: Partial<Record<string, number>>) => (ops.x25519 ?? 0) * costs.x25519 + (ops.hashToGroup ?? 0) * costs.hashToGroup;
      const fb = floor(blindOps);
      const ft = floor(tokenOps);
      const blind = t.blindSlices! + t.sealBlind! + t.openEvaluated!;
      const tok = t.unblindSlices! + t.sealTokens!;
      const pBlind = t['proc.blindSlices']! + t['proc.sealBlind']! + t['proc.openEvaluated']!;
      const pTok = t['proc.unblindSlices']! + t['proc.sealTokens']!;
      rows.push(`${String(r).padEnd(5)} ${kind.padEnd(9)} blind ${blind.toFixed(1).padStart(7)} (slices ${t.blindSlices!.toFixed(1)}, seal ${t.sealBlind!.toFixed(1)}, open ${t.openEvaluated!.toFixed(1)}) floor ${fb.toFixed(1)} = ${(blind / fb).toFixed(2)}×  tokens ${tok.toFixed(1).padStart(6)} (slices ${t.unblindSlices!.toFixed(1)}, seal ${t.sealTokens!.toFixed(1)}) floor ${ft.toFixed(1)} = ${(tok / ft).toFixed(2)}×; process: blind ${pBlind.toFixed(1)} = ${(pBlind / fb).toFixed(2)}×, tokens ${pTok.toFixed(1)} = ${(pTok / ft).toFixed(2)}×`);
      process.stdout.write(`${rows.at(-1)}\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
