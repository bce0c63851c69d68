/**
 * The two halves of a whole-cluster point-in-time restore on Kubernetes: `cluster-restore`, what the
 * chart's restore Job runs (src/kube/cluster-restore.ts), and `restore-request`, what every member's
 * init container runs before PostgreSQL starts (src/runtime/pitr/restore-request.ts).
 */
import { SafetyRefusal, UsageError } from '../../core/errors.js';
import { scopeOf } from '../../core/ha/patroni-config.js';
import type { OutputFormat } from '../../core/output.js';
import { renderPitrOutcome } from '../../core/pitr/results.js';
import { parseTarget } from '../../core/pitr/target.js';
import { kubeClients } from '../../kube/client.js';
import { restoreClusterOnKube } from '../../kube/cluster-restore.js';
import { forgetPatroniCluster, kubeRequestStore } from '../../kube/restore-request.js';
import { requirePitr } from '../../runtime/pitr/config.js';
import { applyRestoreRequest } from '../../runtime/pitr/restore-request.js';
import type { AgentContext } from '../context.js';

export async function clusterRestore(
  flags: { time?: string; lsn?: string; latest?: boolean; yes?: boolean; output?: OutputFormat },
  ctx: AgentContext,
) {
  requirePitr(ctx.config, 'a whole-cluster restore');
  const target = parseTarget(flags);
  if (!ctx.config.pitr.repoPod)
    throw new UsageError(
      'E_USAGE',
      'PGOPS_PGBACKREST_REPO_POD names no repository pod',
      {},
      { hint: 'The chart sets it on the restore Job; from a workstation use postgres-ops restore --time.' },
    );
  const k = kubeClients({ namespace: ctx.config.agent.namespace });
  const r = await restoreClusterOnKube(k, {
    statefulSet: scopeOf(ctx.config),
    repoPod: ctx.config.pitr.repoPod,
    target,
    confirm: (action) => {
      if (flags.yes) {
        ctx.log.info(`confirmed by --yes: ${action}`);
        return Promise.resolve();
      }
      return Promise.reject(
        new SafetyRefusal(
          'E_CONFIRM',
          `this would ${action}; nothing was changed`,
          {},
          {
            hint: 'Run it again with --yes (the chart passes it: enabling the restore in values is the request).',
          },
        ),
      );
    },
    progress: (line) => ctx.log.info(line),
  });
  ctx.out.result(r, flags.output ?? 'table', renderPitrOutcome);
  for (const w of r.warnings) ctx.log.warn(w);
  return r;
}

export async function restoreRequest(flags: { output?: OutputFormat }, ctx: AgentContext) {
  if (!ctx.config.pitr.enabled) {
    ctx.log.info('point-in-time recovery is off: no restore request to look for');
    return { action: 'none', request: null, detail: 'point-in-time recovery is off' };
  }
  const scope = scopeOf(ctx.config);
  const k = kubeClients({ namespace: ctx.config.agent.namespace });
  const store = kubeRequestStore(k.core, k.namespace, scope);
  const r = await applyRestoreRequest(
    ctx.config.agent.podName,
    {
      read: () => store.read(),
      update: (change) => store.update(change),
      forgetCluster: async () => {
        const dropped = await forgetPatroniCluster(k.core, k.namespace, scope);
        if (dropped.length)
          ctx.log.info(`forgot the previous cluster's leader and history (${dropped.join(', ')})`);
      },
    },
    ctx,
  );
  ctx.out.result(r, flags.output ?? 'table', (x) => `${x.action}: ${x.detail}`);
  return r;
}
