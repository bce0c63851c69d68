/**
 * postgres-agent snapshot: a VolumeSnapshot of the leading member's data PVC, cut in backup mode,
 * then retention (src/runtime/snapshot/run.ts), over the Kubernetes API of the Job's namespace.
 */
import { OpsError, whileDoing } from '../../core/errors.js';
import { scopeOf } from '../../core/ha/patroni-config.js';
import {
  pgBackupModeSession,
  realClock,
  runSnapshot,
  type SnapshotOptions,
  type SnapshotResult,
} from '../../runtime/snapshot/run.js';
import type { AgentContext } from '../context.js';

export async function snapshot(opts: SnapshotOptions, ctx: AgentContext): Promise<SnapshotResult> {
  // Loaded here so that other commands never load the Kubernetes client.
  const { clusterSnapshotApi } = await import('../../kube/volume-snapshots.js');
  const { clusterLeaderRecord } = await import('../../kube/leader.js');
  try {
    return await runSnapshot(opts, ctx.config, {
      api: clusterSnapshotApi(ctx.config.agent.namespace),
      leader: () => clusterLeaderRecord(ctx.config.agent.namespace, scopeOf(ctx.config)),
      clock: realClock,
      now: () => new Date(),
      log: ctx.log.child({ command: 'snapshot' }),
      out: ctx.out,
      openSession: pgBackupModeSession(ctx.config),
    });
  } catch (err) {
    if (err instanceof OpsError) throw err;
    throw whileDoing('taking a volume snapshot', err);
  }
}
