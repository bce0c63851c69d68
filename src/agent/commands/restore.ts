/**
 * postgres-agent restore [FILE|NAME|URL]: restores into a new database, or with --replace swaps an
 * existing one after a safety backup. Replacing needs --yes, or a person typing the database name
 * at a terminal; the chart's restore Job passes `--replace --yes` (enabling it is the request).
 */
import { UsageError } from '../../core/errors.js';
import { refuseUnsupportedUrl } from '../../core/sync/url.js';
import type { OutputFormat } from '../../core/output.js';
import { formatDuration } from '../../core/output.js';
import { connectionFromEnv, restoreBackup, type RestoreResult } from '../../runtime/backup/index.js';
import { progressOptions } from '../../runtime/progress.js';
import { withClusterOperation } from '../../runtime/cluster-operation.js';
import type { AgentContext } from '../context.js';

export interface RestoreCommandOptions {
  targetDatabase?: string;
  replace?: boolean;
  safetyBackup?: boolean;
  force?: boolean;
  jobs?: number;
  yes?: boolean;
  output?: OutputFormat;
}

/** The source as a refusal names it: a URL without its query (which may hold a signature). */
function describeSource(source: string): string {
  return source.replace(/[?#].*$/, '');
}

function render(r: RestoreResult): string {
  const lines = [
    `database/${r.database} restored from ${r.file} (${r.format}) in ${formatDuration(r.durationSeconds)}`,
  ];
  if (r.safetyBackup) lines.push(`safety backup: ${r.safetyBackup}`);
  if (r.previousDatabase) lines.push(`previous database kept as ${r.previousDatabase}`);
  if (r.rolesCreated.length) lines.push(`roles created (without passwords): ${r.rolesCreated.join(', ')}`);
  return lines.join('\n');
}

export async function restore(
  file: string | undefined,
  opts: RestoreCommandOptions,
  ctx: AgentContext,
): Promise<RestoreResult> {
  const env = ctx.env;
  const source = file ?? env.PGOPS_RESTORE_FILE;
  if (!source)
    throw new UsageError(
      'E_USAGE',
      'no backup to restore was given',
      {},
      {
        hint: 'postgres-agent restore NAME|FILE|URL (or set PGOPS_RESTORE_FILE); list backups with postgres-agent list-backups',
      },
    );
  refuseUnsupportedUrl(source);
  const tty = ctx.out.isInteractive();
  const conn = connectionFromEnv(env);
  const run = () =>
    restoreBackup(
      {
        conn,
        backupDir: env.PGOPS_BACKUP_DIR,
        source,
        targetDatabase: opts.targetDatabase ?? env.PGOPS_RESTORE_TARGET_DATABASE,
        fallbackDatabase: env.PGOPS_APP_DATABASE,
        replace: !!opts.replace,
        safetyBackup: opts.safetyBackup !== false && env.PGOPS_RESTORE_SAFETY_BACKUP,
        safetyBackupCompression: env.PGOPS_BACKUP_COMPRESSION,
        safetyBackupJobs: env.PGOPS_BACKUP_JOBS,
        force: !!opts.force,
        yes: !!opts.yes,
        confirm: tty
          ? async (question: string, expected: string) => (await ctx.out.ask(question)).trim() === expected
          : undefined,
        jobs: opts.jobs ?? env.PGOPS_RESTORE_JOBS,
        keepPrevious: env.PGOPS_RESTORE_KEEP_PREVIOUS,
        binDir: env.PGOPS_PG_BIN_DIR,
        agentEnv: env,
        rawEnv: ctx.rawEnv,
        progress: progressOptions(env, ctx.log),
      },
      { log: ctx.log },
    );
  const r = await withClusterOperation(conn, `restore ${describeSource(source)}`, run, { log: ctx.log });
  ctx.out.result(r, opts.output ?? 'table', render);
  return r;
}
