/** postgres-agent prune: retention over our backups; --dry-run prints the plan and deletes nothing. */
import type { OutputFormat } from '../../core/output.js';
import { renderTable } from '../../core/output.js';
import { pruneBackups, type PruneResult } from '../../runtime/backup/index.js';
import type { AgentContext } from '../context.js';

function render(r: PruneResult): string {
  const rows = [
    ...r.plan.backups.map((d) => [
      d.action === 'delete' ? (r.dryRun ? 'would delete' : 'deleted') : 'keep',
      d.name,
      d.reason,
    ]),
    ...r.plan.partials.map((p) => [
      p.action === 'delete' ? (r.dryRun ? 'would delete' : 'deleted') : 'keep',
      p.file,
      p.reason,
    ]),
  ];
  if (rows.length === 0) return 'No backups.';
  return renderTable(['ACTION', 'BACKUP', 'WHY'], rows);
}

export async function prune(
  opts: { dryRun?: boolean; output?: OutputFormat },
  ctx: AgentContext,
): Promise<PruneResult> {
  const r = await pruneBackups(
    {
      backupDir: ctx.config.backup.dir,
      retentionDays: ctx.config.backup.retentionDays,
      dryRun: !!opts.dryRun,
    },
    { log: ctx.log },
  );
  ctx.out.result(r, opts.output ?? 'table', render);
  return r;
}
