/**
 * postgres-agent repo-host: the repository pod on Kubernetes (src/runtime/pitr/repo-host.ts); the
 * CronJobs reach it with `scheduled`.
 */
import { UsageError } from '../../core/errors.js';
import type { OutputFormat } from '../../core/output.js';
import { drillResultSchema, physicalBackupResultSchema } from '../../core/pitr/results.js';
import { runInRepoPod } from '../../kube/repo-pod.js';
import { requirePitr } from '../../runtime/pitr/config.js';
import { runRepoHost } from '../../runtime/pitr/repo-host.js';
import type { AgentContext } from '../context.js';

export async function repoHost(ctx: AgentContext): Promise<void> {
  requirePitr(ctx.config, 'the repository host');
  await runRepoHost(ctx);
}

/** postgres-agent scheduled physical-backup|drill: what a CronJob runs, in the repository pod. */
export async function scheduled(
  what: string,
  opts: { type?: string; output?: OutputFormat },
  ctx: AgentContext,
): Promise<unknown> {
  if (what !== 'physical-backup' && what !== 'drill')
    throw new UsageError('E_USAGE', `scheduled runs physical-backup or drill, not "${what}"`);
  if (!ctx.config.pitr.repoPod)
    throw new UsageError(
      'E_USAGE',
      'PGOPS_PGBACKREST_REPO_POD names no repository pod',
      {},
      {
        hint: 'The chart sets it on the physical backup and drill CronJobs.',
      },
    );
  const args = what === 'drill' ? ['drill'] : ['physical-backup', '--type', opts.type ?? 'full'];
  const r = await runInRepoPod(
    {
      namespace: ctx.config.agent.namespace,
      pod: ctx.config.pitr.repoPod,
      schema: what === 'drill' ? drillResultSchema : physicalBackupResultSchema,
    },
    args,
    (s) => ctx.out.raw(s),
  );
  ctx.out.result(r, opts.output ?? 'table', (x) => JSON.stringify(x, null, 2));
  return r;
}
