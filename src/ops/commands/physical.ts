/**
 * The point-in-time recovery verbs of postgres-ops: `backup --physical`, `restore --time | --lsn |
 * --latest | --undo`, `drill`. Each checks its input before anything runs, asks before it replaces
 * data, and prints what was kept and what to type next.
 */
import { UsageError } from '../../core/errors.js';
import { describeTarget, parseTarget } from '../../core/pitr/target.js';
import type { ClusterApi, PhysicalBackupResult } from '../../core/cluster/cluster-api.js';
import { commandLine, type OpsDeps } from '../deps.js';
import { DryRunStop, type DryRunPlan, reportDryRun, stopAtConfirmation } from '../dry-run.js';
import type { ArgsOf, OptionsOf } from '../program.js';
import { renderDrill, renderPhysicalBackup, renderPitrOutcome } from '../../core/pitr/results.js';
import { validateBackupName } from '../../core/backup/names.js';

function unsupported(cluster: ClusterApi, what: string): never {
  throw new UsageError(
    'E_NOT_SUPPORTED',
    `${what} is not available here (${cluster.mode})`,
    {},
    {
      hint: 'Point-in-time recovery needs databases.postgres.pitr.enabled (docs/backups.md).',
    },
  );
}

export async function physicalBackup(
  [name]: ArgsOf<'backup'>,
  { type, dryRun }: OptionsOf<'backup'>,
  deps: OpsDeps,
): Promise<PhysicalBackupResult | DryRunPlan> {
  if (name !== undefined) validateBackupName(name);
  const { cluster } = deps;
  if (!cluster.physicalBackup) unsupported(cluster, 'a physical backup');
  if (dryRun)
    return reportDryRun(
      deps,
      `take a physical ${type} backup${name ? ` ${name}` : ''} of release ${cluster.release} (${cluster.mode}) with pgBackRest`,
      { kind: 'physical', type, name: name ?? null },
    );
  deps.out.line(`taking a physical ${type} backup${name ? ` ${name}` : ''}…`);
  const r = await cluster.physicalBackup({ type, name }, deps.out);
  deps.out.result(r, deps.opts.output, renderPhysicalBackup);
  return r;
}

type PitrFlags = Pick<OptionsOf<'restore'>, 'time' | 'lsn' | 'latest' | 'undo'>;

export function wantsPointInTime(flags: PitrFlags): boolean {
  return flags.time !== undefined || flags.lsn !== undefined || flags.latest === true || flags.undo === true;
}

export async function restorePointInTime(
  [ref]: ArgsOf<'restore'>,
  flags: OptionsOf<'restore'>,
  deps: OpsDeps,
) {
  const { cluster } = deps;
  if (ref !== undefined)
    throw new UsageError(
      'E_USAGE',
      `a point-in-time restore takes no backup name ("${ref}"): it starts from the right physical backup by itself`,
      {},
      { hint: 'Example: postgres-ops restore --time "2026-11-30 14:02:00+00:00"' },
    );
  if (flags.undo) {
    if (flags.time !== undefined || flags.lsn !== undefined || flags.latest)
      throw new UsageError('E_USAGE', '--undo takes no target', {}, { hint: 'postgres-ops restore --undo' });
    if (!cluster.undoRestore) unsupported(cluster, 'restore --undo');
    const action = `stop every member of release ${cluster.release} and put back the data directories the last point-in-time restore kept aside (the restored ones are kept aside in turn)`;
    if (flags.dryRun) return reportDryRun(deps, action, { undo: true });
    await deps.confirm({ action, retry: `${commandLine(deps.opts, 'restore')} --undo` });
    const r = await cluster.undoRestore(deps.out);
    deps.out.result(r, deps.opts.output, (x) =>
      [
        `put back: ${x.restored.join(', ')}`,
        ...x.keptAside.map((d) => `  the restored data is kept in ${d} (rm -rf it when satisfied)`),
      ].join('\n'),
    );
    return r;
  }
  const target = parseTarget(flags);
  if (!cluster.restorePointInTime) unsupported(cluster, 'a point-in-time restore');
  const retry = `${commandLine(deps.opts, 'restore')} ${
    target.kind === 'time'
      ? `--time "${target.iso}"`
      : target.kind === 'lsn'
        ? `--lsn ${target.lsn}`
        : '--latest'
  }`;
  if (target.kind === 'time' && flags.time && !/(Z|UTC|[+-]\d{2}(:?\d{2})?)\s*$/i.test(flags.time.trim()))
    deps.out.line(
      `--time "${flags.time}" has no offset: understood as this machine's local time, ${target.iso}`,
    );
  deps.out.line(`checking ${describeTarget(target)} against the archive…`);
  if (flags.dryRun) {
    // The cluster checks the target against the archive, then stops where it would ask.
    const stop = await cluster
      .restorePointInTime({ target, confirm: stopAtConfirmation, dryRun: true }, deps.out)
      .then(
        () => undefined,
        (err: unknown) => {
          if (err instanceof DryRunStop) return err;
          throw err;
        },
      );
    if (!stop) throw new Error('a point-in-time restore ran to its end in a dry run');
    return reportDryRun(deps, stop.action, { target: describeTarget(target) });
  }
  const r = await cluster.restorePointInTime(
    { target, confirm: (action) => deps.confirm({ action, retry }) },
    deps.out,
  );
  deps.out.result(r, deps.opts.output, renderPitrOutcome);
  return r;
}

export async function drill(_args: ArgsOf<'drill'>, _options: OptionsOf<'drill'>, deps: OpsDeps) {
  const { cluster } = deps;
  if (!cluster.drill) unsupported(cluster, 'a recovery drill');
  deps.out.line('recovery drill: restoring the newest physical backup and WAL into scratch space…');
  const r = await cluster.drill(deps.out);
  deps.out.result(r, deps.opts.output, renderDrill);
  return r;
}
