import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerBfv } from '../shared/src/crypto/bfv.ts';
import { CiphertextFile } from '../shared/src/service/ciphertext-file.ts';
const dir = process.argv[2]!; const n = 200;
const material = { params: readFileSync(join(dir, 'bfv-params.bin')), publicKey: readFileSync(join(dir, 'bfv-public-key.bin')), galoisKeys: readFileSync(join(dir, 'bfv-galois-keys.bin')) };
const bfv = await BrokerBfv.fromPublicMaterial(material, 64);
const f = new CiphertextFile(dir);
const cts: Uint8Array[] = []; for (let i = 0; i < n; i++) cts.push(f.get(i));
const ctx = (bfv as any).ctx;
const ct = new ctx.seal.Ciphertext();
const cpu = (fn: () => void) => { const c0 = process.cpuUsage(); fn(); const c = process.cpuUsage(c0); return ((c.user + c.system) / 1000 / n).toFixed(3); };
for (let r = 0; r < 3; r++) {
  const same = cpu(() => { for (let i = 0; i < n; i++) ct.loadFromArray(ctx.context, cts[0]); });
  const distinct = cpu(() => { for (let i = 0; i < n; i++) ct.loadFromArray(ctx.context, cts[i]); });
  const loadNtt = cpu(() => { for (let i = 0; i < n; i++) { ct.loadFromArray(ctx.context, cts[i]); ctx.evaluator.cipherTransformToNttInplace(ct); } });
  const nttPair = cpu(() => { for (let i = 0; i < n; i++) { ctx.evaluator.cipherTransformFromNttInplace(ct); ctx.evaluator.cipherTransformToNttInplace(ct); } });
  const parts = cpu(() => { for (let i = 0; i < n; i++) bfv.storedFormParts(cts[i]!); });
  console.log({ same, distinct, loadNtt, nttPairHalf: (Number(nttPair) / 2).toFixed(3), parts });
}
