/**
 * postgres-ops: what a person runs against a release, on Kubernetes or in local mode. Flags are
 * declared here once; each verb lives in commands/<verb>.ts and is loaded when used.
 */
import { Command, type CommandUnknownOpts, Option } from '@commander-js/extra-typings';
import { oneOf, seconds, wholeNumber } from '../core/cli-args.js';
import { jobsArg } from '../core/jobs.js';
import { physicalTypeSchema } from '../core/pitr/results.js';
import type { OutputFormat } from '../core/output.js';
import { parseOutputFormat } from '../runtime/cli.js';
import { consoleOutput } from '../runtime/output-host.js';
import { makeDeps, makeLocalDeps, type OpsDeps } from './deps.js';
import { DEFAULT_RELEASE, type GlobalOptions } from './options.js';

let format: OutputFormat = 'table';
const out = consoleOutput(() => format);
const PHYSICAL_TYPES = physicalTypeSchema.options;

const EXIT_CODES = `
Exit codes:
  0  success
  1  the operation failed (details on stderr)
  2  bad usage or input: unknown flag, backup, replica or release; nothing was changed
  3  refused for safety: e.g. a destructive command without --yes and without a terminal

Mode: local when --local is given, or when local state exists (.postgres-ops/) and none of
--context, --kubeconfig and -n is given; Kubernetes otherwise (kubeconfig from --kubeconfig,
KUBECONFIG or ~/.kube/config).`;

const example = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

const rootCommand = () =>
  new Command('postgres-ops')
    .description(
      'Operate the pyairtable-stack PostgreSQL: status, backups, restores, snapshots, promotion, local mode.',
    )
    .option('-n, --namespace <namespace>', 'Kubernetes namespace (default: from the kube context)')
    .option('--context <context>', 'kubeconfig context to use')
    .option('--kubeconfig <file>', 'kubeconfig file to use (default: KUBECONFIG or ~/.kube/config)')
    .option('--release <name>', 'Helm release name', DEFAULT_RELEASE)
    .addOption(
      new Option('-o, --output <format>', 'table, json or yaml')
        .default('table' as const)
        .argParser((v) => (format = parseOutputFormat(v))),
    )
    .option('--yes', 'do not ask for confirmation before destructive actions')
    .option('--local', 'use the local mode (processes on this machine) even without local state')
    .option('--state-dir <dir>', 'local mode state folder (default: .postgres-ops/ at the repository root)')
    .option('--debug', 'print stack traces')
    .addHelpText('after', EXIT_CODES)
    .configureHelp({ showGlobalOptions: true });

type Root = ReturnType<typeof rootCommand>;
/** The flags every command understands, as declared on the program. */
export type RootOptions = ReturnType<Root['opts']>;

const localGroup = (program: Root) =>
  program
    .command('local')
    .description(
      'PostgreSQL on this machine without Kubernetes: a primary, streaming replicas, metrics, backups.',
    )
    .addHelpText(
      'after',
      example('postgres-ops local up', 'postgres-ops local status', 'postgres-ops local down'),
    );

type Local = ReturnType<typeof localGroup>;

const dryRun = (what = 'say what would be done; change nothing') => new Option('--dry-run', what);

/**
 * Every verb, as the user types it: arguments, flags, help and examples. Their types are inferred
 * from these declarations (ArgsOf, OptionsOf): a command module never restates them.
 */
const verbs = {
  status: (p: Root) =>
    p
      .command('status')
      .description(
        'Primary and replicas (role, ready, timeline, lag), storage, last backup and snapshot, warnings.',
      )
      .addHelpText('after', example('postgres-ops status', 'postgres-ops status -o json | jq .instances')),

  backup: (p: Root) =>
    p
      .command('backup')
      .description(
        'Take a verified backup now (Kubernetes: a Job from the backup CronJob, followed to the end).',
      )
      .argument('[name]', 'backup name (default backup_YYYYMMDD_HHMMSS)')
      .addOption(
        new Option(
          '--jobs <n>',
          'dump tables with N parallel pg_dump jobs (still one file; default: the chart value backup.jobs)',
        ).argParser(jobsArg('Example: postgres-ops backup before-upgrade --jobs 4')),
      )
      .option(
        '--physical',
        'a physical backup with pgBackRest (point-in-time recovery) instead of a logical dump',
      )
      .addOption(
        new Option('--type <type>', 'with --physical: full, diff or incr')
          .choices(PHYSICAL_TYPES)
          .argParser(oneOf('--type', PHYSICAL_TYPES, 'Example: postgres-ops backup --physical --type diff'))
          .default('full' as const),
      )
      .addOption(dryRun())
      .addHelpText(
        'after',
        example(
          'postgres-ops backup critical-point-backup',
          'postgres-ops backup before-upgrade --jobs 4',
          'postgres-ops backup --physical --type full',
          'postgres-ops backup before-migration --physical --type diff',
          'postgres-ops backup nightly --dry-run',
        ),
      ),

  'list-backups': (p: Root) =>
    p
      .command('list-backups')
      .description('Complete backups, newest first (a failed or interrupted one is never listed).')
      .addHelpText('after', example('postgres-ops list-backups', 'postgres-ops list-backups -o json')),

  restore: (p: Root) =>
    p
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
      .addOption(
        dryRun('resolve the backup, snapshot or point in time and say what would be done; change nothing'),
      )
      .addHelpText(
        'after',
        example(
          'postgres-ops restore critical-point-backup',
          'postgres-ops restore critical-point-backup --dry-run',
          'postgres-ops restore --time "2026-11-30 14:02:00+00:00"',
          'postgres-ops restore --latest --yes',
          'postgres-ops restore ./cluster-migration-backup.sql.gz --yes',
          'postgres-ops restore --snapshot emergency-snapshot --local',
        ),
      ),

  drill: (p: Root) =>
    p
      .command('drill')
      .description(
        'Recovery drill: restore the newest physical backup and WAL into scratch space, recover, check indexes (amcheck) and row counts, report the recovery time, clean up.',
      )
      .addHelpText('after', example('postgres-ops drill', 'postgres-ops drill -o json')),

  verify: (p: Root) =>
    p
      .command('verify')
      .description("Check a backup's checksum and contents (--deep: restore into a scratch database).")
      .argument('[file]', 'backup name or file (default: the newest)')
      .option('--all', 'verify every backup')
      .option('--deep', 'restore into a scratch database and compare row counts')
      .addHelpText('after', example('postgres-ops verify critical-point-backup --deep')),

  snapshot: (p: Root) =>
    p
      .command('snapshot')
      .description(
        "Snapshot the primary's data volume (Kubernetes: VolumeSnapshot; local: pg_basebackup copy).",
      )
      .argument('[name]', 'snapshot name')
      .addOption(dryRun())
      .addHelpText(
        'after',
        example(
          'postgres-ops snapshot emergency-snapshot',
          'postgres-ops snapshot emergency-snapshot --dry-run',
        ),
      ),

  'list-snapshots': (p: Root) =>
    p
      .command('list-snapshots')
      .description('Snapshots of the release, newest first.')
      .addHelpText('after', example('postgres-ops list-snapshots -o json')),

  monitor: (p: Root) =>
    p
      .command('monitor')
      .description('Live view: connections, TPS, cache hit ratio, replication lag, locks, longest queries.')
      .option('--once', 'print one sample and exit')
      .addOption(
        new Option('--interval <seconds>', 'refresh interval')
          .argParser(
            seconds('--interval', { min: 0.5, max: 3600 }, 'Example: postgres-ops monitor --interval 5'),
          )
          .default(2),
      )
      .addHelpText('after', example('postgres-ops monitor', 'postgres-ops monitor --once -o json')),

  connect: (p: Root) =>
    p
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
      ),

  migrate: (p: Root) =>
    p
      .command('migrate')
      .description(
        "Apply a schema migration version as the chart's migration Job does: lock, one transaction, history, a safety backup first (local mode; on Kubernetes it prints the helm line).",
      )
      .argument('<version>', 'version to apply: the folder <dir>/<version>/ of SQL files')
      .addOption(dryRun('print the plan, change nothing'))
      .option('--dir <dir>', "folder of migration versions (default: the chart's files/migrations)")
      .option('--description <text>', 'description recorded in the history table')
      .addHelpText(
        'after',
        example(
          'postgres-ops migrate 2.0.0 --dry-run',
          'postgres-ops migrate 2.1.0 --dir ./migrations --description "Add teams"',
        ),
      ),

  promote: (p: Root) =>
    p
      .command('promote')
      .description(
        'Make a member the primary: a switchover while the primary is healthy, a failover when it is gone. Refuses (exit 3) a candidate that is not streaming or lags, saying how many bytes would be lost. Asks for confirmation.',
      )
      .argument('<member>', 'member to promote (pod name, or local instance name from status)')
      .option('--force', 'promote even though the candidate lags or does not stream (what it lacks is lost)')
      .addOption(dryRun('check the candidate and say what would happen; change nothing'))
      .addHelpText(
        'after',
        example(
          'postgres-ops promote pyairtable-stack-postgres-1 --dry-run',
          'postgres-ops promote pyairtable-stack-postgres-1',
          'postgres-ops promote postgres-1 --local --yes',
        ),
      ),

  'local up': (p: Local) =>
    p
      .command('up')
      .description(
        'Start whatever is not running (primary, replicas, exporter); take a first verified backup.',
      )
      .addOption(
        new Option(
          '--replicas <n>',
          'number of streaming replicas (default 1 on first start; never removes one)',
        ).argParser(
          wholeNumber('--replicas', { min: 0, max: 5 }, 'Example: postgres-ops local up --replicas 1'),
        ),
      )
      .option('--synchronous', 'synchronous replication: a commit waits for a replica, a failover loses none')
      .option('--no-synchronous', 'asynchronous replication (the default)')
      .addOption(
        new Option(
          '--failover <mode>',
          'automatic (Patroni promotes a replica when the primary is gone) or manual',
        ).choices(['automatic', 'manual'] as const),
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
      ),

  'local down': (p: Local) =>
    p
      .command('down')
      .description('Stop the local instances and exporter (SIGTERM, wait); data is kept.')
      .addHelpText('after', example('postgres-ops local down')),

  'local destroy': (p: Local) =>
    p
      .command('destroy')
      .description(
        'Stop everything and delete the state folder (data, backups, passwords). Asks for confirmation.',
      )
      .addOption(dryRun('say what would be deleted; change nothing'))
      .addHelpText(
        'after',
        example('postgres-ops local destroy --yes', 'postgres-ops local destroy --dry-run'),
      ),

  'local status': (p: Local) =>
    p
      .command('status')
      .description('status of the local mode.')
      .addHelpText('after', example('postgres-ops local status -o json')),
};

type Verb = keyof typeof verbs;
type Declared<V extends Verb> = ReturnType<(typeof verbs)[V]>;
/** A verb's positional arguments, as declared (e.g. `[name: string | undefined]`). */
export type ArgsOf<V extends Verb> = Declared<V>['processedArgs'];
/** A verb's own flags, as declared and parsed (numbers are numbers, choices are unions). */
export type OptionsOf<V extends Verb> = ReturnType<Declared<V>['opts']>;

/**
 * Wires a verb to its command function: every verb has the one shape `(args, options, deps)`.
 * `deps` is built after parsing, from the global flags (local verbs: without choosing a cluster).
 */
function verb<A extends unknown[], O extends Record<string, unknown>, G extends GlobalOptions>(
  cmd: Command<A, O, G>,
  fn: (args: A, options: O, deps: OpsDeps) => Promise<unknown>,
  makeFor: (opts: GlobalOptions) => Promise<OpsDeps> = (opts) => makeDeps(opts, out),
): void {
  cmd.action(async function () {
    await fn(this.processedArgs, this.opts(), await makeFor(this.optsWithGlobals()));
  });
}

export function buildOpsProgram(): CommandUnknownOpts {
  const program = rootCommand();
  verb(verbs.status(program), async (...a) => (await import('./commands/status.js')).status(...a));
  verb(verbs.backup(program), async (args, options, deps) =>
    options.physical
      ? (await import('./commands/physical.js')).physicalBackup(args, options, deps)
      : (await import('./commands/backup.js')).backup(args, options, deps),
  );
  verb(verbs['list-backups'](program), async (...a) =>
    (await import('./commands/list-backups.js')).listBackups(...a),
  );
  verb(verbs.restore(program), async (...a) => (await import('./commands/restore.js')).restore(...a));
  verb(verbs.drill(program), async (...a) => (await import('./commands/physical.js')).drill(...a));
  verb(verbs.verify(program), async (...a) => (await import('./commands/verify.js')).verify(...a));
  verb(verbs.snapshot(program), async (...a) => (await import('./commands/snapshot.js')).snapshot(...a));
  verb(verbs['list-snapshots'](program), async (...a) =>
    (await import('./commands/snapshot.js')).listSnapshots(...a),
  );
  verb(verbs.monitor(program), async (...a) => (await import('./commands/monitor.js')).monitor(...a));
  verb(verbs.connect(program), async (...a) => (await import('./commands/connect.js')).connect(...a));
  verb(verbs.migrate(program), async (...a) => (await import('./commands/migrate.js')).migrate(...a));
  verb(verbs.promote(program), async (...a) => (await import('./commands/promote.js')).promote(...a));

  const local = localGroup(program);
  const localDeps = (opts: GlobalOptions) => Promise.resolve(makeLocalDeps(opts, out));
  verb(
    verbs['local up'](local),
    async (...a) => (await import('./commands/local.js')).localUpCommand(...a),
    localDeps,
  );
  verb(
    verbs['local down'](local),
    async (...a) => (await import('./commands/local.js')).localDownCommand(...a),
    localDeps,
  );
  verb(
    verbs['local destroy'](local),
    async (...a) => (await import('./commands/local.js')).localDestroyCommand(...a),
    localDeps,
  );
  verb(
    verbs['local status'](local),
    async (...a) => (await import('./commands/local.js')).localStatusCommand(...a),
    localDeps,
  );
  return program;
}
