import { openSync, writeSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { MediaBfv, BrokerBfv } from '../shared/src/crypto/bfv.ts';
const media = await MediaBfv.create(64);
const wires: Uint8Array[] = [];
const count = 128;
media.encryptEach(128 * count, (i, into) => { for (let j = 0; j < 64; j++) into[j] = Math.random() < 0.25 ? 1 : 0; }, (w) => wires.push(w));
const broker = await BrokerBfv.fromPublicMaterial(media.publicMaterial(), 64);
const dir = mkdtempSync('/tmp/pubsync/w-');
const scratch = new Uint8Array(400_000);
for (let round = 0; round < 3; round++) for (const mode of ['direct', 'copy', 'none']) {
  const fd = openSync(dir + '/' + mode, 'w');
  const f0 = process.resourceUsage().minorPageFault;
  const c0 = process.cpuUsage();
  for (const w of wires) {
    const s = broker.toStoredForm(w);
    if (mode === 'direct') writeSync(fd, s);
    else if (mode === 'copy') { scratch.set(s); writeSync(fd, scratch, 0, s.length); }
  }
  const c = process.cpuUsage(c0);
  closeSync(fd);
  console.log(mode.padEnd(7), 'user', (c.user / 1000 / count).toFixed(3), 'sys', (c.system / 1000 / count).toFixed(3), 'faults', ((process.resourceUsage().minorPageFault - f0) / count).toFixed(0));
}
rmSync(dir, { recursive: true });
