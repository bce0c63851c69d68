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
  targetDatabase?: string;
  safetyBackup?: boolean;
  force?: boolean;
  snapshot?: string;
};
const out = consoleOutput(() => format);

const EXIT_CODES = `
Exit codes:
  0  success
  1  the operation failed (details on stderr)
  2  bad usage or input: unknown flag, backup, replica or release; nothing was changed
  3  refused for safety: e.g. a destructive command without --yes and without a terminal

Mode: local when --local is given, or when local state exists (.postgres-ops/) and neither
--context nor -n is given; Kubernetes otherwise (kubeconfig from KUBECONFIG or ~/.kube/config).`;

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

const example = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

export function buildOpsProgram(): Command {
  const program = new Command('postgres-ops')
    .description(
      'Operate the pyairtable-stack PostgreSQL: status, backups, restores, snapshots, promotion, local mode.',
    )
    .option('-n, --namespace <namespace>', 'Kubernetes namespace (default: from the kube context)')
    .option('--context <context>', 'kubeconfig context to use')
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
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError();

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
    .addHelpText(
      'after',
      example('postgres-ops backup critical-point-backup', 'postgres-ops backup before-upgrade --jobs 4'),
    )
    .action(
      run(async (deps, name: string | undefined, flags: { jobs?: string }) =>
        (await import('./commands/backup.js')).backup(name, deps, flags),
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
    .addHelpText(
      'after',
      example(
        'postgres-ops restore critical-point-backup',
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
    .description('Interactive psql as the superuser on the primary (or a replica).')
    .option('--replica [name]', 'connect to a replica (the first running one, or NAME)')
    .addHelpText('after', example('postgres-ops connect', 'postgres-ops connect --replica'))
    .action(
      run(async (deps, flags: { replica?: boolean | string }) =>
        (await import('./commands/connect.js')).connect(flags, deps),
      ),
    );

  program
    .command('promote')
    .description(
      'Fenced manual failover: stop the primary, promote REPLICA, point the read-write endpoint at it. Asks for confirmation.',
    )
    .argument('<replica>', 'replica to promote (pod name, or local instance name from status)')
    .addHelpText(
      'after',
      example(
        'postgres-ops promote pyairtable-stack-postgres-replica-0',
        'postgres-ops promote postgres-1 --local --yes',
      ),
    )
    .action(
      run(async (deps, replica: string) => (await import('./commands/promote.js')).promote(replica, deps)),
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
    .addHelpText('after', example('postgres-ops local up', 'postgres-ops local up --replicas 2'))
    .action(
      async (flags: { replicas?: string }, cmd: Command) =>
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
