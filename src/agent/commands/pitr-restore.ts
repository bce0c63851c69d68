/**
 * postgres-agent pitr-restore: checks a point-in-time target (window, present, archive up to date),
 * picks the backup and the timeline, and with --into restores and recovers a new data directory
 * there, shut down cleanly, ready to be put in place. It never touches a running member's data:
 * putting the directory in place is the caller's step (local mode, the chart's restore Job).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import type { OutputFormat } from '../../core/output.js';
import type { PitrReopenResult, PitrRestoreResult } from '../../core/pitr/results.js';
import { describeTarget, parseTarget } from '../../core/pitr/target.js';
import { connect, connectionFromEnv } from '../../runtime/backup/conn.js';
import { configuredRepos, jobConf } from '../../runtime/pitr/config.js';
import { bringArchiveUpToDate, planPointInTime } from '../../runtime/pitr/plan.js';
import { archiveNewTimeline, restoreAndRecover } from '../../runtime/pitr/recover.js';
import { findPgBinDir } from '../../runtime/pgbin.js';
import type { AgentContext } from '../context.js';
import { requirePitr } from './physical.js';

export interface PitrRestoreFlags {
  time?: string;
  lsn?: string;
  latest?: boolean;
  into?: string;
  plan?: boolean;
  output?: OutputFormat;
}

export type { PitrRestoreResult };

/**
 * --reopen DIR: a cleanly stopped data directory (put back by `restore --undo`) promoted onto a
 * timeline of its own above every one in the archive, its history archived; under Patroni it would
 * otherwise start as a standby and follow the timelines of the restore it replaces.
 */
async function reopen(dir: string, ctx: AgentContext, output: OutputFormat | undefined) {
  const binDir = findPgBinDir(ctx.env.PGOPS_PG_BIN_DIR);
  const conf = jobConf(ctx.env, ctx.rawEnv);
  const runner = { configFile: conf.file, stanza: ctx.env.PGOPS_PGBACKREST_STANZA, env: conf.env };
  const workDir = `${dir}.work`;
  try {
    const rec = await restoreAndRecover({
      runner,
      binDir,
      dir,
      workDir,
      target: { kind: 'latest' },
      targetTimeline: 'current',
      log: ctx.log,
    });
    await rec.stop();
    if (rec.timeline !== null) await archiveNewTimeline(runner, dir, rec.timeline);
    const r: PitrReopenResult = { dir, timeline: rec.timeline };
    ctx.out.result(r, output ?? 'table', (x) => `reopened ${x.dir} on timeline ${x.timeline}`);
    return r;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    conf.dispose();
  }
}

export async function pitrRestore(
  flags: PitrRestoreFlags & { reopen?: string },
  ctx: AgentContext,
): Promise<PitrRestoreResult | PitrReopenResult> {
  requirePitr(ctx, 'a point-in-time restore');
  if (flags.reopen) return reopen(flags.reopen, ctx, flags.output);
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
  if (flags.into && existsSync(flags.into) && readdirSync(flags.into).length > 0)
    throw new UsageError(
      'E_TARGET_DIR',
      `${flags.into} is not empty; a restore never writes over data`,
      { dir: flags.into },
      {
        hint: 'Give a new directory.',
      },
    );
  const binDir = findPgBinDir(ctx.env.PGOPS_PG_BIN_DIR);
  const conf = jobConf(ctx.env, ctx.rawEnv);
  const runner = { configFile: conf.file, stanza: ctx.env.PGOPS_PGBACKREST_STANZA, env: conf.env };
  const primary = await connect(connectionFromEnv(ctx.env), 'postgres', 'postgres-agent pitr-restore')
    .then(async (c) => {
      const r = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      if (r.rows[0]?.r) {
        await c.end();
        return undefined;
      }
      return c;
    })
    .catch(() => undefined);
  try {
    const live = await bringArchiveUpToDate(primary, target, ctx.log);
    if (!live) ctx.log.warn('no primary answered: restoring from what the archive holds');
    const plan = await planPointInTime(runner, target, binDir, configuredRepos(ctx.env));
    const result: PitrRestoreResult = {
      target: describeTarget(target),
      backup: plan.backup.label,
      backupStoppedAt: plan.backup.stoppedAt,
      timeline: plan.timeline,
      targetTimeline: plan.targetTimeline,
      live,
      dir: null,
      recoveredTo: null,
      recoveredLsn: null,
      newTimeline: null,
      seconds: null,
    };
    if (flags.into) {
      const workDir = `${flags.into}.work`;
      try {
        const rec = await restoreAndRecover({
          runner,
          binDir,
          dir: flags.into,
          workDir,
          set: plan.backup.label,
          target,
          targetTimeline: plan.targetTimeline,
          log: ctx.log,
        });
        await rec.stop();
        if (rec.timeline !== null) await archiveNewTimeline(runner, flags.into, rec.timeline);
        Object.assign(result, {
          dir: flags.into,
          recoveredTo: rec.recoveredTo,
          recoveredLsn: rec.recoveredLsn,
          newTimeline: rec.timeline,
          seconds: rec.seconds,
        });
      } catch (err) {
        // Nothing half-made is left behind: the directory was new.
        rmSync(flags.into, { recursive: true, force: true });
        throw err;
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
    }
    ctx.out.result(result, flags.output ?? 'table', (r) =>
      [
        `target:   ${r.target}`,
        `backup:   ${r.backup} (stopped ${r.backupStoppedAt})`,
        `timeline: ${r.timeline} (--target-timeline=${r.targetTimeline})`,
        ...(r.dir
          ? [`restored: ${r.dir}, recovered to ${r.recoveredTo ?? '?'} in ${r.seconds?.toFixed(1)} s`]
          : []),
      ].join('\n'),
    );
    return result;
  } finally {
    await primary?.end().catch(() => undefined);
    conf.dispose();
  }
}
