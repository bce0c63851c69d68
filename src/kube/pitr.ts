/**
 * Point-in-time recovery of a release: physical backups, their listing and the recovery drill run
 * by the agent in the repository pod (src/kube/repo-pod.ts), and the whole-cluster restore the
 * chart's restore Job also runs (src/kube/cluster-restore.ts).
 */
import type {
  DrillResult,
  PhysicalBackupRequest,
  PhysicalBackupResult,
  PhysicalInfo,
  PitrRestoreOutcome,
  PitrRestoreRequest,
} from '../core/cluster/cluster-api.js';
import { UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { drillResultSchema, physicalBackupResultSchema, physicalInfoSchema } from '../core/pitr/results.js';
import { restoreClusterOnKube } from './cluster-restore.js';
import type { KubeRelease } from './release.js';
import { runInRepoPod } from './repo-pod.js';

/** The repository pod of point-in-time recovery, when the release has one. */
async function findRepoPod(rel: KubeRelease, what: string): Promise<string> {
  const pod = `${rel.fullname}-repo-0`;
  const found = await rel
    .api(`reading pod ${pod}`, () => rel.k.core.readNamespacedPod({ name: pod, namespace: rel.namespace }))
    .catch(() => undefined);
  if (!found)
    throw new UsageError(
      'E_PITR_OFF',
      `${what} needs point-in-time recovery: release ${rel.release} has no repository pod (${pod})`,
      { pod },
      { hint: 'Set databases.postgres.pitr.enabled=true and upgrade the release (docs/backups.md).' },
    );
  return pod;
}

export async function physicalBackupInRepoPod(
  rel: KubeRelease,
  req: PhysicalBackupRequest,
  out: Output,
): Promise<PhysicalBackupResult> {
  const pod = await findRepoPod(rel, 'a physical backup');
  return runInRepoPod(
    { namespace: rel.namespace, pod, kc: rel.k.kc, schema: physicalBackupResultSchema },
    ['physical-backup', '--type', req.type, ...(req.name ? ['--name', req.name] : [])],
    (s) => out.raw(s),
  );
}

export async function physicalInfoFromRepoPod(rel: KubeRelease): Promise<PhysicalInfo | null> {
  const pod = await findRepoPod(rel, 'listing physical backups').catch(() => undefined);
  if (!pod) return null;
  return runInRepoPod(
    { namespace: rel.namespace, pod, kc: rel.k.kc, schema: physicalInfoSchema },
    ['physical-info'],
    undefined,
    120_000,
  );
}

/** The whole cluster to a point in time, as the chart's restore Job does it (src/kube/cluster-restore.ts). */
export async function restoreReleasePointInTime(
  rel: KubeRelease,
  req: PitrRestoreRequest,
  out: Output,
): Promise<PitrRestoreOutcome> {
  const repoPod = await findRepoPod(rel, 'a point-in-time restore');
  return restoreClusterOnKube(rel.k, {
    statefulSet: rel.fullname,
    repoPod,
    target: req.target,
    confirm: req.confirm,
    dryRun: req.dryRun,
    progress: (line) => out.line(line),
    pollMs: rel.pollMs,
  });
}

export async function drillInRepoPod(rel: KubeRelease, out: Output): Promise<DrillResult> {
  const pod = await findRepoPod(rel, 'a recovery drill');
  return runInRepoPod(
    { namespace: rel.namespace, pod, kc: rel.k.kc, schema: drillResultSchema },
    ['drill'],
    (s) => out.raw(s),
  );
}
