/**
 * postgres-agent: what the chart's containers run. One binary, one subcommand per role. Commands
 * are loaded lazily so that `instance` (PID 1 of every database pod) does not load cloud SDKs.
 */
import { Command, type CommandUnknownOpts, Option } from '@commander-js/extra-typings';
import { oneOf, wholeNumber } from '../core/cli-args.js';
import { loadAgentConfig, loadAgentEnv } from '../core/config/load.js';
import { jobsArg } from '../core/jobs.js';
import { physicalTypeSchema } from '../core/pitr/results.js';
import { describeAgentEnv } from '../core/config/schema.js';
import type { OutputFormat } from '../core/output.js';
import { parseOutputFormat } from '../runtime/cli.js';
import { consoleOutput } from '../runtime/output-host.js';
import { createLogger } from '../runtime/log.js';
import { switchToUser } from '../runtime/privileges.js';
import type { AgentContext } from './context.js';

let format: OutputFormat = 'table';
const out = consoleOutput(() => format);

function context(): AgentContext {
  const config = loadAgentConfig(process.env);
  // The command's module is loaded by now (context() is evaluated after its import).
  if (config.agent.runAsUser) switchToUser(config.agent.runAsUser);
  return {
    config,
    rawEnv: process.env,
    log: createLogger(config.agent.logFormat),
    out,
  };
}

const outputOption = () =>
  new Option('-o, --output <format>', 'table, json or yaml')
    .default('table' as const)
    .argParser((v) => (format = parseOutputFormat(v)));

const PHYSICAL_TYPES = physicalTypeSchema.options;
const physicalType = (what: string) =>
  new Option('--type <type>', what)
    .choices(PHYSICAL_TYPES)
    .argParser(oneOf('--type', PHYSICAL_TYPES, 'Example: postgres-ops backup --physical --type diff'))
    .default('full' as const);

export function buildAgentProgram(): CommandUnknownOpts {
  const program = new Command('postgres-agent')
    .description(
      'In-pod commands of the pyairtable-stack PostgreSQL chart. Configuration comes from PGOPS_* environment variables.',
    )
    .option('--debug', 'print stack traces');

  program
    .command('instance')
    .description(
      "Run this member: PostgreSQL under Patroni (configured from the PGOPS_* settings), the agent's probes, full-disk reporting and healing.",
    )
    .action(async () => {
      await (await import('./commands/instance.js')).instance(context());
    });

  program
    .command('bootstrap-hook')
    .description(
      "Patroni's post_bootstrap hook: create the application role and database and the pgops schema.",
    )
    .argument('[connstring]', 'connection string Patroni appends (the member socket is used instead)')
    .action(async () => {
      await (await import('./commands/bootstrap-hook.js')).bootstrapHook(context());
    });

  program
    .command('promote')
    .description(
      'Make a member the primary through Patroni: switchover when the primary is healthy, failover when it is gone; refuses a candidate that is not streaming or lags.',
    )
    .option('--candidate <name>', 'member to promote (default: this member, PGOPS_POD_NAME)')
    .option('--force', 'promote even though the candidate lags or does not stream (what it lacks is lost)')
    .option('--plan', 'check and print what would happen; change nothing')
    .addOption(
      new Option('--timeout-seconds <n>', 'how long to wait for the new primary to accept writes')
        .argParser(
          wholeNumber(
            '--timeout-seconds',
            { min: 1 },
            'Example: postgres-agent promote --timeout-seconds 90',
          ),
        )
        .default(90),
    )
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/promote.js')).promote(opts, context());
    });

  program
    .command('ha')
    .description(
      "The cluster as this member's Patroni sees it: leader, members, lag, failover mode, synchronous standby.",
    )
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/ha.js')).ha(opts, context());
    });

  program
    .command('backup')
    .description('Dump the application database(s) and globals, verify, checksum and record the backup.')
    .option('--name <name>', 'backup name (default backup_YYYYMMDD_HHMMSS)')
    .addOption(
      new Option(
        '--jobs <n>',
        'parallel pg_dump jobs (default PGOPS_BACKUP_JOBS, 1: one custom-format archive)',
      ).argParser(jobsArg('Example: --jobs 4 (1 writes one custom-format archive)')),
    )
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/backup.js')).backup(opts, context());
    });

  program
    .command('physical-backup')
    .description(
      'A physical backup with pgBackRest into every repository on this machine, then retention (expire); every outcome is recorded on the primary.',
    )
    .addOption(physicalType('full, diff or incr'))
    .option('--name <name>', "a name, kept as the backup's annotation")
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/physical.js')).physicalBackup(opts, context());
    });

  program
    .command('physical-info')
    .description("pgBackRest's physical backups, the archive and the recoverability window.")
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/physical.js')).physicalInfo(opts, context());
    });

  program
    .command('pitr-restore')
    .description(
      'Check a point-in-time target (window, archive up to date, timeline); with --into, restore and recover a new data directory there, shut down cleanly.',
    )
    .option('--time <timestamp>', 'recover to this time (ISO 8601)')
    .option('--lsn <lsn>', 'recover to this WAL position')
    .option('--latest', 'recover everything archived')
    .option('--into <dir>', 'new data directory to restore into')
    .option('--plan', 'only check the target and say what would be restored')
    .option(
      '--reopen <dir>',
      'put a cleanly stopped data directory on a timeline of its own (restore --undo)',
    )
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/pitr-restore.js')).pitrRestore(opts, context());
    });

  program
    .command('cluster-restore')
    .description(
      "Kubernetes: restore the whole cluster to a point in time (the chart's restore Job): check the target in the repository pod, stop every member, member 0 restores on its volume before it starts, the others re-clone, a full backup starts the new window. Running it again resumes an interrupted one.",
    )
    .option('--time <timestamp>', 'recover to this time (ISO 8601 with offset)')
    .option('--lsn <lsn>', 'recover to this WAL position')
    .option('--latest', 'recover everything archived')
    .option('--yes', 'confirm: every member stops and its data is replaced (kept aside on its volume)')
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/cluster-restore.js')).clusterRestore(opts, context());
    });

  program
    .command('restore-request')
    .description(
      "A member's init container: carry out this member's part of a whole-cluster restore request, if any (member 0 restores, the others move their data aside to re-clone).",
    )
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/cluster-restore.js')).restoreRequest(opts, context());
    });

  program
    .command('drill')
    .description(
      'Recovery drill: restore the newest physical backup and WAL into scratch space, recover, run amcheck and compare row counts with the source, record the result, clean up.',
    )
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/drill.js')).drill(opts, context());
    });

  program
    .command('repo-host')
    .description(
      "The repository pod: repo1 on its volume, pgBackRest's TLS server for the members, the stanza created once the primary answers.",
    )
    .action(async () => {
      await (await import('./commands/repo-host.js')).repoHost(context());
    });

  program
    .command('scheduled')
    .description('What the physical backup and drill CronJobs run: the same command in the repository pod.')
    .argument('<what>', 'physical-backup or drill')
    .addOption(physicalType('physical-backup: full, diff or incr'))
    .addOption(outputOption())
    .action(async (what, opts) => {
      await (await import('./commands/repo-host.js')).scheduled(what, opts, context());
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
    .addOption(new Option('--jobs <n>', 'parallel restore jobs').argParser(jobsArg()))
    .option('--yes', 'do not ask for confirmation')
    .addOption(outputOption())
    .action(async (file, opts) => {
      await (await import('./commands/restore.js')).restore(file, opts, context());
    });

  program
    .command('repair')
    .description(
      'Undo what an interrupted restore left: reopen a database fenced next to its <db>__restoring copy, drop unfinished copies.',
    )
    .addOption(outputOption())
    .action(async (opts) => {
      await (await import('./commands/repair.js')).repair(opts, context());
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
    .action((opts) => {
      const env = loadAgentEnv(process.env);
      if (opts.check) return;
      for (const { key, description } of describeAgentEnv()) {
        const secret = /PASSWORD(?!_FILE)/.test(key);
        const value = (env as Record<string, string | number | boolean | undefined>)[key];
        out.stdout.write(`${key}=${secret && value ? '<set>' : (value ?? '')}\t# ${description}\n`);
      }
    });

  return program;
}
