/**
 * The federation roster file (CLEANROOM_FEDERATION): who the members of federated sessions are.
 *
 *   { "v": 1, "members": [ { "name": "advertiser-1", "signingKey": "<base64 Ed25519 public key>" }, … ] }
 *
 * Member i (1-based) is members[i-1]. The broker accepts a member's messages only under the key
 * pinned here, and every member checks the other members' round keys against it, so the
 * broker cannot invent or impersonate members. Loading validates everything and names the
 * file: at least 3 and at most 64 members, distinct names and keys.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fromBase64, toBase64 } from '../crypto/dsse.ts';
import type { RosterEntry } from '../protocol/federated-member.ts';

export function parseRoster(value: unknown, source = 'federation roster'): RosterEntry[] {
  const o = value as { v?: unknown; members?: unknown } | null;
  if (typeof o !== 'object' || o === null || o.v !== 1 || !Array.isArray(o.members)) throw new Error(`${source}: expected {"v": 1, "members": [...]}`);
  if (o.members.length < 3 || o.members.length > 64) throw new Error(`${source}: expected 3 to 64 members, got ${o.members.length}`);
  const out = o.members.map((m: unknown, i: number) => {
    const e = m as { name?: unknown; signingKey?: unknown } | null;
    if (typeof e?.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(e.name)) throw new Error(`${source}: members[${i}].name: expected [A-Za-z0-9._-]{1,64}, got ${JSON.stringify(e?.name)}`);
    return { name: e.name, signingKey: fromBase64(e.signingKey, `${source}: members[${i}].signingKey`, 32) };
  });
  if (new Set(out.map((m) => m.name)).size !== out.length) throw new Error(`${source}: expected distinct member names`);
  if (new Set(out.map((m) => toBase64(m.signingKey))).size !== out.length) throw new Error(`${source}: expected distinct member keys`);
  return out;
}

export function loadRoster(path: string): RosterEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`CLEANROOM_FEDERATION: cannot read ${path}: ${(err as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`CLEANROOM_FEDERATION: ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseRoster(v, path);
}

export function writeRoster(path: string, roster: readonly RosterEntry[]): void {
  writeFileSync(path, `${JSON.stringify({ v: 1, members: roster.map((m) => ({ name: m.name, signingKey: toBase64(m.signingKey) })) }, null, 2)}\n`);
}
