/**
 * The agent's pitr-restore command: checks a point-in-time target, and with --into restores and
 * recovers a new data directory there (src/runtime/pitr/restore.ts); with --reopen it puts a
 * directory kept aside back on a timeline of its own.
 */
import { UsageError } from '../../core/errors.js';
import type { OutputFormat } from '../../core/output.js';
import {
  renderPitrRestore,
  renderReopen,
  type PitrRestoreResult,
  type PitrReopenResult,
} from '../../core/pitr/results.js';
import { parseTarget } from '../../core/pitr/target.js';
import { requirePitr } from '../../runtime/pitr/config.js';
import { reopenDataDir, restoreToPointInTime } from '../../runtime/pitr/restore.js';
import type { AgentContext } from '../context.js';

export interface PitrRestoreFlags {
  time?: string;
  lsn?: string;
  latest?: boolean;
  into?: string;
  plan?: boolean;
  reopen?: string;
  output?: OutputFormat;
}

export async function pitrRestore(
  flags: PitrRestoreFlags,
  ctx: AgentContext,
): Promise<PitrRestoreResult | PitrReopenResult> {
  requirePitr(ctx.config, 'a point-in-time restore');
  const output = flags.output ?? 'table';
  if (flags.reopen) {
    const r = await reopenDataDir(flags.reopen, ctx);
    ctx.out.result(r, output, renderReopen);
    return r;
  }
  const target = parseTarget(flags);
  if (!flags.plan && !flags.into)
    throw new UsageError(
      'E_USAGE',
      'pitr-restore needs --into DIR (a new data directory) or --plan',
      {},
      {
        hint: 'postgres-ops restore --time ... does this for you.',
      },
    );
  const result = await restoreToPointInTime({ target, into: flags.into }, ctx);
  ctx.out.result(result, output, renderPitrRestore);
  return result;
}
