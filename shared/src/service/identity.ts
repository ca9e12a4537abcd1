/**
 * A node's identity: its Ed25519 transcript key, the pinned trust bundle of all parties'
 * public keys, and its transport (mutual TLS material, or plaintext in development).
 * Loaded from CLEANROOM_PKI_DIR (made by scripts/gen-pki.ts); every missing or malformed
 * file is a start-up error naming the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyFor, type SigningKey, type TrustBundle } from '../crypto/dsse.ts';
import { loadSigningKey, loadTrustBundle } from '../pki/key-files.ts';
import type { ChannelIdentity, ReceiveObserver } from '../rpc/channel.ts';
import type { Logger } from './log.ts';
import type { Transport } from '../rpc/grpc.ts';
import type { Party } from '../protocol/messages.ts';
import { TlsFilesProvider, type ReloadLog } from '../rpc/tls-reload.ts';

/** What every node is built with, whatever its party. */
export interface NodeCommonOptions {
  identity: NodeIdentity;
  transcriptDir: string;
  /** Per-RPC deadline; also how long a session may go without hearing from a peer. */
  deadlineMs: number;
  /**
   * Deadline of the calls whose answer waits for the rest of a session's work, which grows with
   * the universe (the advertiser's SubmitTokens; the broker's Indicators and Activate calls to
   * media: the PSI kinds' O(U) exponentiations). A dead peer still ends them at once (the
   * connection's keepalive); this bounds a live but stuck one. Default DEFAULT_SESSION_DEADLINE_MS (config.ts).
   */
  sessionDeadlineMs?: number;
  log: Logger;
  /** Sees every payload the node receives (tests of the privacy contract). */
  observer?: ReceiveObserver;
}

export interface NodeIdentity extends ChannelIdentity {
  trust: TrustBundle;
  transport: Transport;
}

export function identityFromKeys(party: Party, key: SigningKey, trust: TrustBundle, transport: Transport): NodeIdentity {
  return { party, key, trust, transport, peerKey: (p: Party) => keyFor(trust, p) };
}

/**
 * The node's keys and transport from CLEANROOM_PKI_DIR. With `reloadMs` > 0 the TLS files are
 * re-read that often and a consistent rotated set is used for new connections (tls-reload.ts).
 */
export function loadIdentity(party: Party, pkiDir: string, devPlaintext: boolean, reload: { reloadMs?: number; log?: ReloadLog } = {}): NodeIdentity {
  const need = (name: string): string => {
    const p = join(pkiDir, name);
    if (!existsSync(p)) throw new Error(`CLEANROOM_PKI_DIR: missing ${p} (run: node scripts/gen-pki.ts --out ${pkiDir})`);
    return p;
  };
  const key = loadSigningKey(need(`${party}.signing.json`), party);
  const trust = loadTrustBundle(need('trust-bundle.json'));
  const transport: Transport = devPlaintext
    ? { kind: 'plaintext' }
    : {
        kind: 'mtls',
        tls: {
          ca: readFileSync(need('trust-ca.pem')),
          cert: readFileSync(need(`${party}.crt.pem`)),
          key: readFileSync(need(`${party}.key.pem`)),
          ...(reload.reloadMs ? {
            reload: new TlsFilesProvider({ ca: need('trust-ca.pem'), cert: need(`${party}.crt.pem`), key: need(`${party}.key.pem`), refreshMs: reload.reloadMs }, party, reload.log),
          } : {}),
        },
      };
  return identityFromKeys(party, key, trust, transport);
}
