/**
 * postgres-agent restore [FILE|NAME|URL]: restores into a new database, or with --replace swaps an
 * existing one after a safety backup. Replacing needs --yes, or a person typing the database name
 * at a terminal; the chart's restore Job passes `--replace --yes` (enabling it is the request).
 */
import { UsageError } from '../../core/errors.js';
import { refuseUnsupportedUrl } from '../../core/sync/url.js';
import type { OutputFormat } from '../../core/output.js';
import { formatDuration } from '../../core/output.js';
import { connectionFromConfig, restoreBackup, type RestoreResult } from '../../runtime/backup/index.js';
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
  const config = ctx.config;
  const source = file ?? config.restore.file;
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
  const conn = connectionFromConfig(config);
  const run = () =>
    restoreBackup(
      {
        conn,
        backupDir: config.backup.dir,
        source,
        targetDatabase: opts.targetDatabase ?? config.restore.targetDatabase,
        fallbackDatabase: config.roles.appDatabase,
        replace: !!opts.replace,
        safetyBackup: opts.safetyBackup !== false && config.restore.safetyBackup,
        safetyBackupCompression: config.backup.compression,
        safetyBackupJobs: config.backup.jobs,
        force: !!opts.force,
        yes: !!opts.yes,
        confirm: tty
          ? async (question: string, expected: string) => (await ctx.out.ask(question)).trim() === expected
          : undefined,
        jobs: opts.jobs ?? config.restore.jobs,
        keepPrevious: config.restore.keepPrevious,
        binDir: config.instance.binDir,
        objectStore: ctx.config,
        rawEnv: ctx.rawEnv,
        progress: progressOptions(config.agent, ctx.log),
      },
      { log: ctx.log },
    );
  const r = await withClusterOperation(conn, `restore ${describeSource(source)}`, run, { log: ctx.log });
  ctx.out.result(r, opts.output ?? 'table', render);
  return r;
}
