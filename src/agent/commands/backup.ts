/**
 * postgres-agent backup: one verified, checksummed backup per configured database (the CronJob's
 * command). Exit 0 only if every backup succeeded.
 */
import { backupDatabases } from '../../core/backup/databases.js';
import type { OutputFormat } from '../../core/output.js';
import { formatBytes, formatDuration, renderTable } from '../../core/output.js';
import { connectionFromEnv, runBackup, verifyBackup, type BackupResult } from '../../runtime/backup/index.js';
import { progressOptions } from '../../runtime/progress.js';
import { defaultBackupName, validateBackupName } from '../../core/backup/names.js';
import { withClusterOperation } from '../../runtime/cluster-operation.js';
import type { AgentContext } from '../context.js';

export interface BackupCommandOptions {
  name?: string;
  output?: OutputFormat;
}

function render(r: BackupResult): string {
  return renderTable(
    ['NAME', 'DATABASE', 'SIZE', 'DURATION', 'FILE'],
    r.backups.map((b) => [
      b.name,
      b.database,
      formatBytes(b.sizeBytes),
      formatDuration(b.durationSeconds),
      b.file,
    ]),
  );
}

export async function backup(opts: BackupCommandOptions, ctx: AgentContext): Promise<BackupResult> {
  const env = ctx.env;
  const conn = connectionFromEnv(env);
  // Named before the lock is taken, so a bad name is exit 2 and a refusal names the backup.
  const name = validateBackupName(opts.name ?? defaultBackupName(new Date()));
  const run = () =>
    runBackup(
      {
        conn,
        backupDir: env.PGOPS_BACKUP_DIR,
        databases: backupDatabases(env.PGOPS_BACKUP_DATABASES, env.PGOPS_APP_DATABASE),
        name,
        compression: env.PGOPS_BACKUP_COMPRESSION,
        binDir: env.PGOPS_PG_BIN_DIR,
        progress: progressOptions(env, ctx.log),
        afterEach: env.PGOPS_BACKUP_DEEP_VERIFY
          ? async (m) => {
              await verifyBackup(
                {
                  backupDir: env.PGOPS_BACKUP_DIR,
                  target: m.name,
                  deep: true,
                  conn,
                  jobs: env.PGOPS_RESTORE_JOBS,
                  binDir: env.PGOPS_PG_BIN_DIR,
                },
                { log: ctx.log },
              );
            }
          : undefined,
      },
      { log: ctx.log },
    );
  const result = await withClusterOperation(conn, `backup ${name}`, run, { log: ctx.log });
  ctx.out.result(result, opts.output ?? 'table', render);
  return result;
}
