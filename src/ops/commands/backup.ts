import { validateBackupName } from '../../core/backup/names.js';
import { OperationFailed } from '../../core/errors.js';
import type { BackupEntry } from '../../core/cluster/cluster-api.js';
import type { OpsDeps } from '../deps.js';
import { type DryRunPlan, reportDryRun } from '../dry-run.js';
import type { ArgsOf, OptionsOf } from '../program.js';
import { renderBackups } from '../render/backups.js';

/** Takes a backup (on Kubernetes: a Job from the backup CronJob) and shows the verified result. */
export async function backup(
  [name]: ArgsOf<'backup'>,
  { jobs, dryRun }: OptionsOf<'backup'>,
  deps: OpsDeps,
): Promise<BackupEntry | { name: string | null; listed: false } | DryRunPlan> {
  // The agent's own rules, checked before anything runs (a Job is not created for a bad name).
  if (name !== undefined) validateBackupName(name);
  if (dryRun)
    return reportDryRun(
      deps,
      `take a logical backup ${name ?? 'named backup_YYYYMMDD_HHMMSS'} of release ${deps.cluster.release} (${deps.cluster.mode})${jobs && jobs > 1 ? ` with ${jobs} parallel jobs` : ''}`,
      { kind: 'logical', name: name ?? null, jobs: jobs ?? null },
    );
  const before = new Set((await deps.cluster.listBackups().catch(() => [])).map((b) => b.name));
  deps.out.line(
    `taking backup${name ? ` ${name}` : ''}${jobs && jobs > 1 ? ` with ${jobs} parallel jobs` : ''}…`,
  );
  await deps.cluster.backup(name, deps.out, jobs ? { jobs } : {});
  let after: BackupEntry[];
  try {
    after = await deps.cluster.listBackups();
  } catch (err) {
    // The agent only reports success for a verified backup: say so rather than fail the command.
    const summary = { name: name ?? null, listed: false as const };
    deps.out.line(
      `the backup succeeded (verified by the agent), but listing it failed: ${(err as Error).message}`,
    );
    deps.out.result(
      summary,
      deps.opts.output,
      () => `backup ${name ?? ''} taken; run postgres-ops list-backups to see it`,
    );
    return summary;
  }
  // Only what this run added: with several databases the agent writes NAME-<database> each.
  const added = after.filter((b) => !before.has(b.name));
  const entry = added.find((b) => b.name === name) ?? added[0];
  if (!entry)
    throw new OperationFailed(
      'E_BACKUP_MISSING',
      'the backup finished but is not listed',
      {},
      {
        hint: 'See what exists: postgres-ops list-backups',
      },
    );
  deps.out.result(
    entry,
    deps.opts.output,
    (e) => `${renderBackups([e])}\n\nbackup ${e.name} ${e.verified ? 'verified' : 'NOT verified'}`,
  );
  return entry;
}
