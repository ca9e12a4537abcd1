/**
 * Media's purpose-level consent (consent_ads, consent_share) per row of an in-memory prepared
 * universe (tests), read from rows of the universe CSV. A user whose row is missing or rejected
 * has consented to nothing. Memory: one byte per user per purpose plus a user_id → row map
 * while reading. The media node does not use this: its prepared universe on disk keeps the
 * purposes as a column (universe-files.ts, DiskUniverse.purposes()).
 */
import { readUniverse } from '@cleanroom/shared/data/files.ts';
import type { PurposeConsent } from '@cleanroom/shared/protocol/media.ts';

/** Purpose consent aligned to `userIds` (the prepared universe's rows), from rows of the universe CSV. */
export function alignPurposes(userIds: readonly string[], rows: Iterable<{ userId: string; consentAds: boolean; consentShare: boolean }>): PurposeConsent {
  const rowOf = new Map<string, number>();
  userIds.forEach((id, i) => rowOf.set(id, i));
  const ads = new Uint8Array(userIds.length);
  const share = new Uint8Array(userIds.length);
  for (const r of rows) {
    const i = rowOf.get(r.userId);
    if (i === undefined) continue;
    if (r.consentAds) ads[i] = 1;
    if (r.consentShare) share[i] = 1;
  }
  return { ads, share };
}

export async function loadPurposes(path: string, userIds: readonly string[]): Promise<PurposeConsent> {
  const rows: { userId: string; consentAds: boolean; consentShare: boolean }[] = [];
  for await (const r of readUniverse(path)) if (r.consent && (r.consentAds || r.consentShare)) rows.push({ userId: r.userId, consentAds: r.consentAds, consentShare: r.consentShare });
  return alignPurposes(userIds, rows);
}
