import { runAgentJson } from '../../local/agent.js';
import { LocalCluster } from '../../local/cluster.js';
import { guardLostCluster } from '../../local/data-loss.js';
import { repairOutcomeSchema } from '../../core/backup/results.js';
import { localDestroy, localDown, localUp } from '../../local/lifecycle.js';
import { placeDefaultStateDir, removeDanglingStateLink, requireTraversable } from '../../local/state-dir.js';
import { withStateLock } from '../../local/lock.js';
import { defaultStateDir, stateExists } from '../../local/state.js';
import { UsageError } from '../../core/errors.js';
import { withDatabase } from '../../core/pg/conninfo.js';
import type { DatabaseScope, Member } from '../../core/cluster/cluster-api.js';
import { commandLine, type OpsDeps, stateDirOf } from '../deps.js';
import { reportDryRun } from '../dry-run.js';
import type { ArgsOf, OptionsOf } from '../program.js';
import { renderStatus } from '../render/status.js';
import { backupCoverage } from './connect.js';
import { collectStatus } from './status.js';

export interface LocalUpResult {
  stateDir: string;
  started: string[];
  alreadyRunning: string[];
  /** `uri` names the maintenance database postgres (as status does); `appUri` the application database. */
  primary: { name: string; uri: string; appUri: string } | null;
  replicas: { name: string; uri: string; appUri: string }[];
  /** The application database (where connect and the Connect line land) and what backups cover. */
  databases: DatabaseScope;
  metricsUrl: string | null;
  firstBackup: string | null;
  /** What an interrupted restore had left and `local up` repaired. */
  repaired: string[];
  /** Newest physical backup (the first one is taken by local up); null when PITR is off or it failed. */
  physicalBackup: string | null;
  warnings: string[];
}

/** Undoes what an interrupted restore left (postgres-agent repair, as the chart's Jobs would). */
async function repairLeftovers(cluster: LocalCluster, warnings: string[]): Promise<string[]> {
  try {
    const r = await runAgentJson({ args: ['repair'], env: await cluster.jobEnv() }, repairOutcomeSchema);
    for (const x of r.remaining)
      warnings.push(`${x.message}: ${x.statements.join('; ')} (run it in: postgres-ops connect)`);
    return r.repaired.map((x) => `${x.message} (${x.statements.join('; ')})`);
  } catch (err) {
    warnings.push(`could not check for an interrupted restore: ${(err as Error).message}`);
    return [];
  }
}

/** Starts what is not running: primary, N replicas, exporter; takes a first verified backup. */
export async function localUpCommand(
  _args: ArgsOf<'local up'>,
  flags: OptionsOf<'local up'>,
  { opts, out }: OpsDeps,
) {
  const root = opts.stateDir ? stateDirOf(opts) : placeDefaultStateDir(stateDirOf(opts), out);
  const { replicas } = flags;
  requireTraversable(root);
  const report = await withStateLock(root, 'local up', async () => {
    // An empty cluster never silently replaces one whose data is gone (see src/local/data-loss.ts).
    await guardLostCluster(root, { fresh: !!flags.fresh, command: (verb) => commandLine(opts, verb) }, out);
    return localUp(
      root,
      { replicas, release: opts.release, synchronous: flags.synchronous, failover: flags.failover },
      out,
    );
  });
  const cluster = new LocalCluster(root);
  const warnings: string[] = [];
  const repaired = await repairLeftovers(cluster, warnings);
  let firstBackup: string | null = null;
  const backups = await cluster.listBackups().catch((err: Error) => {
    warnings.push(`could not list backups: ${err.message}`);
    return null;
  });
  if (backups && backups.length === 0) {
    out.line('taking a first backup…');
    try {
      await cluster.backup(undefined, out);
      firstBackup = (await cluster.listBackups())[0]?.name ?? null;
    } catch (err) {
      warnings.push(`the first backup failed: ${(err as Error).message} (retry: postgres-ops backup NAME)`);
    }
  } else if (backups) firstBackup = backups[0]?.name ?? null;
  // The recoverability window starts with a first full physical backup.
  let physicalBackup: string | null = null;
  const physical = await cluster.physicalInfo().catch((err: Error) => {
    warnings.push(`could not read the physical backups: ${err.message}`);
    return undefined;
  });
  if (physical && physical.backups.length === 0) {
    out.line('taking a first full physical backup (point-in-time recovery starts there)…');
    try {
      const r = await cluster.physicalBackup({ type: 'full' }, out);
      physicalBackup = r.outcomes.find((o) => o.backup)?.backup?.label ?? null;
    } catch (err) {
      warnings.push(
        `the first physical backup failed: ${(err as Error).message} (retry: postgres-ops backup --physical --type full)`,
      );
    }
  } else if (physical) physicalBackup = physical.backups[0]?.name ?? null;
  if (report.resumedRestore) warnings.push(report.resumedRestore);
  const members = await cluster.members();
  const primary = members.find((m) => m.expectedRole === 'primary');
  if (report.exporter.url === null) warnings.push(report.exporter.note);
  const databases = await cluster.databases();
  const entry = (m: Member) => ({
    name: m.name,
    uri: m.uri,
    appUri: withDatabase(m.uri, databases.application),
  });
  const result: LocalUpResult = {
    stateDir: root,
    started: report.started,
    alreadyRunning: report.alreadyRunning,
    primary: primary ? entry(primary) : null,
    replicas: members.filter((m) => m.expectedRole === 'replica').map(entry),
    databases,
    metricsUrl: report.exporter.url,
    firstBackup,
    repaired,
    physicalBackup,
    warnings,
  };
  out.result(result, opts.output, (r) =>
    [
      `Local PostgreSQL is up (state in ${r.stateDir})`,
      r.started.length ? `  started: ${r.started.join(', ')}` : '  everything was already running',
      r.alreadyRunning.length && r.started.length ? `  already running: ${r.alreadyRunning.join(', ')}` : '',
      '',
      ...(r.primary ? [`  primary  ${r.primary.name}  ${r.primary.appUri}`] : []),
      ...r.replicas.map((x) => `  replica  ${x.name}  ${x.appUri}`),
      '',
      `Connect:  psql "${r.primary?.appUri ?? ''}"`,
      `     or:  ./scripts/postgres-ops.sh connect${opts.stateDir ? ` --state-dir ${opts.stateDir}` : ''}`,
      `Database: ${r.databases.application} (${backupCoverage(r.databases)}; tables created in other databases, such as postgres, are not backed up)`,
      `Metrics:  ${r.metricsUrl ?? 'not running'}`,
      `Backup:   ${r.firstBackup ?? 'none yet'}`,
      ...r.repaired.map((x) => `  repaired: ${x}`),
      ...(physical === null
        ? []
        : [
            `Physical: ${r.physicalBackup ?? 'none yet'} (WAL archived to ${cluster.paths.pgbackrestDir}; postgres-ops restore --time ... restores to any moment since)`,
          ]),
      ...r.warnings.map((w) => `  ! ${w}`),
    ]
      .filter((l, i, a) => l !== '' || a[i - 1] !== '')
      .join('\n'),
  );
  return result;
}

export async function localDownCommand(
  _args: ArgsOf<'local down'>,
  _options: OptionsOf<'local down'>,
  { opts, out }: OpsDeps,
) {
  const root = stateDirOf(opts);
  if (!stateExists(root))
    throw new UsageError(
      'E_NO_LOCAL_STATE',
      `no local PostgreSQL in ${root}; nothing to stop`,
      { stateDir: root },
      {
        hint: 'Start one: postgres-ops local up',
      },
    );
  const r = await withStateLock(root, 'local down', () => localDown(root, out));
  out.result(r, opts.output, (x) =>
    [
      x.stopped.length ? `stopped: ${x.stopped.join(', ')}` : 'nothing was running',
      'Data is kept; start again with: postgres-ops local up (delete it with: postgres-ops local destroy)',
    ].join('\n'),
  );
  return r;
}

export async function localDestroyCommand(
  _args: ArgsOf<'local destroy'>,
  options: OptionsOf<'local destroy'>,
  deps: OpsDeps,
) {
  const { opts, out } = deps;
  const root = stateDirOf(opts);
  if (!stateExists(root))
    throw new UsageError('E_NO_LOCAL_STATE', `no local PostgreSQL in ${root}; nothing to destroy`, {
      stateDir: root,
    });
  const action = `stop the local PostgreSQL and DELETE ${root} (data directories, backups, passwords)`;
  if (options.dryRun) return reportDryRun(deps, action, { stateDir: root });
  await deps.confirm({ action, retry: commandLine(opts, 'local destroy') });
  const r = await withStateLock(root, 'local destroy', () => localDestroy(root, out));
  if (!opts.stateDir) removeDanglingStateLink(defaultStateDir());
  out.result(r, opts.output, (x) => `deleted ${x.removed}`);
  return r;
}

export async function localStatusCommand(
  _args: ArgsOf<'local status'>,
  _options: OptionsOf<'local status'>,
  { cluster, opts, out }: OpsDeps,
) {
  const report = await collectStatus(cluster);
  out.result(report, opts.output, (r) => renderStatus(r, out.stdout.isTTY));
  return report;
}
