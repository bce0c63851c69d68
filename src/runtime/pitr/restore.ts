/**
 * A point-in-time restore as postgres-agent pitr-restore runs it: checks the target (window,
 * present, archive up to date), picks the backup and the timeline, and with `into` restores and
 * recovers a new data directory there, shut down cleanly, ready to be put in place. It never touches
 * a running member's data: putting the directory in place is the caller's step (local mode, the
 * chart's restore Job).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { SafetyRefusal, UsageError } from '../../core/errors.js';
import { formatBytes } from '../../core/output.js';
import type { PitrRestoreResult, PitrReopenResult } from '../../core/pitr/results.js';
import { describeTarget, type RecoveryTarget } from '../../core/pitr/target.js';
import { connect, connectionFromConfig } from '../backup/conn.js';
import { findPgBinDir } from '../pgbin.js';
import { volumeStats } from '../instance/datadir.js';
import { configuredRepos, jobRunner, type PitrJobContext } from './config.js';
import { bringArchiveUpToDate, liveTimelineOf, planPointInTime } from './plan.js';
import { archiveNewTimeline, restoreAndRecover } from './recover.js';

export interface PitrRestoreRequest {
  target: RecoveryTarget;
  /** A new (absent or empty) data directory to restore into; without it, only the plan. */
  into?: string;
}

/**
 * A cleanly stopped data directory (put back by `restore --undo`) promoted onto a timeline of its
 * own above every one in the archive, its history archived; under Patroni it would otherwise start
 * as a standby and follow the timelines of the restore it replaces.
 */
export async function reopenDataDir(dir: string, ctx: PitrJobContext): Promise<PitrReopenResult> {
  const binDir = findPgBinDir(ctx.config.instance.binDir);
  const { runner, dispose } = jobRunner(ctx.config, ctx.rawEnv);
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
    return { dir, timeline: rec.timeline };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    dispose();
  }
}

/**
 * The restored copy is written beside the live data, on the same volume: refuse (nothing changed)
 * when the backup's database size plus room for replayed WAL does not fit.
 */
function refuseWithoutRoom(into: string, databaseBytes: number): void {
  const need = Math.ceil(databaseBytes * 1.1) + 256 * 1024 * 1024;
  const { freeBytes } = volumeStats(dirname(into));
  if (freeBytes < need)
    throw new SafetyRefusal(
      'E_NO_ROOM',
      `restoring needs about ${formatBytes(need)} free beside the data (${dirname(into)}), and ${formatBytes(freeBytes)} is free; nothing was changed`,
      { needBytes: need, freeBytes },
      {
        hint: 'Make room first: expand the volume (docs/operations.md, "Storage") or drop data kept aside by an earlier restore (pgdata.before-restore-*).',
      },
    );
}

export async function restoreToPointInTime(
  req: PitrRestoreRequest,
  ctx: PitrJobContext,
): Promise<PitrRestoreResult> {
  const { target, into } = req;
  if (into && existsSync(into) && readdirSync(into).length > 0)
    throw new UsageError(
      'E_TARGET_DIR',
      `${into} is not empty; a restore never writes over data`,
      { dir: into },
      {
        hint: 'Give a new directory.',
      },
    );
  const binDir = findPgBinDir(ctx.config.instance.binDir);
  const { runner, dispose } = jobRunner(ctx.config, ctx.rawEnv);
  const primary = await connect(connectionFromConfig(ctx.config), 'postgres', 'postgres-agent pitr-restore')
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
    const plan = await planPointInTime(
      runner,
      target,
      binDir,
      configuredRepos(ctx.config),
      live ? await liveTimelineOf(primary) : undefined,
    );
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
    if (into) {
      refuseWithoutRoom(into, plan.backup.sizeBytes);
      const workDir = `${into}.work`;
      try {
        const rec = await restoreAndRecover({
          runner,
          binDir,
          dir: into,
          workDir,
          set: plan.backup.label,
          target,
          targetTimeline: plan.targetTimeline,
          log: ctx.log,
        });
        await rec.stop();
        if (rec.timeline !== null) await archiveNewTimeline(runner, into, rec.timeline);
        Object.assign(result, {
          dir: into,
          recoveredTo: rec.recoveredTo,
          recoveredLsn: rec.recoveredLsn,
          newTimeline: rec.timeline,
          seconds: rec.seconds,
        });
      } catch (err) {
        // Nothing half-made is left behind: the directory was new.
        rmSync(into, { recursive: true, force: true });
        throw err;
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
    }
    return result;
  } finally {
    await primary?.end().catch(() => undefined);
    dispose();
  }
}
