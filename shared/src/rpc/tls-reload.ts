/**
 * TLS material that follows its files, so a node picks up a rotated certificate without a
 * restart (cert-manager renewals, a Kubernetes Secret update, a re-run of gen-pki).
 *
 * `TlsFilesProvider` implements grpc-js's CertificateProvider: it re-reads the CA bundle,
 * certificate and key every `refreshMs` and hands a new set to gRPC only when it is
 * consistent — the CA bundle and certificate parse, the key is the certificate's key, the
 * certificate names this node's party (CN and OU) and is valid now. Anything else (a
 * half-written rotation, a key that does not match, an expired or foreign certificate) is
 * refused with one log line and the last good set stays in use. New TLS handshakes — server
 * side and client reconnects — use the newest set; established connections keep theirs.
 * The first set is read in the constructor as a static load would (a missing file throws);
 * it is used even if it would not pass the checks (that is logged), as before rotation existed.
 */
import { X509Certificate, createPrivateKey, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
  /** How often the files are re-read (ms). */
  refreshMs: number;
}

interface Material {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  fingerprint: string;
  serial: string;
  validTo: string;
}

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdListener = grpc.experimental.IdentityCertificateUpdateListener;

export interface ReloadLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Reads and checks one set of files; throws "expected …" on anything inconsistent. */
export function readTlsFiles(files: TlsFiles, party: string, now = new Date()): Material {
  const ca = readFileSync(files.ca);
  const cert = readFileSync(files.cert);
  const key = readFileSync(files.key);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
    new X509Certificate(ca);
  } catch (err) {
    throw new Error(`expected PEM certificates in ${files.cert} and ${files.ca}, got unparsable data (${(err as Error).message})`);
  }
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (err) {
    throw new Error(`expected a PEM private key in ${files.key}, got unparsable data (${(err as Error).message})`);
  }
  if (!x509.checkPrivateKey(keyObject)) throw new Error(`expected ${files.key} to be the key of ${files.cert}, got a different key`);
  const subject = Object.fromEntries(x509.subject.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  if (subject.CN !== party || subject.OU !== party) throw new Error(`expected a certificate for ${party} (CN and OU), got CN=${subject.CN ?? '?'} OU=${subject.OU ?? '?'}`);
  if (now < new Date(x509.validFrom) || now > new Date(x509.validTo)) throw new Error(`expected a certificate valid now, got one valid ${x509.validFrom} – ${x509.validTo}`);
  const fingerprint = createHash('sha256').update(ca).update(cert).update(key).digest('hex');
  return { ca, cert, key, fingerprint, serial: x509.serialNumber, validTo: x509.validTo };
}

export class TlsFilesProvider implements grpc.experimental.CertificateProvider {
  private current: Material;
  private readonly caListeners = new Set<CaListener>();
  private readonly idListeners = new Set<IdListener>();
  private readonly timer: NodeJS.Timeout;
  private lastProblem = '';
  private readonly files: TlsFiles;
  private readonly party: string;
  private readonly log: ReloadLog | undefined;

  constructor(files: TlsFiles, party: string, log?: ReloadLog) {
    this.files = files;
    this.party = party;
    this.log = log;
    if (!Number.isInteger(files.refreshMs) || files.refreshMs < 10) throw new RangeError(`expected refreshMs ≥ 10, got ${String(files.refreshMs)}`);
    // The first set is taken as the node loaded it (a static load checks nothing more); only
    // rotations must pass readTlsFiles' checks.
    try {
      this.current = readTlsFiles(files, party);
    } catch (err) {
      const ca = readFileSync(files.ca);
      const cert = readFileSync(files.cert);
      const key = readFileSync(files.key);
      this.current = { ca, cert, key, fingerprint: createHash('sha256').update(ca).update(cert).update(key).digest('hex'), serial: '?', validTo: '?' };
      this.lastProblem = (err as Error).message;
      log?.warn({ cert: files.cert, problem: this.lastProblem }, 'the TLS files in use would not pass a rotation check');
    }
    this.timer = setInterval(() => this.refresh(), files.refreshMs);
    this.timer.unref();
  }

  /** Serial number of the certificate in use (diagnostics, tests). */
  get serial(): string {
    return this.current.serial;
  }

  /** Re-reads the files now; returns true when a new set was taken into use. */
  refresh(): boolean {
    let next: Material;
    try {
      next = readTlsFiles(this.files, this.party);
    } catch (err) {
      const problem = (err as Error).message;
      if (problem !== this.lastProblem) this.log?.warn({ cert: this.files.cert, problem, serial: this.current.serial }, 'rotated TLS files refused; keeping the current certificate');
      this.lastProblem = problem;
      return false;
    }
    this.lastProblem = '';
    if (next.fingerprint === this.current.fingerprint) return false;
    this.current = next;
    this.log?.info({ cert: this.files.cert, serial: next.serial, validTo: next.validTo }, 'TLS certificate rotated (new connections use it)');
    for (const l of this.caListeners) l({ caCertificate: next.ca });
    for (const l of this.idListeners) l({ certificate: next.cert, privateKey: next.key });
    return true;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(listener, { caCertificate: this.current.ca });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdListener): void {
    this.idListeners.add(listener);
    process.nextTick(listener, { certificate: this.current.cert, privateKey: this.current.key });
  }

  removeIdentityCertificateListener(listener: IdListener): void {
    this.idListeners.delete(listener);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
