import { UsageError } from '../../core/errors.js';
import type { PromoteOutcome } from '../cluster-api.js';
import { commandLine, type OpsDeps } from '../deps.js';

/**
 * Manual, fenced failover: the old primary is stopped before the replica is promoted, and the
 * read-write endpoint follows the new primary.
 */
export async function promote(replica: string, deps: OpsDeps): Promise<PromoteOutcome> {
  const members = await deps.cluster.members();
  const replicas = members.filter((m) => m.expectedRole === 'replica').map((m) => m.name);
  const target = members.find((m) => m.name === replica);
  if (!target || target.expectedRole !== 'replica')
    throw new UsageError(
      'E_NO_SUCH_REPLICA',
      target
        ? `${replica} is the primary, not a replica; nothing was changed`
        : `there is no replica named "${replica}"; nothing was changed`,
      { replica },
      { hint: replicas.length ? `Replicas: ${replicas.join(', ')}` : 'There are no replicas.' },
    );
  const primary = members.find((m) => m.expectedRole === 'primary');
  await deps.confirm({
    action: `stop the primary ${primary?.name ?? '(none)'} and promote ${replica} to primary`,
    retry: `${commandLine(deps.opts, 'promote')} ${replica}`,
  });
  const outcome = await deps.cluster.promote(replica, deps.out);
  deps.out.result(outcome, deps.opts.output, (o) =>
    [
      `${o.promoted} is the primary now (timeline ${o.timeline ?? '?'})`,
      '',
      'Done:',
      ...o.steps.map((s) => `  - ${s}`),
      '',
      'Next:',
      ...o.next.map((s) => `  ${s}`),
    ].join('\n'),
  );
  return outcome;
}
