/**
 * postgres-agent drill: restore the newest physical backup and WAL into scratch space, recover,
 * check, record, clean up (also when interrupted by SIGINT or SIGTERM). Exit 1 when a check fails.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed } from '../../core/errors.js';
import type { OutputFormat } from '../../core/output.js';
import { renderDrill, type DrillResult } from '../../core/pitr/results.js';
import { requirePitr } from '../../runtime/pitr/config.js';
import { runDrill, stopLeftover } from '../../runtime/pitr/drill.js';
import type { AgentContext } from '../context.js';

export async function drill(opts: { output?: OutputFormat }, ctx: AgentContext): Promise<DrillResult> {
  requirePitr(ctx.config, 'a recovery drill');
  let scratch: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    ctx.log.warn(`received ${sig}: stopping the drill and removing its scratch copy`);
    if (scratch) {
      stopLeftover(join(scratch, 'data'));
      rmSync(scratch, { recursive: true, force: true });
    }
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await runDrill(ctx.config, ctx.rawEnv, ctx.log, (d) => (scratch = d));
    if (r.status !== 'success')
      throw new OperationFailed(
        'E_DRILL_FAILED',
        `the recovery drill failed: ${r.error ?? 'unknown'}`,
        { backup: r.backupLabel },
        {
          hint: r.checks
            ? 'A failed index check or row count means the backups may not restore what you expect: investigate before relying on them (docs/pitr.md, "Recovery drills").'
            : 'The copy could not be made: fix what the message names and run the drill again (postgres-ops drill); the cluster was not touched.',
        },
      );
    ctx.out.result(r, opts.output ?? 'table', renderDrill);
    return r;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
