/**
 * Schema migrations, applied in order at open, each once, recorded in schema_migrations.
 * One list for both databases: `{bytes}`, `{real}` and `{bigint}` name the column types
 * each dialect spells differently. Never edit a released migration; add the next one.
 */
export type Dialect = 'sqlite' | 'postgres';

const TYPES: Record<Dialect, Record<string, string>> = {
  sqlite: { bytes: 'BLOB', real: 'REAL', bigint: 'INTEGER' },
  postgres: { bytes: 'BYTEA', real: 'DOUBLE PRECISION', bigint: 'BIGINT' },
};

export const MIGRATIONS: readonly { version: number; name: string; sql: string[] }[] = [
  {
    version: 1,
    name: 'sessions, privacy ledger, released cohorts, quota usage',
    sql: [
      `CREATE TABLE sessions (
        party TEXT NOT NULL, session_id TEXT NOT NULL, status TEXT NOT NULL, phase TEXT NOT NULL,
        started_at TEXT NOT NULL, updated_at TEXT NOT NULL, error TEXT, result TEXT,
        PRIMARY KEY (party, session_id))`,
      `CREATE TABLE privacy_ledger (
        party TEXT NOT NULL, session_id TEXT NOT NULL, advertiser TEXT NOT NULL, media TEXT NOT NULL, epoch TEXT NOT NULL,
        reserved {real} NOT NULL, charged {real}, budget {real} NOT NULL, at_ms {bigint} NOT NULL, settled_at_ms {bigint},
        PRIMARY KEY (party, session_id))`,
      `CREATE INDEX privacy_ledger_key ON privacy_ledger (party, advertiser, media, epoch, at_ms)`,
      `CREATE TABLE released_cohorts (
        party TEXT NOT NULL, session_id TEXT NOT NULL, advertiser TEXT NOT NULL, epoch TEXT NOT NULL,
        sketch {bytes} NOT NULL, size INTEGER NOT NULL, at_ms {bigint} NOT NULL,
        PRIMARY KEY (party, session_id))`,
      `CREATE INDEX released_cohorts_key ON released_cohorts (party, advertiser, epoch)`,
      `CREATE TABLE quota_usage (
        party TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL, session_id TEXT NOT NULL,
        amount {bigint} NOT NULL, at_ms {bigint} NOT NULL,
        PRIMARY KEY (party, scope, session_id))`,
      `CREATE INDEX quota_usage_key ON quota_usage (party, scope, subject, at_ms)`,
    ],
  },
];

export function migrationSql(dialect: Dialect, sql: string): string {
  return sql.replace(/\{(bytes|real|bigint)\}/g, (_, t: string) => TYPES[dialect][t]!);
}
