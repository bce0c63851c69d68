/**
 * Local mode keeps backups the way the chart's backup CronJob does: after each backup, `postgres-agent
 * prune` with the chart's default retention (never the newest verified backup, never a file that
 * is not ours).
 */
import type { Output } from '../core/output.js';
import { pruneResultSchema } from '../core/backup/results.js';
import { runAgentJson } from './agent.js';

/** databases.postgres.backup.retentionDays in the chart's values.yaml (a chart test keeps them equal). */
export const LOCAL_BACKUP_RETENTION_DAYS = 7;

/** Prunes after a backup; a failure is reported as a line, since the backup itself succeeded. */
export async function pruneAfterBackup(env: NodeJS.ProcessEnv, out: Output): Promise<string[]> {
  try {
    const r = await runAgentJson(
      {
        args: ['prune'],
        env: { ...env, PGOPS_BACKUP_RETENTION_DAYS: String(LOCAL_BACKUP_RETENTION_DAYS) },
      },
      pruneResultSchema,
    );
    for (const name of r.deleted)
      out.line(`retention: deleted ${name} (older than ${LOCAL_BACKUP_RETENTION_DAYS} days)`);
    return r.deleted;
  } catch (err) {
    out.line(`retention did not run: ${(err as Error).message} (the backup itself is complete)`);
    return [];
  }
}
