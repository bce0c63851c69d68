/**
 * SQL that brackets a volume snapshot with PostgreSQL's non-exclusive backup mode: an immediate
 * checkpoint before the cut (short crash recovery on restore) and full-page writes forced while the
 * volume is copied. Non-exclusive mode ends when its session ends, so the same connection must stay
 * open until the snapshot is cut. PostgreSQL 15 renamed the functions.
 */
export function backupStartSql(serverVersionNum: number): string {
  return serverVersionNum >= 150000
    ? 'SELECT pg_backup_start($1, true)::text AS lsn'
    : 'SELECT pg_start_backup($1, true, false)::text AS lsn';
}

export function backupStopSql(serverVersionNum: number): string {
  return serverVersionNum >= 150000
    ? 'SELECT lsn::text AS lsn FROM pg_backup_stop(false)'
    : 'SELECT lsn::text AS lsn FROM pg_stop_backup(false)';
}

export const TIMELINE_SQL = 'SELECT timeline_id FROM pg_control_checkpoint()';
