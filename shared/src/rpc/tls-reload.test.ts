/**
 * Certificate rotation without restart, over real gRPC with mutual TLS: a node serving with
 * TlsFilesProvider presents a renewed certificate on new connections once its files change;
 * a half-rotated pair (key of another certificate), an expired certificate and another
 * party's certificate are refused and the current one stays in use; a client's own rotated
 * certificate is used for its next calls; the caller is still identified from its certificate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { generatePki, issueNodeCert, makeExpiredCert } from '../pki/pki.ts';
import { loadIdentity } from '../service/identity.ts';
import { addService, bindServer, createServer, PeerClient } from './grpc.ts';
import { serviceDefinition } from './proto.ts';
import { TlsFilesProvider } from './tls-reload.ts';
import type { Party } from '../protocol/messages.ts';
import type { Envelope } from '../transcript/statement.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const env: Envelope = { statement: new Uint8Array([1]), payload: new Uint8Array([2]), signatures: [] };

let pki: string;
let serverDir: string;
let clientDir: string;
let media: TlsFilesProvider;
let broker: TlsFilesProvider;
let server: grpc.Server;
let address: string;
const callers: Party[] = [];

/** Replaces `party`'s certificate and key in `dir` (each file renamed into place, as a Secret volume update would). */
function install(dir: string, party: string, cert: string, key: string): void {
  for (const [from, name] of [[cert, `${party}.crt.pem`], [key, `${party}.key.pem`]] as const) {
    copyFileSync(from, join(dir, `.${name}.tmp`));
    renameSync(join(dir, `.${name}.tmp`), join(dir, name));
  }
}

/** The serial number of the certificate the server presents to a NEW connection. */
async function presentedSerial(): Promise<string> {
  let serial = '';
  const creds = grpc.credentials.createSsl(readFileSync(join(pki, 'trust-ca.pem')), readFileSync(join(pki, 'broker.key.pem')), readFileSync(join(pki, 'broker.crt.pem')), {
    checkServerIdentity: (_host, cert) => {
      serial = cert.serialNumber;
      return undefined;
    },
  });
  const def = serviceDefinition('Media');
  const client = new (grpc.makeGenericClientConstructor(def, 'Media'))(address, creds);
  await new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(def.Abort!.path, def.Abort!.requestSerialize, def.Abort!.responseDeserialize, env, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) => (err ? reject(err) : resolve()));
  });
  client.close();
  return serial.toUpperCase();
}

const serialOf = (certFile: string) => new X509Certificate(readFileSync(certFile)).serialNumber.toUpperCase();

beforeAll(async () => {
  pki = mkdtempSync(join(tmpdir(), 'cleanroom-rotate-pki-'));
  generatePki(pki);
  serverDir = mkdtempSync(join(tmpdir(), 'cleanroom-rotate-media-'));
  clientDir = mkdtempSync(join(tmpdir(), 'cleanroom-rotate-broker-'));
  for (const [dir, p] of [[serverDir, 'media'], [clientDir, 'broker']] as const) {
    for (const f of ['trust-ca.pem', `${p}.crt.pem`, `${p}.key.pem`]) copyFileSync(join(pki, f), join(dir, f));
  }
  const files = (dir: string, p: string) => ({ ca: join(dir, 'trust-ca.pem'), cert: join(dir, `${p}.crt.pem`), key: join(dir, `${p}.key.pem`), refreshMs: 3_600_000 });
  media = new TlsFilesProvider(files(serverDir, 'media'), 'media', silent);
  broker = new TlsFilesProvider(files(clientDir, 'broker'), 'broker', silent);
  const transport = { kind: 'mtls' as const, tls: { ca: Buffer.alloc(0), cert: Buffer.alloc(0), key: Buffer.alloc(0), reload: media } };
  const opts = { transport, maxMessageBytes: 1 << 20, maxCallBytes: 1 << 20, log: silent };
  server = createServer(opts);
  addService(server, 'Media', { Abort: async (caller, envs) => { callers.push(caller); return envs; } }, opts);
  address = `localhost:${await bindServer(server, '127.0.0.1:0', transport)}`;
});
afterAll(() => {
  server?.forceShutdown();
  media?.close();
  broker?.close();
});

describe('TLS rotation without restart (TlsFilesProvider)', () => {
  it('a renewed certificate is presented on new connections; calls keep working and the caller is identified', async () => {
    const client = new PeerClient('Media', address, {
      transport: { kind: 'mtls', tls: { ca: Buffer.alloc(0), cert: Buffer.alloc(0), key: Buffer.alloc(0), reload: broker } },
      serverParty: 'media', self: 'broker', maxMessageBytes: 1 << 20, deadlineMs: 10_000,
    });
    expect(await presentedSerial()).toBe(serialOf(join(pki, 'media.crt.pem')));
    expect(await client.call('Abort', [env])).toHaveLength(1);

    const renewed = issueNodeCert(pki, 'media', { cert: join(pki, 'media.renewed.crt.pem'), key: join(pki, 'media.renewed.key.pem') });
    install(serverDir, 'media', renewed.cert, renewed.key);
    expect(media.refresh()).toBe(true);
    expect(await presentedSerial()).toBe(serialOf(renewed.cert));
    expect(await client.call('Abort', [env])).toHaveLength(1);

    // the client's own certificate rotates too
    const brokerRenewed = issueNodeCert(pki, 'broker', { cert: join(pki, 'broker.renewed.crt.pem'), key: join(pki, 'broker.renewed.key.pem') });
    install(clientDir, 'broker', brokerRenewed.cert, brokerRenewed.key);
    expect(broker.refresh()).toBe(true);
    expect(broker.serial.toUpperCase()).toBe(serialOf(brokerRenewed.cert));
    const fresh = new PeerClient('Media', address, {
      transport: { kind: 'mtls', tls: { ca: Buffer.alloc(0), cert: Buffer.alloc(0), key: Buffer.alloc(0), reload: broker } },
      serverParty: 'media', self: 'broker', maxMessageBytes: 1 << 20, deadlineMs: 10_000,
    });
    expect(await fresh.call('Abort', [env])).toHaveLength(1);
    expect(callers).toEqual(Array(5).fill('broker')); // 2 probes of the presented certificate + 3 PeerClient calls
    client.close();
    fresh.close();
  });

  it('a half-rotated pair, an expired certificate or another party\'s certificate is refused; the current one stays', async () => {
    const before = await presentedSerial();
    const other = issueNodeCert(pki, 'media', { cert: join(pki, 'media.other.crt.pem'), key: join(pki, 'media.other.key.pem') });
    // new certificate, old key: what a reader sees between the two renames of a rotation
    copyFileSync(other.cert, join(serverDir, 'media.crt.pem'));
    expect(media.refresh()).toBe(false);
    expect(await presentedSerial()).toBe(before);
    // the second rename lands: consistent again, taken
    copyFileSync(other.key, join(serverDir, 'media.key.pem'));
    expect(media.refresh()).toBe(true);
    const current = await presentedSerial();
    expect(current).toBe(serialOf(other.cert));

    const expired = makeExpiredCert(pki, 'media');
    install(serverDir, 'media', expired.cert, expired.key);
    expect(media.refresh()).toBe(false);
    expect(await presentedSerial()).toBe(current);

    install(serverDir, 'media', join(pki, 'broker.crt.pem'), join(pki, 'broker.key.pem'));
    expect(media.refresh()).toBe(false);
    expect(await presentedSerial()).toBe(current);
  });

  it('loadIdentity attaches a provider when CLEANROOM_TLS_RELOAD_SECONDS > 0, none when 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleanroom-rotate-id-'));
    mkdirSync(dir, { recursive: true });
    generatePki(dir);
    const on = loadIdentity('advertiser', dir, false, { reloadMs: 60_000 });
    const off = loadIdentity('advertiser', dir, false, { reloadMs: 0 });
    expect(on.transport.kind === 'mtls' && on.transport.tls.reload).toBeInstanceOf(TlsFilesProvider);
    expect(off.transport.kind === 'mtls' && off.transport.tls.reload).toBeUndefined();
    if (on.transport.kind === 'mtls') on.transport.tls.reload?.close();
  });
});
