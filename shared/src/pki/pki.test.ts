// Development PKI: per-organisation CAs, node certificates that verify only against their own
// CA, the subject/SAN contract, idempotence, expired and rogue test certificates.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePki, makeTestCerts, pkiFileNames } from './pki.ts';
import { keyFor } from '../crypto/dsse.ts';
import { loadSigningKey, loadTrustBundle } from './key-files.ts';

let hasOpenssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  hasOpenssl = false;
}

describe.skipIf(!hasOpenssl)('development PKI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pki-'));
  const first = generatePki(dir);
  const cert = (name: string) => new X509Certificate(readFileSync(join(dir, name)));

  it('writes every file, private keys 0600, and is idempotent', () => {
    expect(first.created).toBe(true);
    for (const f of pkiFileNames()) expect(statSync(join(dir, f)).isFile()).toBe(true);
    for (const f of ['media.key.pem', 'media-ca.key.pem', 'media.signing.json']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    const before = readFileSync(join(dir, 'broker.crt.pem'), 'utf8');
    expect(generatePki(dir).created).toBe(false);
    expect(readFileSync(join(dir, 'broker.crt.pem'), 'utf8')).toBe(before);
  });

  it('node certificates: subject, SANs, P-256, 825 days, issued by their own organisation CA only', () => {
    for (const p of ['advertiser', 'media', 'broker'] as const) {
      const c = cert(`${p}.crt.pem`);
      expect(c.subject.split('\n').sort()).toEqual([`CN=${p}`, `O=cleanroom-${p}-org`, `OU=${p}`].sort());
      expect(c.subjectAltName).toBe(`DNS:${p}, DNS:localhost, IP Address:127.0.0.1`);
      expect(c.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(c.ca).toBe(false);
      const days = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000;
      expect(Math.round(days)).toBe(825);
      const ca = cert(`${p}-ca.crt.pem`);
      expect(ca.ca).toBe(true);
      expect(c.checkIssued(ca)).toBe(true);
      expect(c.verify(ca.publicKey)).toBe(true);
      const other = cert(`${p === 'media' ? 'broker' : 'media'}-ca.crt.pem`);
      expect(c.verify(other.publicKey)).toBe(false);
    }
    const bundle = readFileSync(join(dir, 'trust-ca.pem'), 'utf8');
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
  });

  it('signing keys match the trust bundle', () => {
    const trust = loadTrustBundle(join(dir, 'trust-bundle.json'));
    for (const p of ['advertiser', 'media', 'broker'] as const) {
      expect(loadSigningKey(join(dir, `${p}.signing.json`), p).publicKey).toEqual(keyFor(trust, p));
    }
  });

  it('test certificates: an expired one from the genuine CA, and a rogue CA nobody trusts', () => {
    const t = makeTestCerts(dir);
    const expired = new X509Certificate(readFileSync(t.expired.cert));
    expect(Date.parse(expired.validTo)).toBeLessThan(Date.now());
    expect(expired.verify(cert('media-ca.crt.pem').publicKey)).toBe(true);
    const rogue = new X509Certificate(readFileSync(t.rogue.cert));
    expect(rogue.subject).toContain('CN=broker');
    expect(rogue.verify(cert('broker-ca.crt.pem').publicKey)).toBe(false);
    expect(rogue.verify(new X509Certificate(readFileSync(t.rogueCa.cert)).publicKey)).toBe(true);
    expect(readFileSync(join(dir, 'trust-ca.pem'), 'utf8')).not.toContain(readFileSync(t.rogueCa.cert, 'utf8').trim());
  });
});
