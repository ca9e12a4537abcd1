/**
 * Key files on disk: a node's Ed25519 signing key (`<party>.signing.json`, mode 0600) and the
 * pinned trust bundle (`trust-bundle.json`). Reading parses and checks them with crypto/dsse.ts
 * (the public key and key id must match the seed; the bundle pins exactly the three parties);
 * writing tightens the mode of an existing file too.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { canonicalize, parseStrict } from '../crypto/jcs.ts';
import { SigningKey, parseSigningKeyFile, parseTrustBundle, type PartyName, type TrustBundle } from '../crypto/dsse.ts';

/** Load `<party>.signing.json`. If `expectedParty` is given, the file must belong to it. */
export function loadSigningKey(path: string, expectedParty?: PartyName): SigningKey {
  const { party, key } = parseSigningKeyFile(parseStrict(readFileSync(path, 'utf8')), `signing key ${path}`);
  if (expectedParty !== undefined && party !== expectedParty) {
    throw new Error(`expected signing key ${path} to belong to ${expectedParty}, got ${party}`);
  }
  return key;
}

/** Write a key file with mode 0600 (also tightening an existing file's mode). */
export function saveSigningKey(path: string, key: SigningKey, party: PartyName): void {
  if (!(key instanceof SigningKey)) throw new Error('expected key to be a SigningKey, got something else');
  const text = canonicalize(key.toJSON(party)) + '\n';
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Load and validate `trust-bundle.json`. */
export function loadTrustBundle(path: string): TrustBundle {
  return parseTrustBundle(parseStrict(readFileSync(path, 'utf8')), `trust bundle ${path}`);
}
