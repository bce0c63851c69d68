import type { OutputFormat } from '../../core/output.js';
import { UsageError } from '../../core/errors.js';
import { promoteMember, type PromoteResult } from '../../runtime/ha/promote.js';
import { leaderLogin, withClusterOperation } from '../../runtime/cluster-operation.js';
import type { AgentContext } from '../context.js';

export interface PromoteOptions {
  candidate?: string;
  force?: boolean;
  plan?: boolean;
  timeoutSeconds?: string;
  output?: OutputFormat;
}

/**
 * Makes a member the primary through Patroni: a switchover when the primary is healthy, a failover
 * when it is gone. Refuses (exit 3) a candidate that is not streaming or lacks more WAL than the
 * bound, saying how many bytes would be lost, unless --force. Running it again once done is a no-op.
 */
export async function promote(opts: PromoteOptions, ctx: AgentContext): Promise<PromoteResult> {
  // One backup, restore, migration or promotion at a time, held on the current primary when it answers.
  const primary = opts.plan ? undefined : await leaderLogin(ctx.env);
  const run = () => promoteNow(opts, ctx);
  const what = `promote ${opts.candidate ?? ctx.env.PGOPS_POD_NAME}`;
  return primary
    ? withClusterOperation(primary, what, run, {
        log: ctx.log,
        whenUnreachable: 'proceed',
        connectTimeoutMs: 5000,
      })
    : run();
}

async function promoteNow(opts: PromoteOptions, ctx: AgentContext): Promise<PromoteResult> {
  const timeoutSeconds = Number(opts.timeoutSeconds ?? '90');
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1)
    throw new UsageError(
      'E_USAGE',
      `--timeout-seconds must be a whole number >= 1, not "${opts.timeoutSeconds}"`,
      {},
      { hint: 'Example: postgres-agent promote --timeout-seconds 90' },
    );
  const result = await promoteMember(
    ctx.env,
    {
      candidate: opts.candidate ?? ctx.env.PGOPS_POD_NAME,
      force: Boolean(opts.force),
      planOnly: Boolean(opts.plan),
      timeoutSeconds,
    },
    ctx.log,
  );
  ctx.out.result(result, opts.output ?? 'table', (r) =>
    [r.message, ...r.warnings.map((w) => `warning: ${w}`)].join('\n'),
  );
  return result;
}
