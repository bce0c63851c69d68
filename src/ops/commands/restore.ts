import { resolveBackupRef } from '../backup-ref.js';
import { commandLine, type OpsDeps } from '../deps.js';

export interface RestoreFlags {
  targetDatabase?: string;
  safetyBackup?: boolean;
  force?: boolean;
}

/**
 * Replaces the database with a backup (a safety backup of the current data is taken first unless
 * --no-safety-backup). Resolves the name before asking, so a typo changes nothing.
 */
export async function restore(ref: string, flags: RestoreFlags, deps: OpsDeps) {
  const { cluster } = deps;
  const backups = await cluster.listBackups();
  const target = resolveBackupRef(ref, backups, cluster.mode, cluster.backupLocation());
  const db =
    flags.targetDatabase ?? (typeof target.backup?.database === 'string' ? target.backup.database : null);
  await deps.confirm({
    action: `replace ${db ? `database ${db}` : 'the database in the backup'} of release ${cluster.release} (${cluster.mode}) with ${target.file}${flags.safetyBackup === false ? ' WITHOUT a safety backup' : ' (a safety backup is taken first)'}`,
    retry: `${commandLine(deps.opts, 'restore')} ${ref}`,
  });
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
