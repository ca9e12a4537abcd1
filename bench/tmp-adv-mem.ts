// scratch (not committed): the advertiser's phases over the in-memory cluster
import { lookupCluster, makeLookupWorld } from '../test/unit/world.ts';
import { warmTokenPath } from '@cleanroom/shared/protocol/token-rounds.ts';
const crmSize = Number(process.argv[2] ?? 5100);
const order = (process.argv[3] ?? 'lookalike,lookup,lookalike,lookup').split(',');
if (process.argv[4] === 'warm') warmTokenPath();
const lw = await makeLookupWorld({ crmSize, universeSize: 20_000, purchaserShare: 1 } as never);
const c = await lookupCluster(lw);
for (const k of order) {
  const { done } = k === 'lookup' ? c.advertiser.startLookup({ kind: 'lookup', ids: lw.crmPhones }) : c.advertiser.start({ audienceSize: 500, decoyRatio: 9 });
  const rec = await done;
  if (rec.status === 'failed') throw new Error(`${k}: ${rec.status} ${rec.error}`);
  const m = rec.metrics as Record<string, { cpuMs: number; mainThreadCpuMs: number; ops: Record<string, number> }>;
  const f = (p: string) => m[p] ? `${p} cpu ${m[p].cpuMs.toFixed(0)} main ${m[p].mainThreadCpuMs.toFixed(0)} x ${m[p].ops.x25519 ?? 0}` : '';
  console.log(k.padEnd(10), f('blind'), '|', f('tokens'));
}
process.exit(0);
