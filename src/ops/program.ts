/**
 * postgres-ops: what a person runs against a release, on Kubernetes or in local mode. Flags are
 * declared here once; each verb lives in commands/<verb>.ts and is loaded when used.
 */
import { Command, Option } from 'commander';
import type { OutputFormat } from '../core/output.js';
import { consoleOutput, parseOutputFormat } from '../runtime/cli.js';
import { makeDeps } from './deps.js';
import { DEFAULT_RELEASE, type GlobalOptions } from './options.js';

let format: OutputFormat = 'table';

type RestoreFlagsArg = {
  time?: string;
  lsn?: string;
  latest?: boolean;
  undo?: boolean;
  targetDatabase?: string;
  safetyBackup?: boolean;
  force?: boolean;
  snapshot?: string;
};
const out = consoleOutput(() => format);
type LocalUpFlags = {
  replicas?: string;
  synchronous?: boolean;
  failover?: 'automatic' | 'manual';
  fresh?: boolean;
};

const EXIT_CODES = `
Exit codes:
  0  success
  1  the operation failed (details on stderr)
  2  bad usage or input: unknown flag, backup, replica or release; nothing was changed
  3  refused for safety: e.g. a destructive command without --yes and without a terminal

Mode: local when --local is given, or when local state exists (.postgres-ops/) and none of
--context, --kubeconfig and -n is given; Kubernetes otherwise (kubeconfig from --kubeconfig,
KUBECONFIG or ~/.kube/config).`;

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

const example = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

export function buildOpsProgram(): Command {
  const program = new Command('postgres-ops')
    .description(
      'Operate the pyairtable-stack PostgreSQL: status, backups, restores, snapshots, promotion, local mode.',
    )
    .option('-n, --namespace <namespace>', 'Kubernetes namespace (default: from the kube context)')
    .option('--context <context>', 'kubeconfig context to use')
    .option('--kubeconfig <file>', 'kubeconfig file to use (default: KUBECONFIG or ~/.kube/config)')
    .option('--release <name>', 'Helm release name', DEFAULT_RELEASE)
    .addOption(
      new Option('-o, --output <format>', 'table or json')
        .default('table')
        .argParser((v) => (format = parseOutputFormat(v))),
    )
    .option('--yes', 'do not ask for confirmation before destructive actions')
    .option('--local', 'use the local mode (processes on this machine) even without local state')
    .option('--state-dir <dir>', 'local mode state folder (default: .postgres-ops/ at the repository root)')
    .option('--debug', 'print stack traces')
    .addHelpText('after', EXIT_CODES)
    .configureHelp({ showGlobalOptions: true });

  const run = <A extends unknown[]>(
    fn: (deps: Awaited<ReturnType<typeof makeDeps>>, ...a: A) => Promise<unknown>,
  ) =>
    async function (this: Command, ...args: unknown[]) {
      const cmd = args[args.length - 1] as Command;
      const deps = await makeDeps(globals(cmd), out);
      await fn(deps, ...(args.slice(0, -1) as A));
    };

  program
    .command('status')
    .description(
      'Primary and replicas (role, ready, timeline, lag), storage, last backup and snapshot, warnings.',
    )
    .addHelpText('after', example('postgres-ops status', 'postgres-ops status -o json | jq .instances'))
    .action(run(async (deps) => (await import('./commands/status.js')).status(deps)));

  program
    .command('backup')
    .description(
      'Take a verified backup now (Kubernetes: a Job from the backup CronJob, followed to the end).',
    )
    .argument('[name]', 'backup name (default backup_YYYYMMDD_HHMMSS)')
    .option(
      '--jobs <n>',
      'dump tables with N parallel pg_dump jobs (still one file; default: the chart value backup.jobs)',
    )
    .option(
      '--physical',
      'a physical backup with pgBackRest (point-in-time recovery) instead of a logical dump',
    )
    .option('--type <type>', 'with --physical: full, diff or incr', 'full')
    .addHelpText(
      'after',
      example(
        'postgres-ops backup critical-point-backup',
        'postgres-ops backup before-upgrade --jobs 4',
        'postgres-ops backup --physical --type full',
        'postgres-ops backup before-migration --physical --type diff',
      ),
    )
    .action(
      run(
        async (
          deps,
          name: string | undefined,
          flags: { jobs?: string; physical?: boolean; type?: string },
        ) =>
          flags.physical
            ? (await import('./commands/physical.js')).physicalBackup(name, flags, deps)
            : (await import('./commands/backup.js')).backup(name, deps, flags),
      ),
    );

  program
    .command('list-backups')
    .description('Complete backups, newest first (a failed or interrupted one is never listed).')
    .addHelpText('after', example('postgres-ops list-backups', 'postgres-ops list-backups -o json'))
    .action(run(async (deps) => (await import('./commands/list-backups.js')).listBackups(deps)));

  program
    .command('restore')
    .description(
      'Replace the database with a backup (name, file or URL); a safety backup is taken first. Asks for confirmation.',
    )
    .argument(
      '[file]',
      "backup name, file (the guide's NAME.sql.gz names work too) or gs:// s3:// azure:// URL",
    )
    .option('--snapshot <name>', 'local mode: restore every instance from a snapshot instead')
    .option('--target-database <db>', 'database to restore into (default: the one in the backup)')
    .option('--no-safety-backup', 'do not back up the current data first')
    .option('--force', 'restore even if the checksum does not match')
    .option('--time <timestamp>', 'point in time: restore the whole cluster to this moment (ISO 8601)')
    .option('--lsn <lsn>', 'point in time: restore the whole cluster to this WAL position')
    .option('--latest', 'point in time: restore the whole cluster to the last archived commit')
    .option('--undo', 'put back the data directories the last point-in-time restore kept aside')
    .addHelpText(
      'after',
      example(
        'postgres-ops restore critical-point-backup',
        'postgres-ops restore --time "2026-11-30 14:02:00+00:00"',
        'postgres-ops restore --latest --yes',
        'postgres-ops restore ./cluster-migration-backup.sql.gz --yes',
        'postgres-ops restore --snapshot emergency-snapshot --local',
      ),
    )
    .action(
      run(async (deps, file: string | undefined, flags: RestoreFlagsArg) =>
        (await import('./commands/restore.js')).restore(file, flags, deps),
      ),
    );

  program
    .command('drill')
    .description(
      'Recovery drill: restore the newest physical backup and WAL into scratch space, recover, check indexes (amcheck) and row counts, report the recovery time, clean up.',
    )
    .addHelpText('after', example('postgres-ops drill', 'postgres-ops drill -o json'))
    .action(run(async (deps) => (await import('./commands/physical.js')).drill(deps)));

  program
    .command('verify')
    .description("Check a backup's checksum and contents (--deep: restore into a scratch database).")
    .argument('[file]', 'backup name or file (default: the newest)')
    .option('--all', 'verify every backup')
    .option('--deep', 'restore into a scratch database and compare row counts')
    .addHelpText('after', example('postgres-ops verify critical-point-backup --deep'))
    .action(
      run(async (deps, file: string | undefined, flags: { all?: boolean; deep?: boolean }) =>
        (await import('./commands/verify.js')).verify(file, flags, deps),
      ),
    );

  program
    .command('snapshot')
    .description(
      "Snapshot the primary's data volume (Kubernetes: VolumeSnapshot; local: pg_basebackup copy).",
    )
    .argument('[name]', 'snapshot name')
    .addHelpText('after', example('postgres-ops snapshot emergency-snapshot'))
    .action(
      run(async (deps, name: string | undefined) =>
        (await import('./commands/snapshot.js')).snapshot(name, deps),
      ),
    );

  program
    .command('list-snapshots')
    .description('Snapshots of the release, newest first.')
    .addHelpText('after', example('postgres-ops list-snapshots -o json'))
    .action(run(async (deps) => (await import('./commands/snapshot.js')).listSnapshots(deps)));

  program
    .command('monitor')
    .description('Live view: connections, TPS, cache hit ratio, replication lag, locks, longest queries.')
    .option('--once', 'print one sample and exit')
    .option('--interval <seconds>', 'refresh interval', '2')
    .addHelpText('after', example('postgres-ops monitor', 'postgres-ops monitor --once -o json'))
    .action(
      run(async (deps, flags: { once?: boolean; interval?: string }) =>
        (await import('./commands/monitor.js')).monitor(flags, deps),
      ),
    );

  program
    .command('connect')
    .description(
      'Interactive psql as the superuser on the primary (or a replica), in the application database: the one backups cover (local mode and the chart default: pyairtable).',
    )
    .option('--replica [name]', 'connect to a replica (the first running one, or NAME)')
    .option('--database <name>', 'another database (not backed up unless it is listed in backup.databases)')
    .addHelpText(
      'after',
      example(
        'postgres-ops connect',
        'postgres-ops connect --replica',
        'postgres-ops connect --database postgres',
      ),
    )
    .action(
      run(async (deps, flags: { replica?: boolean | string; database?: string }) =>
        (await import('./commands/connect.js')).connect(flags, deps),
      ),
    );

  program
    .command('migrate')
    .description(
      "Apply a schema migration version as the chart's migration Job does: lock, one transaction, history, a safety backup first (local mode; on Kubernetes it prints the helm line).",
    )
    .argument('<version>', 'version to apply: the folder <dir>/<version>/ of SQL files')
    .option('--dry-run', 'print the plan, change nothing')
    .option('--dir <dir>', "folder of migration versions (default: the chart's files/migrations)")
    .option('--description <text>', 'description recorded in the history table')
    .addHelpText(
      'after',
      example(
        'postgres-ops migrate 2.0.0 --dry-run',
        'postgres-ops migrate 2.1.0 --dir ./migrations --description "Add teams"',
      ),
    )
    .action(
      run(async (deps, version: string, flags: { dryRun?: boolean; dir?: string; description?: string }) =>
        (await import('./commands/migrate.js')).migrate(version, flags, deps),
      ),
    );

  program
    .command('promote')
    .description(
      'Make a member the primary: a switchover while the primary is healthy, a failover when it is gone. Refuses (exit 3) a candidate that is not streaming or lags, saying how many bytes would be lost. Asks for confirmation.',
    )
    .argument('<member>', 'member to promote (pod name, or local instance name from status)')
    .option('--force', 'promote even though the candidate lags or does not stream (what it lacks is lost)')
    .option('--dry-run', 'check the candidate and say what would happen; change nothing')
    .addHelpText(
      'after',
      example(
        'postgres-ops promote pyairtable-stack-postgres-1 --dry-run',
        'postgres-ops promote pyairtable-stack-postgres-1',
        'postgres-ops promote postgres-1 --local --yes',
      ),
    )
    .action(
      run(async (deps, member: string, flags: { force?: boolean; dryRun?: boolean }) =>
        (await import('./commands/promote.js')).promote(member, flags, deps),
      ),
    );

  const local = program
    .command('local')
    .description(
      'PostgreSQL on this machine without Kubernetes: a primary, streaming replicas, metrics, backups.',
    )
    .addHelpText(
      'after',
      example('postgres-ops local up', 'postgres-ops local status', 'postgres-ops local down'),
    );

  local
    .command('up')
    .description('Start whatever is not running (primary, replicas, exporter); take a first verified backup.')
    .option('--replicas <n>', 'number of streaming replicas (default 1 on first start; never removes one)')
    .option('--synchronous', 'synchronous replication: a commit waits for a replica, a failover loses none')
    .option('--no-synchronous', 'asynchronous replication (the default)')
    .addOption(
      new Option(
        '--failover <mode>',
        'automatic (Patroni promotes a replica when the primary is gone) or manual',
      ).choices(['automatic', 'manual']),
    )
    .option(
      '--fresh',
      'start a new, empty cluster although the data of the earlier one is gone and backups or snapshots of it exist (restore one next)',
    )
    .addHelpText(
      'after',
      example(
        'postgres-ops local up',
        'postgres-ops local up --replicas 2 --synchronous',
        'postgres-ops local up --failover manual',
        'postgres-ops local up --fresh',
      ),
    )
    .action(
      async (flags: LocalUpFlags, cmd: Command) =>
        void (await (await import('./commands/local.js')).localUpCommand(flags, globals(cmd), out)),
    );

  local
    .command('down')
    .description('Stop the local instances and exporter (SIGTERM, wait); data is kept.')
    .addHelpText('after', example('postgres-ops local down'))
    .action(
      async (_flags: unknown, cmd: Command) =>
        void (await (await import('./commands/local.js')).localDownCommand(globals(cmd), out)),
    );

  local
    .command('destroy')
    .description(
      'Stop everything and delete the state folder (data, backups, passwords). Asks for confirmation.',
    )
    .addHelpText('after', example('postgres-ops local destroy --yes'))
    .action(
      async (_flags: unknown, cmd: Command) =>
        void (await (await import('./commands/local.js')).localDestroyCommand(globals(cmd), out)),
    );

  local
    .command('status')
    .description('status of the local mode.')
    .addHelpText('after', example('postgres-ops local status -o json'))
    .action(
      async (_flags: unknown, cmd: Command) =>
        void (await (await import('./commands/local.js')).localStatusCommand(globals(cmd), out)),
    );

  return program;
}
