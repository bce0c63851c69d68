/**
 * postgres-agent backup: one verified, checksummed backup per configured database (the CronJob's
 * command). Exit 0 only if every backup succeeded. SIGINT, SIGTERM and SIGHUP stop it cleanly: its
 * programs are stopped, its temporary files removed and the outcome recorded in
 * pgops.backup_history before it exits 1 (SIGKILL cannot be caught: the next run cleans up).
 */
import { backupDatabases } from '../../core/backup/databases.js';
import type { OutputFormat } from '../../core/output.js';
import { formatBytes, formatDuration, renderTable } from '../../core/output.js';
import {
  connectionFromConfig,
  runBackup,
  verifyBackup,
  type BackupResult,
} from '../../runtime/backup/index.js';
import { progressOptions } from '../../runtime/progress.js';
import { defaultBackupName, validateBackupName } from '../../core/backup/names.js';
import { withClusterOperation } from '../../runtime/cluster-operation.js';
import type { AgentContext } from '../context.js';

export interface BackupCommandOptions {
  name?: string;
  jobs?: number;
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

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Turns the stop signals into an abort for the duration of `fn`. Repeats are ignored: cleaning up
 * takes a moment, and a second Ctrl-C (or the same SIGINT forwarded by postgres-ops) must not cut it
 * short. Writes to a closed terminal or pipe (the caller went away) must not end it either.
 */
async function stoppable<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!ac.signal.aborted) ac.abort(sig);
  };
  const ignoreEpipe = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  process.stdout.on('error', ignoreEpipe);
  process.stderr.on('error', ignoreEpipe);
  try {
    return await fn(ac.signal);
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
}

export async function backup(opts: BackupCommandOptions, ctx: AgentContext): Promise<BackupResult> {
  const config = ctx.config;
  const conn = connectionFromConfig(config);
  const jobs = opts.jobs ?? config.backup.jobs;
  // Named before the lock is taken, so a bad name is exit 2 and a refusal names the backup.
  const name = validateBackupName(opts.name ?? defaultBackupName(new Date()));
  const run = (signal: AbortSignal) =>
    runBackup(
      {
        conn,
        backupDir: config.backup.dir,
        databases: backupDatabases(config.backup.databases, config.roles.appDatabase),
        name,
        compression: config.backup.compression,
        jobs,
        signal,
        binDir: config.instance.binDir,
        progress: progressOptions(config.agent, ctx.log),
        afterEach: config.backup.deepVerify
          ? async (m) => {
              await verifyBackup(
                {
                  backupDir: config.backup.dir,
                  target: m.name,
                  deep: true,
                  conn,
                  jobs: config.restore.jobs,
                  binDir: config.instance.binDir,
                  signal,
                },
                { log: ctx.log },
              );
            }
          : undefined,
      },
      { log: ctx.log },
    );
  const result = await stoppable((signal) =>
    withClusterOperation(conn, `backup ${name}`, () => run(signal), { log: ctx.log }),
  );
  ctx.out.result(result, opts.output ?? 'table', render);
  return result;
}
