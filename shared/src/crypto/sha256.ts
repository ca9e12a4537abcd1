/** SHA-256 (node:crypto) as lower-case hex: statement digests, transcript chains, evidence. */
import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
