/**
 * Where physical backups, the recoverability window and recovery drills are recorded, for the
 * metrics exporter's queries: tables in the `postgres` database next to pgops.backup_history. The
 * bootstrap hook creates them on a new cluster and every command that writes them creates them first
 * (idempotent), so a cluster made before them gains them on its first physical backup.
 */
export const PITR_HISTORY_DDL = `
CREATE SCHEMA IF NOT EXISTS pgops;
CREATE TABLE IF NOT EXISTS pgops.physical_backup_history (
  id               bigserial PRIMARY KEY,
  label            text,
  type             text NOT NULL CHECK (type IN ('full', 'diff', 'incr')),
  repo             text NOT NULL,
  status           text NOT NULL CHECK (status IN ('success', 'failure')),
  started_at       timestamptz NOT NULL,
  finished_at      timestamptz NOT NULL,
  duration_seconds double precision NOT NULL,
  size_bytes       bigint NOT NULL DEFAULT 0,
  repo_size_bytes  bigint NOT NULL DEFAULT 0,
  error            text
);
CREATE INDEX IF NOT EXISTS physical_backup_history_finished_at
  ON pgops.physical_backup_history (finished_at DESC);
CREATE TABLE IF NOT EXISTS pgops.recoverability (
  repo       text PRIMARY KEY,
  earliest   timestamptz,
  updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS pgops.drill_history (
  id               bigserial PRIMARY KEY,
  status           text NOT NULL CHECK (status IN ('success', 'failure')),
  started_at       timestamptz NOT NULL,
  finished_at      timestamptz NOT NULL,
  backup_label     text,
  recovered_to     timestamptz,
  recovery_seconds double precision,
  checks           jsonb,
  error            text
);
CREATE INDEX IF NOT EXISTS drill_history_finished_at ON pgops.drill_history (finished_at DESC);
`;

/** The tables the exporter's role may read (granted by the leader's agent with backup_history). */
export const PITR_TABLES = ['pgops.physical_backup_history', 'pgops.recoverability', 'pgops.drill_history'];

export const INSERT_PHYSICAL_BACKUP = `
INSERT INTO pgops.physical_backup_history
  (label, type, repo, status, started_at, finished_at, duration_seconds, size_bytes, repo_size_bytes, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`;

export const UPSERT_RECOVERABILITY = `
INSERT INTO pgops.recoverability (repo, earliest, updated_at) VALUES ($1, $2, now())
ON CONFLICT (repo) DO UPDATE SET earliest = EXCLUDED.earliest, updated_at = EXCLUDED.updated_at`;

export const INSERT_DRILL = `
INSERT INTO pgops.drill_history
  (status, started_at, finished_at, backup_label, recovered_to, recovery_seconds, checks, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;
