/**
 * Generate the development PKI (one CA per organisation, one TLS certificate per node, Ed25519
 * transcript keys and the trust bundle) — see shared/src/common/pki.ts for why and what.
 *
 *   node scripts/gen-pki.ts --out <dir> [--force] [--expired <party>] [--test-certs]
 *
 * Idempotent: without --force it does nothing when the material already exists.
 * --expired <party> additionally writes <party>.expired.crt.pem/.key.pem (already expired);
 * --test-certs additionally writes the rogue-CA test material (makeTestCerts).
 */
import { parseArgs } from 'node:util';
import { generatePki, makeExpiredCert, makeTestCerts } from '../shared/src/pki/pki.ts';
import { PARTIES, type PartyName } from '../shared/src/crypto/dsse.ts';

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
      expired: { type: 'string' },
      'test-certs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log('usage: node scripts/gen-pki.ts --out <dir> [--force] [--expired <party>] [--test-certs]');
    return;
  }
  if (!values.out) throw new Error('expected --out <dir>, got none');
  if (values.expired !== undefined && !(PARTIES as readonly string[]).includes(values.expired)) {
    throw new Error(`expected --expired one of ${PARTIES.join('|')}, got ${JSON.stringify(values.expired)}`);
  }
  const result = generatePki(values.out, { force: values.force });
  console.log(result.created ? `wrote development PKI to ${result.dir}` : `PKI already present in ${result.dir} (use --force to regenerate)`);
  if (values.expired !== undefined) {
    const pair = makeExpiredCert(values.out, values.expired as PartyName);
    console.log(`wrote expired certificate ${pair.cert}`);
  }
  if (values['test-certs']) {
    const t = makeTestCerts(values.out);
    console.log(`wrote test certificates ${t.expired.cert}, ${t.rogueCa.cert}, ${t.rogue.cert}`);
  }
}

try {
  main();
} catch (err) {
  console.error(`gen-pki: ${(err as Error).message}`);
  process.exitCode = 1;
}
