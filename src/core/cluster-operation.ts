/**
 * One operation at a time per cluster (backup, restore, migrate, promote, repair): the agent running
 * one holds a session-level advisory lock on the primary, in the `postgres` database, for as long as
 * the operation runs, and records what it is in an unlogged table written by that same session. A
 * second operation finds the lock taken and is refused, naming the first. The lock lives on the
 * primary because that is what every runner shares: the chart's Jobs on other nodes reach it over
 * the network, local mode over loopback. A crashed holder's session ends, and its lock with it.
 */
import { SafetyRefusal } from './errors.js';

/** pg_try_advisory_lock key; next to the backup lock's 7_410_215_001. */
export const CLUSTER_OPERATION_LOCK_KEY = 7_410_215_000;
/** Advisory locks are per database: every operation takes it in this one. */
export const CLUSTER_OPERATION_DATABASE = 'postgres';

/** Created by the holder (under the lock), so its DDL never races. */
export const CLUSTER_OPERATION_DDL = `
CREATE SCHEMA IF NOT EXISTS pgops;
CREATE UNLOGGED TABLE IF NOT EXISTS pgops.cluster_operation (
  backend_pid int PRIMARY KEY,
  operation   text NOT NULL,
  started_at  timestamptz NOT NULL,
  host        text,
  pid         int
);
ALTER TABLE pgops.cluster_operation ADD COLUMN IF NOT EXISTS token text`;

/** Run by the holder: rows of earlier holders are stale (they no longer hold the lock). */
export const CLEAR_CLUSTER_OPERATIONS = `DELETE FROM pgops.cluster_operation`;
export const RECORD_CLUSTER_OPERATION = `
INSERT INTO pgops.cluster_operation (backend_pid, operation, started_at, host, pid, token)
VALUES (pg_backend_pid(), $1, now(), $2, $3, $4)`;

export const FORGET_CLUSTER_OPERATION = `DELETE FROM pgops.cluster_operation WHERE backend_pid = pg_backend_pid()`;

/** The session holding the lock, as pg_stat_activity sees it (read-only; no table needed). */
export const CLUSTER_OPERATION_HOLDER_SQL = `
SELECT a.pid AS backend_pid, a.application_name, a.backend_start::text AS backend_start,
  host(a.client_addr) AS client_addr,
  to_regclass('pgops.cluster_operation') IS NOT NULL AS recorded
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((l.classid::bigint << 32) | l.objid::bigint) = ${CLUSTER_OPERATION_LOCK_KEY}`;

/** What the holder recorded (only when CLUSTER_OPERATION_HOLDER_SQL says the table exists). */
export const CLUSTER_OPERATION_RECORD_SQL = `
SELECT backend_pid, operation, started_at::text AS started_at, host, pid, token FROM pgops.cluster_operation`;

/** The running operation, from the lock holder's session and what it recorded. */
export interface RunningOperation {
  /** e.g. "restore critical-point-backup"; from application_name when nothing was recorded. */
  operation: string;
  startedAt: string | null;
  /** Host (pod) and process that run it, when recorded. */
  host: string | null;
  pid: number | null;
  backendPid: number;
  clientAddr: string | null;
  /** Given to the agent commands the operation starts itself, which then run within it. */
  token?: string | null;
}

export interface HolderRow {
  backend_pid: number;
  application_name: string | null;
  backend_start: string | null;
  client_addr: string | null;
}

export interface RecordRow {
  backend_pid: number;
  operation: string;
  started_at: string | null;
  host: string | null;
  pid: number | null;
  token?: string | null;
}

/** application_name of a holder's session (63 bytes at most), "pgops: restore x". */
export function operationAppName(operation: string): string {
  let s = `pgops: ${operation.replace(/[^\x20-\x7e]/g, '?')}`;
  while (new TextEncoder().encode(s).length > 63) s = s.slice(0, -1);
  return s;
}

/** Joins the holder's session with its record (a record of another session is stale). */
export function runningOperation(holder: HolderRow, records: RecordRow[]): RunningOperation {
  const rec = records.find((r) => Number(r.backend_pid) === Number(holder.backend_pid));
  const fromName = holder.application_name?.replace(/^pgops: /, '') || 'an operation';
  return {
    operation: rec?.operation ?? fromName,
    startedAt: rec?.started_at ?? holder.backend_start ?? null,
    host: rec?.host ?? null,
    pid: rec?.pid === undefined || rec?.pid === null ? null : Number(rec.pid),
    backendPid: Number(holder.backend_pid),
    clientAddr: holder.client_addr ?? null,
    token: rec?.token ?? null,
  };
}

/** "restore critical (started 2026-01-01T02:00:00Z on host pod-x, pid 123)". */
export function describeOperation(op: RunningOperation): string {
  const where = op.host
    ? ` on ${op.host}${op.pid ? `, pid ${op.pid}` : ''}`
    : op.clientAddr
      ? ` from ${op.clientAddr}`
      : '';
  return `${op.operation} (started ${op.startedAt ?? 'at an unknown time'}${where})`;
}

/** Exit 3: `what` was not started because `running` holds the cluster. */
export function busyRefusal(what: string, running: RunningOperation): SafetyRefusal {
  return new SafetyRefusal(
    'E_BUSY',
    `${what} was not started: ${describeOperation(running)} is running on this cluster, and only one backup, restore, migration or promotion runs at a time; nothing was changed`,
    { running: running.operation, startedAt: running.startedAt, backendPid: running.backendPid },
    {
      hint: 'Wait for it to finish (postgres-ops status shows what runs), then run this again.',
    },
  );
}
