/** VolumeSnapshots of a release: listed by the snapshot CronJob's marker labels, taken by its Job. */
import type { SnapshotEntry } from '../core/cluster/cluster-api.js';
import { UsageError } from '../core/errors.js';
import { isKubeNotFound } from '../core/kube-errors.js';
import type { Output } from '../core/output.js';
import { listSnapshots as listReleaseSnapshots } from '../core/snapshot/list.js';
import { runNow } from './agent-jobs.js';
import type { KubeRelease } from './release.js';
import { volumeSnapshotApi } from './volume-snapshots.js';
import { parseQuantity } from './volumes.js';

/** Our VolumeSnapshots of the release (the snapshot CronJob's marker labels), newest first. */
export async function listSnapshots(rel: KubeRelease): Promise<SnapshotEntry[]> {
  const list = await rel
    .api('listing VolumeSnapshots', () =>
      listReleaseSnapshots(volumeSnapshotApi(rel.k.custom, rel.namespace), rel.release),
    )
    .catch((err) => {
      // No snapshot CRDs in this cluster: there are no snapshots, which is not an error here.
      if (err instanceof UsageError || isKubeNotFound(err)) return [];
      throw err;
    });
  return list.map((s) => ({
    name: s.name,
    createdAt: s.createdAt,
    readyToUse: s.readyToUse,
    source: s.source,
    sizeBytes: parseQuantity(s.restoreSize ?? undefined),
  }));
}

export async function runSnapshotJob(
  rel: KubeRelease,
  name: string | undefined,
  out: Output,
): Promise<SnapshotEntry | undefined> {
  const args = name ? ['--name', name] : [];
  await runNow(rel, 'snapshot', name, args, 'databases.postgres.snapshots.enabled=true', out);
  const snaps = await listSnapshots(rel);
  return (name ? snaps.find((s) => s.name === name) : undefined) ?? snaps[0];
}
