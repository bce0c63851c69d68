/**
 * SQL of the migration history: table pgops.schema_migrations in the application database, one
 * row per applied version. Created under the migration lock, only when something is applied.
 */

/** Fixed pg_advisory_lock key ("pgopsmig" as bytes) so that two runs never interleave. */
export const MIGRATION_LOCK_KEY = '8099564983612696935';

export const CREATE_HISTORY_SQL = `
CREATE SCHEMA IF NOT EXISTS pgops;
CREATE TABLE IF NOT EXISTS pgops.schema_migrations (
  version     text PRIMARY KEY,
  description text NOT NULL DEFAULT '',
  checksum    text NOT NULL,
  files       jsonb NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  duration_ms bigint NOT NULL,
  applied_by  text NOT NULL,
  state       text NOT NULL DEFAULT 'applied' CHECK (state IN ('applied', 'partial'))
);
COMMENT ON TABLE pgops.schema_migrations IS 'Schema migrations applied by postgres-agent migrate (one row per version).';
`;

/** Does the table exist? (to_regclass: a dry run must not create it.) */
export const HISTORY_EXISTS_SQL = `SELECT to_regclass('pgops.schema_migrations') IS NOT NULL AS present`;

export const SELECT_VERSION_SQL = `
SELECT version, checksum, files, state, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS applied_at
FROM pgops.schema_migrations WHERE version = $1`;

export const INSERT_VERSION_SQL = `
INSERT INTO pgops.schema_migrations (version, description, checksum, files, duration_ms, applied_by, state)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)`;

/** Marks a partial version applied, recording the files it was completed with. */
export const COMPLETE_VERSION_SQL = `
UPDATE pgops.schema_migrations
SET state = 'applied', duration_ms = duration_ms + $2, checksum = $3, files = $4::jsonb, applied_at = now()
WHERE version = $1`;
