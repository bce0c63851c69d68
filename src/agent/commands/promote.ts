/**
 * postgres-agent promote: makes a member the primary through Patroni (src/runtime/ha/promote.ts):
 * a switchover when the primary is healthy, a failover when it is gone.
 */
import type { OutputFormat } from '../../core/output.js';
import { promote as promoteThroughPatroni, type PromoteResult } from '../../runtime/ha/promote.js';
import type { AgentContext } from '../context.js';

export interface PromoteOptions {
  candidate?: string;
  force?: boolean;
  plan?: boolean;
  timeoutSeconds?: number;
  output?: OutputFormat;
}

export async function promote(opts: PromoteOptions, ctx: AgentContext): Promise<PromoteResult> {
  const timeoutSeconds = opts.timeoutSeconds ?? 90;
  const result = await promoteThroughPatroni(
    ctx.config,
    {
      candidate: opts.candidate ?? ctx.config.agent.podName,
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
