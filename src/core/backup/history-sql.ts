/**
 * Where every backup outcome is recorded so that the metrics exporter (custom queries) can read it:
 * table pgops.backup_history in the `postgres` database (the exporter's DSN database). The instance
 * creates it at bootstrap so the exporter's queries never fail on a fresh cluster; the backup
 * command creates it too (idempotent) before writing.
 */
export const BACKUP_HISTORY_DATABASE = 'postgres';

export const BACKUP_HISTORY_DDL = `
CREATE SCHEMA IF NOT EXISTS pgops;
CREATE TABLE IF NOT EXISTS pgops.backup_history (
  id               bigserial PRIMARY KEY,
  name             text NOT NULL,
  database         text NOT NULL,
  status           text NOT NULL CHECK (status IN ('success', 'failure')),
  started_at       timestamptz NOT NULL,
  finished_at      timestamptz NOT NULL,
  duration_seconds double precision NOT NULL,
  size_bytes       bigint NOT NULL DEFAULT 0,
  verified         boolean NOT NULL DEFAULT false,
  error            text
);
CREATE INDEX IF NOT EXISTS backup_history_finished_at ON pgops.backup_history (finished_at DESC);
`;

export const INSERT_BACKUP_HISTORY = `
INSERT INTO pgops.backup_history
  (name, database, status, started_at, finished_at, duration_seconds, size_bytes, verified, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
