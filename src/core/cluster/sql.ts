/**
 * SQL text the operator commands run (read-only). Every statement is wrapped by `asJsonRows` so
 * that the local driver and `kubectl exec psql` return the same JSON-typed rows.
 */
import { DATABASES_SQL } from '../backup/interrupted-restore.js';
import { CLUSTER_OPERATION_HOLDER_SQL, CLUSTER_OPERATION_RECORD_SQL } from '../cluster-operation.js';

import { OPS_APPLICATION_NAME, quoteLiteral } from '../pg/conninfo.js';
import { MEMBER_FACTS_SQL } from '../pg/member-facts.js';

/** One JSON array of the statement's rows: `[]` when there are none. */
export function asJsonRows(sql: string): string {
  return `SELECT coalesce(json_agg(t), '[]'::json) AS rows FROM (${sql.trim().replace(/;\s*$/, '')}) t`;
}

/**
 * The member facts (src/core/pg/member-facts.ts) plus what `status` warns about on each member: data checksum failures PostgreSQL has
 * counted (pg_stat_database; the data directories are initialised with checksums).
 */
export const STATUS_PROBE_SQL = `
SELECT p.*,
  (SELECT coalesce(json_agg(json_build_object('database', coalesce(datname, '(shared catalogs)'),
      'failures', checksum_failures, 'lastFailure', checksum_last_failure) ORDER BY datname), '[]'::json)
   FROM pg_stat_database WHERE checksum_failures > 0) AS checksum_failures
FROM (${MEMBER_FACTS_SQL}) p`;

/**
 * Cluster-wide facts `status` reads on the primary: every database with whether it accepts
 * connections (an interrupted restore leaves its target refusing them), and the session holding
 * the cluster's operation lock, if any.
 */
export const STATUS_CLUSTER_SQL = `
SELECT
  (SELECT coalesce(json_agg(d), '[]'::json) FROM (${DATABASES_SQL}) d) AS databases,
  (SELECT row_to_json(h) FROM (${CLUSTER_OPERATION_HOLDER_SQL}) h LIMIT 1) AS operation`;

export { CLUSTER_OPERATION_RECORD_SQL };

/** Counters and gauges of one monitor sample, taken on the primary. */
export const MONITOR_SQL = `
SELECT
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS connections,
  current_setting('max_connections')::int AS max_connections,
  (SELECT sum(xact_commit) FROM pg_stat_database)::float8 AS xact_commit,
  (SELECT sum(xact_rollback) FROM pg_stat_database)::float8 AS xact_rollback,
  (SELECT sum(blks_hit) FROM pg_stat_database)::float8 AS blks_hit,
  (SELECT sum(blks_read) FROM pg_stat_database)::float8 AS blks_read,
  (SELECT sum(deadlocks) FROM pg_stat_database)::float8 AS deadlocks,
  (SELECT count(*) FROM pg_locks)::int AS locks,
  (SELECT count(*) FROM pg_locks WHERE NOT granted)::int AS locks_waiting,
  (SELECT sum(pg_database_size(datname)) FROM pg_database WHERE datallowconn)::float8 AS database_bytes,
  extract(epoch FROM clock_timestamp())::float8 AS at`;

export const MONITOR_REPLICATION_SQL = `
SELECT application_name AS name, state, client_addr::text AS client,
  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS lag_bytes,
  extract(epoch FROM replay_lag)::float8 AS lag_seconds
FROM pg_stat_replication ORDER BY application_name`;

/**
 * The longest-running queries of the application. postgres-ops's own sessions (named
 * OPS_APPLICATION_NAME, such as this sample's other queries running at the same moment) are not
 * the application's and are left out.
 */
export const MONITOR_QUERIES_SQL = `
SELECT pid, usename AS user, datname AS database, state,
  extract(epoch FROM clock_timestamp() - query_start)::float8 AS seconds,
  wait_event_type AS waiting_on,
  left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND state <> 'idle' AND pid <> pg_backend_pid()
  AND application_name IS DISTINCT FROM ${quoteLiteral(OPS_APPLICATION_NAME)}
ORDER BY query_start LIMIT 5`;

/** Replication slots no replica streams from: they keep WAL on the primary until dropped. */
export const MONITOR_INACTIVE_SLOTS_SQL = `
SELECT slot_name AS name, slot_type AS type, wal_status,
  CASE WHEN restart_lsn IS NOT NULL
    THEN pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 END AS retained_bytes
FROM pg_replication_slots WHERE NOT active ORDER BY slot_name`;
