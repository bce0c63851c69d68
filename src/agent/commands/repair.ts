/**
 * postgres-agent repair: undoes what an interrupted restore left (a database fenced next to its
 * `__restoring` copy, an unfinished copy), under the cluster's operation lock, and lists what it
 * leaves to a person. `postgres-ops local up` runs it; status names it as the fix.
 */
import type { OutputFormat } from '../../core/output.js';
import { connectionFromConfig } from '../../runtime/backup/conn.js';
import { connectAdmin, repairRestoreLeftovers, type RepairOutcome } from '../../runtime/backup/repair.js';
import { withClusterOperation } from '../../runtime/cluster-operation.js';
import type { AgentContext } from '../context.js';

function render(r: RepairOutcome): string {
  const lines = r.repaired.map((x) => `repaired: ${x.message} (${x.statements.join('; ')})`);
  for (const x of r.remaining) lines.push(`left to you: ${x.message}; to fix: ${x.statements.join('; ')}`);
  return lines.length ? lines.join('\n') : 'nothing to repair';
}

export async function repair(opts: { output?: OutputFormat }, ctx: AgentContext): Promise<RepairOutcome> {
  const conn = connectionFromConfig(ctx.config);
  const outcome = await withClusterOperation(
    conn,
    'repair',
    async () => {
      const admin = await connectAdmin(conn, 'postgres-agent repair');
      try {
        return await repairRestoreLeftovers(admin, ctx.log);
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
    { log: ctx.log },
  );
  ctx.out.result(outcome, opts.output ?? 'table', render);
  return outcome;
}
