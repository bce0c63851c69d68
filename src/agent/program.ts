/**
 * postgres-agent: what the chart's containers run. One binary, one subcommand per role. Commands
 * are loaded lazily so that `instance` (PID 1 of every database pod) does not load cloud SDKs.
 */
import { Command, Option } from 'commander';
import { loadAgentEnv } from '../core/config/load.js';
import { describeAgentEnv } from '../core/config/schema.js';
import type { OutputFormat } from '../core/output.js';
import { consoleOutput, parseOutputFormat } from '../runtime/cli.js';
import { createLogger } from '../runtime/log.js';
import { switchToUser } from '../runtime/privileges.js';
import type { AgentContext } from './context.js';

let format: OutputFormat = 'table';

function context(): AgentContext {
  const env = loadAgentEnv(process.env);
  // The command's module is loaded by now (context() is evaluated after its import).
  if (env.PGOPS_RUN_AS_USER) switchToUser(env.PGOPS_RUN_AS_USER);
  return {
    env,
    rawEnv: process.env,
    log: createLogger(env.PGOPS_LOG_FORMAT),
    out: consoleOutput(() => format),
  };
}

const outputOption = () =>
  new Option('-o, --output <format>', 'table or json')
    .default('table')
    .argParser((v) => (format = parseOutputFormat(v)));

export function buildAgentProgram(): Command {
  const program = new Command('postgres-agent')
    .description(
      'In-pod commands of the pyairtable-stack PostgreSQL chart. Configuration comes from PGOPS_* environment variables.',
    )
    .option('--debug', 'print stack traces')
    .showHelpAfterError();

  program
    .command('instance')
    .description(
      'Supervise PostgreSQL in this container: initdb or clone on an empty volume, start, health endpoints, clean shutdown.',
    )
    .action(async () => {
      await (await import('./commands/instance.js')).instance(context());
    });

  program
    .command('promote')
    .description('Promote this replica to primary; refuses while the old primary still accepts writes.')
    .option('--force', 'promote even though the old primary still answers (risk of two primaries)')
    .option('--wait-seconds <n>', 'how long pg_promote may take', '60')
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/promote.js')).promote(opts, context());
    });

  program
    .command('backup')
    .description('Dump the application database(s) and globals, verify, checksum and record the backup.')
    .option('--name <name>', 'backup name (default backup_YYYYMMDD_HHMMSS)')
    .option('--jobs <n>', 'parallel pg_dump jobs (default PGOPS_BACKUP_JOBS, 1: one custom-format archive)')
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/backup.js')).backup(opts, context());
    });

  program
    .command('verify')
    .description(
      "Check a backup's checksum and archive contents; --deep restores it into a scratch database.",
    )
    .argument('[file]', 'backup file or name')
    .option('--all', 'verify every backup')
    .option('--deep', 'restore into a scratch database and compare row counts')
    .addOption(outputOption())
    .action(async (file, opts) => {
      await (await import('./commands/verify.js')).verify(file, opts, context());
    });

  program
    .command('prune')
    .description(
      'Delete backups older than the retention; never the newest verified one, never a file we did not create.',
    )
    .option('--dry-run', 'print the plan, delete nothing')
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/prune.js')).prune(opts, context());
    });

  program
    .command('list-backups')
    .description('Complete backups, newest first.')
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/list-backups.js')).listBackups(opts, context());
    });

  program
    .command('restore')
    .description('Restore a backup file or URL into a new database, or replace an existing one.')
    .argument('[file]', 'backup file, name or URL (default: PGOPS_RESTORE_FILE)')
    .option('--target-database <db>', 'database to restore into')
    .option('--replace', 'replace the target database if it exists (a safety backup is taken first)')
    .option('--no-safety-backup', 'do not take a safety backup before replacing')
    .option('--force', 'restore even if the checksum does not match')
    .option('--jobs <n>', 'parallel restore jobs')
    .option('--yes', 'do not ask for confirmation')
    .addOption(outputOption())
    .action(async (file, opts) => {
      await (await import('./commands/restore.js')).restore(file, opts, context());
    });

  program
    .command('snapshot')
    .description("Create a VolumeSnapshot of the primary's data PVC, wait until ready, apply retention.")
    .option('--name <name>', 'snapshot name')
    .option('--dry-run', 'print the plan, change nothing')
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/snapshot.js')).snapshot(opts, context());
    });

  program
    .command('sync')
    .description('Copy verified backups and manifests to the configured object store.')
    .option('--dry-run', 'print the plan, upload nothing')
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/sync.js')).sync(opts, context());
    });

  program
    .command('migrate')
    .description(
      'Apply the SQL migrations of a version under an advisory lock, in one transaction, recording history.',
    )
    .option('--version <version>', 'version to apply (default: PGOPS_MIGRATION_VERSION)')
    .option('--dry-run', 'print the plan, apply nothing')
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/migrate.js')).migrate(opts, context());
    });

  program
    .command('config')
    .description('Validate the PGOPS_* environment and list every setting with its description.')
    .option('--check', 'only validate; exit 2 listing every bad key')
    .action((opts: { check?: boolean }) => {
      const env = loadAgentEnv(process.env);
      if (opts.check) return;
      for (const { key, description } of describeAgentEnv()) {
        const secret = /PASSWORD(?!_FILE)/.test(key);
        const value = (env as Record<string, unknown>)[key];
        process.stdout.write(`${key}=${secret && value ? '<set>' : (value ?? '')}\t# ${description}\n`);
      }
    });

  return program;
}
