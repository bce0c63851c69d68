/**
 * The archive and the recoverability window in `status`: `-o json` gains
 * `"recoverability": {"earliest", "latest"}` and `"archive": {"lastArchivedAt", "lastFailedAt",
 * "failedCount"}` (both null without an archive), and warnings when archiving fails or lags. Pure
 * apart from the SQL text run on the leader.
 */

export interface ArchiveHealth {
  lastArchivedAt: string | null;
  lastFailedAt: string | null;
  failedCount: number;
  lastArchivedWal: string | null;
  lastFailedWal: string | null;
  /** Completed WAL segments waiting to be archived (.ready files). */
  readyCount: number | null;
}

export interface PitrStatus {
  recoverability: { earliest: string | null; latest: string | null } | null;
  archive: ArchiveHealth | null;
}

/** On the leader: pg_stat_archiver, the .ready backlog, whether archiving goes anywhere, and the window. */
export const ARCHIVE_SQL = `
SELECT a.last_archived_time, a.last_failed_time, a.failed_count, a.last_archived_wal, a.last_failed_wal,
       (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') AS ready,
       current_setting('archive_mode') AS mode, current_setting('archive_command') AS command,
       current_setting('archive_timeout') AS timeout,
       CASE WHEN to_regclass('pgops.recoverability') IS NULL THEN NULL
            ELSE (SELECT min(earliest) FROM pgops.recoverability) END AS earliest
  FROM pg_stat_archiver a`;

export interface ArchiveRow {
  last_archived_time: string | null;
  last_failed_time: string | null;
  failed_count: number | string | null;
  last_archived_wal: string | null;
  last_failed_wal: string | null;
  ready: number | string | null;
  mode: string;
  command: string;
  timeout: string;
  earliest: string | null;
}

const iso = (v: string | Date | null) => (v === null ? null : new Date(v).toISOString());

/** Segments waiting before `status` warns that archiving lags (each is 16 MiB of WAL not yet safe). */
export const READY_WARN = 8;

export function pitrStatus(row: ArchiveRow | undefined): PitrStatus {
  if (
    !row ||
    row.mode === 'off' ||
    !row.command ||
    row.command.trim() === 'true' ||
    row.command.trim() === ''
  )
    return { recoverability: null, archive: null };
  const archive: ArchiveHealth = {
    lastArchivedAt: iso(row.last_archived_time),
    lastFailedAt: iso(row.last_failed_time),
    failedCount: Number(row.failed_count ?? 0),
    lastArchivedWal: row.last_archived_wal,
    lastFailedWal: row.last_failed_wal,
    readyCount: row.ready === null ? null : Number(row.ready),
  };
  return { recoverability: { earliest: iso(row.earliest), latest: archive.lastArchivedAt }, archive };
}

/** Warnings in the words of the runbook: what is wrong and what to type. */
export function pitrWarnings(p: PitrStatus, now: Date, archiveTimeoutSeconds = 60): string[] {
  const out: string[] = [];
  const a = p.archive;
  if (!a) return out;
  const failedLast =
    a.lastFailedAt !== null && (a.lastArchivedAt === null || a.lastFailedAt > a.lastArchivedAt);
  if (failedLast)
    out.push(
      `CRITICAL: WAL archiving fails (last failure ${a.lastFailedAt}, segment ${a.lastFailedWal ?? '?'}; ${a.failedCount} failures): commits since ${a.lastArchivedAt ?? 'the start'} cannot be recovered from the archive and pg_wal grows; see the primary's log for pgBackRest's error (docs/operations.md, "A repository is unreachable")`,
    );
  if (a.readyCount !== null && a.readyCount >= READY_WARN)
    out.push(
      `${a.readyCount} WAL segments wait to be archived: the archive lags ${failedLast ? '' : '(archiving is slower than the writes) '}and the recovery point falls behind`,
    );
  else if (
    !failedLast &&
    a.readyCount !== null &&
    a.readyCount > 0 &&
    a.lastArchivedAt !== null &&
    now.getTime() - new Date(a.lastArchivedAt).getTime() > Math.max(5 * archiveTimeoutSeconds, 300) * 1000
  )
    out.push(
      `the newest archived WAL is from ${a.lastArchivedAt} while ${a.readyCount} segments wait: archiving is stuck; see the primary's log`,
    );
  if (p.recoverability && p.recoverability.earliest === null)
    out.push(
      'no physical backup yet: WAL is archived but nothing can be restored to a point in time until one exists; take one: postgres-ops backup --physical --type full',
    );
  return out;
}

/** archive_timeout as PostgreSQL shows it ("1min", "60s", "0") in seconds. */
export function timeoutSeconds(text: string): number {
  const m = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(text.trim());
  if (!m) return 60;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms'
    ? n / 1000
    : unit === 'min'
      ? n * 60
      : unit === 'h'
        ? n * 3600
        : unit === 'd'
          ? n * 86400
          : n;
}
