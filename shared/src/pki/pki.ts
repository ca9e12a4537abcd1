/**
 * Development PKI: TLS material for mTLS between the nodes, and Ed25519 transcript keys.
 *
 * Why one CA per organisation: the three nodes are run by three different organisations
 * (brand, ad platform, trusted third party). In production none of them would let another
 * issue certificates in its name, so each organisation has its own CA (`<party>-ca`, self-
 * signed, pathlen 0) that issues only its own node's certificate; every node trusts the
 * concatenation of the three CA certificates (`trust-ca.pem`) and, on top of TLS, checks that
 * the peer certificate's CN/OU names the party it expects and verifies every protocol message
 * against the Ed25519 key pinned in `trust-bundle.json`. A compromised CA can thus at most
 * impersonate its own organisation's node on the TLS layer, and still cannot sign statements.
 *
 * Files written into the output directory (names are part of the deployment contract):
 *   <party>-ca.crt.pem, <party>-ca.key.pem     organisation CA (EC P-256, 825 days)
 *   <party>.crt.pem, <party>.key.pem           node certificate: CN=<party>, O=cleanroom-<party>-org,
 *                                              OU=<party>, SAN DNS:<party>, DNS:localhost,
 *                                              IP:127.0.0.1, serverAuth+clientAuth, 825 days
 *   trust-ca.pem                               the three CA certificates
 *   <party>.signing.json                       Ed25519 transcript key (mode 0600)
 *   trust-bundle.json                          the three public transcript keys
 * Private keys are written with mode 0600.
 *
 * Guarantees: `generatePki` is idempotent (it does nothing when every file exists, unless
 * `force`); it runs the `openssl` CLI through `execFileSync` with argument arrays (no shell),
 * and throws a clear error when openssl is missing. `makeTestCerts` adds, for tests, an
 * expired node certificate issued by a genuine organisation CA and a certificate from a rogue
 * CA that no node trusts.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { PARTIES, SigningKey, makeTrustBundle, type PartyName } from '../crypto/dsse.ts';
import { saveSigningKey } from './key-files.ts';
import { canonicalize } from '../crypto/jcs.ts';

export const VALIDITY_DAYS = 825;

export interface PkiOptions {
  /** Regenerate everything even if the material exists. */
  force?: boolean;
  /** Path of the openssl binary (default: `openssl` on PATH). */
  openssl?: string;
}

export interface PkiResult {
  created: boolean;
  dir: string;
  files: string[];
}

export interface CertPair {
  cert: string; // path of the PEM certificate
  key: string; // path of the PEM private key
}

/** Every file `generatePki` produces, relative to the output directory. */
export function pkiFileNames(): string[] {
  return [
    ...PARTIES.flatMap((p) => [`${p}-ca.crt.pem`, `${p}-ca.key.pem`, `${p}.crt.pem`, `${p}.key.pem`, `${p}.signing.json`]),
    'trust-ca.pem',
    'trust-bundle.json',
  ];
}

function assertParty(p: unknown): PartyName {
  if (typeof p !== 'string' || !(PARTIES as readonly string[]).includes(p)) {
    throw new Error(`expected party one of ${PARTIES.join('|')}, got ${JSON.stringify(p)}`);
  }
  return p as PartyName;
}

function runner(bin: string): (args: string[], cwd?: string) => string {
  return (args, cwd) => {
    try {
      return execFileSync(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') throw new Error(`expected the openssl CLI at ${JSON.stringify(bin)}, got none (install openssl)`);
      throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
    }
  };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return '0x' + b.toString('hex');
}

function newKey(run: (a: string[]) => string, path: string): void {
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  chmodSync(path, 0o600);
}

function subjectOf(party: PartyName): string {
  return `/CN=${party}/O=cleanroom-${party}-org/OU=${party}`;
}

function nodeExtensions(party: string): string {
  return [
    '[ext]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyAgreement',
    'extendedKeyUsage = serverAuth, clientAuth',
    `subjectAltName = DNS:${party}, DNS:localhost, IP:127.0.0.1`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    '',
  ].join('\n');
}

/** A self-signed CA certificate and key. */
function makeCa(run: (a: string[]) => string, cert: string, key: string, cn: string, org: string, days = VALIDITY_DAYS): void {
  newKey(run, key);
  run([
    'req', '-x509', '-new', '-key', key, '-sha256', '-days', String(days), '-set_serial', serial(),
    '-subj', `/CN=${cn}/O=${org}`,
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-addext', 'subjectKeyIdentifier=hash',
    '-out', cert,
  ]);
}

/** A node certificate for `party` issued by the given CA. */
function makeNodeCert(run: (a: string[]) => string, work: string, party: PartyName, ca: CertPair, out: CertPair, days = VALIDITY_DAYS): void {
  newKey(run, out.key);
  const csr = join(work, `${party}.csr`);
  const ext = join(work, `${party}.ext.cnf`);
  writeFileSync(ext, nodeExtensions(party));
  run(['req', '-new', '-key', out.key, '-subj', subjectOf(party), '-out', csr]);
  run([
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial(),
    '-days', String(days), '-sha256', '-extfile', ext, '-extensions', 'ext', '-out', out.cert,
  ]);
}

/** Generate the development PKI into `dir` (see the header). Idempotent unless `force`. */
export function generatePki(dir: string, options: PkiOptions = {}): PkiResult {
  if (typeof dir !== 'string' || dir.length === 0) throw new Error(`expected an output directory, got ${JSON.stringify(dir)}`);
  const files = pkiFileNames().map((f) => join(dir, f));
  if (!options.force && files.every((f) => existsSync(f))) return { created: false, dir, files };
  mkdirSync(dir, { recursive: true });
  const run = runner(options.openssl ?? 'openssl');
  const work = mkdtempSync(join(tmpdir(), 'cleanroom-pki-'));
  try {
    const caCerts: string[] = [];
    const signing = {} as Record<PartyName, Uint8Array>;
    for (const party of PARTIES) {
      const ca = { cert: join(dir, `${party}-ca.crt.pem`), key: join(dir, `${party}-ca.key.pem`) };
      makeCa(run, ca.cert, ca.key, `${party}-ca`, `cleanroom-${party}-org`);
      makeNodeCert(run, work, party, ca, { cert: join(dir, `${party}.crt.pem`), key: join(dir, `${party}.key.pem`) });
      caCerts.push(readFileSync(ca.cert, 'utf8'));
      const key = SigningKey.generate();
      saveSigningKey(join(dir, `${party}.signing.json`), key, party);
      signing[party] = key.publicKey;
    }
    writeFileSync(join(dir, 'trust-ca.pem'), caCerts.map((c) => (c.endsWith('\n') ? c : c + '\n')).join(''));
    writeFileSync(join(dir, 'trust-bundle.json'), canonicalize(makeTrustBundle(signing)) + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { created: true, dir, files };
}

/**
 * A fresh node certificate and key for `party` from its organisation CA in `dir`, written to
 * `out` — a renewal, as cert-manager would issue it (new key, new serial, same subject/SANs).
 */
export function issueNodeCert(dir: string, party: PartyName, out: CertPair, options: Pick<PkiOptions, 'openssl'> = {}): CertPair {
  assertParty(party);
  const ca = { cert: join(dir, `${party}-ca.crt.pem`), key: join(dir, `${party}-ca.key.pem`) };
  if (!existsSync(ca.cert) || !existsSync(ca.key)) throw new Error(`expected the ${party} CA in ${dir} (run generatePki first), got none`);
  const work = mkdtempSync(join(tmpdir(), 'cleanroom-pki-'));
  try {
    makeNodeCert(runner(options.openssl ?? 'openssl'), work, party, ca, out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

/**
 * An expired certificate for `party` (valid 2020-01-01..2020-02-01), issued by the party's
 * genuine organisation CA in `dir`: `<dir>/<party>.expired.crt.pem` / `.expired.key.pem`.
 * OpenSSL 3.0's `x509 -req` cannot back-date, so this uses a throw-away `openssl ca` database.
 */
export function makeExpiredCert(dir: string, party: PartyName, options: Pick<PkiOptions, 'openssl'> = {}): CertPair {
  assertParty(party);
  const ca = { cert: join(dir, `${party}-ca.crt.pem`), key: join(dir, `${party}-ca.key.pem`) };
  if (!existsSync(ca.cert) || !existsSync(ca.key)) throw new Error(`expected the ${party} CA in ${dir} (run generatePki first), got none`);
  const run = runner(options.openssl ?? 'openssl');
  const out = { cert: join(dir, `${party}.expired.crt.pem`), key: join(dir, `${party}.expired.key.pem`) };
  const work = mkdtempSync(join(tmpdir(), 'cleanroom-pki-'));
  try {
    newKey(run, out.key);
    const csr = join(work, 'req.csr');
    run(['req', '-new', '-key', out.key, '-subj', subjectOf(party), '-out', csr]);
    writeFileSync(join(work, 'index.txt'), '');
    writeFileSync(join(work, 'serial'), serial().slice(2) + '\n');
    const conf = join(work, 'ca.cnf');
    writeFileSync(
      conf,
      [
        '[ca]', 'default_ca = dev', '[dev]', `database = ${join(work, 'index.txt')}`, `new_certs_dir = ${work}`,
        `serial = ${join(work, 'serial')}`, 'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none',
        '[any]', 'commonName = supplied', 'organizationName = optional', 'organizationalUnitName = optional', '',
        nodeExtensions(party),
      ].join('\n'),
    );
    run([
      'ca', '-batch', '-config', conf, '-cert', ca.cert, '-keyfile', ca.key, '-startdate', '20200101000000Z',
      '-enddate', '20200201000000Z', '-extensions', 'ext', '-notext', '-in', csr, '-out', out.cert,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

/**
 * Test material in `dir` (which must hold the PKI from `generatePki`, or is given one):
 * an expired certificate of `expiredParty` (default media) from its genuine CA, and a rogue CA
 * (`rogue-ca.crt.pem`, not in trust-ca.pem) with a certificate claiming to be `rogueParty`
 * (default broker) with the correct subject and SANs (`rogue-<party>.crt.pem` / `.key.pem`).
 */
export function makeTestCerts(
  dir: string,
  options: PkiOptions & { expiredParty?: PartyName; rogueParty?: PartyName } = {},
): { expired: CertPair; rogueCa: CertPair; rogue: CertPair } {
  generatePki(dir, { openssl: options.openssl });
  const expired = makeExpiredCert(dir, options.expiredParty ?? 'media', options);
  const party = assertParty(options.rogueParty ?? 'broker');
  const run = runner(options.openssl ?? 'openssl');
  const rogueCa = { cert: join(dir, 'rogue-ca.crt.pem'), key: join(dir, 'rogue-ca.key.pem') };
  const rogue = { cert: join(dir, `rogue-${party}.crt.pem`), key: join(dir, `rogue-${party}.key.pem`) };
  const work = mkdtempSync(join(tmpdir(), 'cleanroom-pki-'));
  try {
    makeCa(run, rogueCa.cert, rogueCa.key, `${party}-ca`, `cleanroom-${party}-org`);
    makeNodeCert(run, work, party, rogueCa, rogue);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { expired, rogueCa, rogue };
}
