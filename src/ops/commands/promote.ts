import { UsageError } from '../../core/errors.js';
import type { PromoteOutcome } from '../../core/cluster/cluster-api.js';
import { commandLine, type OpsDeps } from '../deps.js';
import type { ArgsOf, OptionsOf } from '../program.js';

/**
 * Makes a member the primary through Patroni: a switchover while the primary is healthy (it hands
 * over and rejoins as a replica), a failover when it is gone. The candidate is checked first: one
 * that is not streaming, or lacks more WAL than the bound, is refused (exit 3) with the number of
 * bytes that would be lost, unless --force. Nothing is asked or changed before the check passes.
 */
export async function promote(
  [candidate]: ArgsOf<'promote'>,
  flags: OptionsOf<'promote'>,
  deps: OpsDeps,
): Promise<PromoteOutcome> {
  if (candidate.startsWith('-'))
    throw new UsageError(
      'E_USAGE',
      `"${candidate}" is not a member name`,
      {},
      { hint: 'Example: postgres-ops promote postgres-1' },
    );
  const members = await deps.cluster.members();
  const target = members.find((m) => m.name === candidate);
  if (!target)
    throw new UsageError(
      'E_NO_SUCH_REPLICA',
      `there is no member named "${candidate}"; nothing was changed`,
      { replica: candidate },
      { hint: `Members: ${members.map((m) => m.name).join(', ') || '(none)'}` },
    );
  const force = Boolean(flags.force);
  const plan = await deps.cluster.promote(candidate, { force, plan: true }, deps.out);
  if (plan.action === 'none' || flags.dryRun) {
    deps.out.result(plan, deps.opts.output, (o) =>
      [
        flags.dryRun && o.action !== 'none' ? `would ${o.message}` : o.message,
        ...o.warnings.map((w) => `warning: ${w}`),
      ].join('\n'),
    );
    return plan;
  }
  for (const w of plan.warnings) deps.out.line(`warning: ${w}`);
  await deps.confirm({
    action: plan.message,
    retry: `${commandLine(deps.opts, 'promote')} ${candidate}${force ? ' --force' : ''}`,
  });
  const outcome = await deps.cluster.promote(candidate, { force, plan: false }, deps.out);
  deps.out.result(outcome, deps.opts.output, (o) =>
    [
      `${o.promoted} is the primary now (timeline ${o.timeline ?? '?'})`,
      '',
      'Done:',
      ...o.steps.map((s) => `  - ${s}`),
      ...o.warnings.map((w) => `  ! ${w}`),
      '',
      'Next:',
      ...o.next.map((s) => `  ${s}`),
    ].join('\n'),
  );
  return outcome;
}
