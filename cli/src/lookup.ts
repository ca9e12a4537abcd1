/**
 * The lookup kind from the CLI (`session start --kind lookup`, `simulate --kind lookup`):
 * starts a lookup through the advertiser's admin API, waits for it, fetches its CSV (A's own
 * IDs with their labels) and writes it to a file or stdout. Exit codes as every session
 * command: 0 completed, 1 failed (the reason is printed: below the minimum batch, beyond the
 * quota, no labels published, …).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { AdminClient } from './admin-client.ts';

export interface LookupRequest {
  idType: string;
  decoyRatio: number;
  /** A file of raw IDs, one per line; default: the advertiser's consented CRM rows. */
  idsFile?: string;
}

export interface LookupRun {
  sessionId: string;
  status: 'completed' | 'failed' | string;
  error?: string;
  result?: { ids: { rows: number; valid: number; rejected: number; duplicates: number; notConsented: number }; paddedSize: number; labelled: number };
  csv?: string;
  seconds: number;
}

export function readIdsFile(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
}

export async function runLookup(a: AdminClient, req: LookupRequest, onPhase?: (phase: string) => void): Promise<LookupRun> {
  const body: Record<string, unknown> = { kind: 'lookup', idType: req.idType, decoyRatio: req.decoyRatio };
  if (req.idsFile) body.ids = readIdsFile(req.idsFile);
  const t0 = performance.now();
  const { sessionId } = await a.request<{ sessionId: string }>('POST', '/v1/sessions', body);
  const s = await a.waitSession(sessionId, 30 * 60_000, (x) => onPhase?.(x.phase));
  const seconds = (performance.now() - t0) / 1000;
  if (s.status !== 'completed') return { sessionId, status: s.status, ...(s.error ? { error: s.error } : {}), seconds };
  const result = await a.request<LookupRun['result']>('GET', `/v1/sessions/${sessionId}/result`);
  const { body: csv } = await a.text(`/v1/sessions/${sessionId}/result?format=csv`);
  return { sessionId, status: s.status, ...(result ? { result } : {}), csv, seconds };
}

/** Fetches a finished lookup's CSV and writes it to `file`; returns the file. */
export async function writeLookupCsv(a: AdminClient, sessionId: string, file: string): Promise<string> {
  const { body } = await a.text(`/v1/sessions/${sessionId}/result?format=csv`);
  writeFileSync(file, body);
  return file;
}

/** A short summary of a finished lookup; writes the CSV to `csvFile` when given. */
export function lookupSummary(r: LookupRun, csvFile?: string): string[] {
  if (r.status !== 'completed' || !r.result || r.csv === undefined) return [`lookup ${r.sessionId} ${r.status.toUpperCase()}: ${r.error ?? ''}`];
  if (csvFile) writeFileSync(csvFile, r.csv);
  const i = r.result.ids;
  return [
    `lookup             ${r.sessionId} COMPLETED in ${r.seconds.toFixed(2)} s`,
    `IDs                ${i.valid} valid of ${i.rows} rows (${i.rejected} rejected, ${i.duplicates} duplicates, ${i.notConsented} without consent)`,
    `padded set         ${r.result.paddedSize}; media received no list of users`,
    `labelled           ${r.result.labelled} of ${i.valid} (consenting media users; the others get nothing)`,
    ...(csvFile ? [`labels CSV         ${csvFile}`] : []),
  ];
}
