import { UsageError } from '../../core/errors.js';
import { refuseUnsupportedUrl } from '../../core/sync/url.js';
import { resolveBackupRef } from '../backup-ref.js';
import { commandLine, type OpsDeps } from '../deps.js';
import { reportDryRun } from '../dry-run.js';
import type { ArgsOf, OptionsOf } from '../program.js';
import { restorePointInTime, wantsPointInTime } from './physical.js';

/**
 * Replaces the database with a backup (a safety backup of the current data is taken first unless
 * --no-safety-backup). Resolves the name before asking, so a typo changes nothing.
 */
export async function restore(args: ArgsOf<'restore'>, flags: OptionsOf<'restore'>, deps: OpsDeps) {
  const { cluster } = deps;
  const [ref] = args;
  if (wantsPointInTime(flags)) return restorePointInTime(args, flags, deps);
  if (flags.snapshot !== undefined) return restoreSnapshot(flags.snapshot, !!flags.dryRun, deps);
  if (!ref)
    throw new UsageError(
      'E_USAGE',
      'restore needs a backup (name, file or URL) or --snapshot NAME',
      {},
      {
        hint: 'See what exists: postgres-ops list-backups, postgres-ops list-snapshots',
      },
    );
  refuseUnsupportedUrl(ref);
  const backups = await cluster.listBackups();
  const target = resolveBackupRef(ref, backups, cluster.mode, cluster.backupLocation());
  // Settings the restore will need (local mode: object store settings for a URL) are read now,
  // so that a mistake there is reported before the question, not after.
  cluster.preflightRestore?.(target.file);
  const db =
    flags.targetDatabase ?? (typeof target.backup?.database === 'string' ? target.backup.database : null);
  const action = `replace ${db ? `database ${db}` : 'the database in the backup'} of release ${cluster.release} (${cluster.mode}) with ${target.file}${flags.safetyBackup === false ? ' WITHOUT a safety backup' : ' (a safety backup is taken first)'}`;
  if (flags.dryRun)
    return reportDryRun(deps, action, {
      file: target.file,
      backup: target.backup?.name ?? null,
      database: db,
      safetyBackup: flags.safetyBackup !== false,
    });
  await deps.confirm({ action, retry: `${commandLine(deps.opts, 'restore')} ${ref}` });
  deps.out.line(`restoring ${target.file}…`);
  const result = await cluster.restore(
    {
      file: target.file,
      targetDatabase: flags.targetDatabase,
      safetyBackup: flags.safetyBackup !== false,
      force: flags.force,
    },
    deps.out,
  );
  const summary = { restored: target.file, backup: target.backup?.name ?? null, result };
  deps.out.result(summary, deps.opts.output, (s) => `restored ${s.restored}${db ? ` into ${db}` : ''}`);
  return summary;
}

/** Local mode: every data directory from a snapshot (old ones moved aside, not deleted). */
async function restoreSnapshot(name: string, dryRun: boolean, deps: OpsDeps) {
  const { cluster } = deps;
  if (!cluster.restoreSnapshot)
    throw new UsageError(
      'E_NOT_SUPPORTED',
      'restoring a VolumeSnapshot is a manual procedure on Kubernetes',
      {},
      {
        hint: 'Follow "Complete database restoration" in docs/operations.md (a new PVC with the snapshot as dataSource).',
      },
    );
  const snaps = await cluster.listSnapshots();
  if (!snaps.some((s) => s.name === name))
    throw new UsageError(
      'E_NO_SUCH_SNAPSHOT',
      `no snapshot named "${name}"; nothing was changed`,
      { name },
      {
        hint: snaps.length
          ? `Snapshots: ${snaps
              .slice(0, 5)
              .map((s) => s.name)
              .join(', ')}`
          : 'Take one: postgres-ops snapshot NAME',
      },
    );
  const action = `stop every local instance and replace their data with snapshot ${name} (current data directories are moved aside, not deleted)`;
  if (dryRun) return reportDryRun(deps, action, { snapshot: name });
  await deps.confirm({ action, retry: `${commandLine(deps.opts, 'restore')} --snapshot ${name}` });
  const result = await cluster.restoreSnapshot(name, deps.out);
  deps.out.result(result, deps.opts.output, (r) => {
    const x = r as { snapshot: string; keptAside: string[] };
    return [
      `restored snapshot ${x.snapshot}`,
      ...x.keptAside.map((d) => `  previous data kept in ${d} (delete it when satisfied)`),
    ].join('\n');
  });
  return result;
}
