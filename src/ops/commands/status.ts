import { withDatabase } from '../../core/pg/conninfo.js';
import type { ClusterApi, Member } from '../cluster-api.js';
import type { OpsDeps } from '../deps.js';
import { renderStatus } from '../render/status.js';
import {
  ARCHIVE_SQL,
  pitrStatus,
  pitrWarnings,
  timeoutSeconds,
  type ArchiveRow,
  type PitrStatus,
} from '../pitr-status.js';
import { PROBE_SQL } from '../sql.js';
import {
  buildInstances,
  lastBackupOf,
  lastSnapshotOf,
  type Probe,
  type StatusReport,
  statusWarnings,
} from '../status-model.js';

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms);
    }),
  ]);
}

async function probe(cluster: ClusterApi, m: Member): Promise<Probe | Error> {
  if (!m.running) return new Error('not running');
  try {
    const [row] = await withTimeout(cluster.query(m.name, PROBE_SQL), 15_000, m.name);
    return row as unknown as Probe;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The archive and the window, read on the leader (null fields without an archive or a leader). */
async function collectPitr(
  cluster: ClusterApi,
  leader: string | undefined,
  now: Date,
): Promise<PitrStatus & { warnings: string[] }> {
  if (!leader) return { recoverability: null, archive: null, warnings: [] };
  try {
    const [row] = (await withTimeout(
      cluster.query(leader, ARCHIVE_SQL),
      15_000,
      leader,
    )) as unknown as ArchiveRow[];
    const p = pitrStatus(row);
    return { ...p, warnings: pitrWarnings(p, now, row ? timeoutSeconds(row.timeout) : 60) };
  } catch (err) {
    return {
      recoverability: null,
      archive: null,
      warnings: [`could not read the archive's state: ${(err as Error).message}`],
    };
  }
}

/** Builds the status report (the model both renderers use). */
export async function collectStatus(
  cluster: ClusterApi,
  now = new Date(),
): Promise<StatusReport & PitrStatus> {
  const [members, ha] = await Promise.all([cluster.members(), cluster.ha().catch(() => null)]);
  const probes = new Map(
    await Promise.all(members.map(async (m) => [m.name, await probe(cluster, m)] as const)),
  );
  const instances = buildInstances(members, probes, ha);
  const pitr = await collectPitr(cluster, instances.find((i) => i.role === 'primary' && !i.error)?.name, now);
  const extra: string[] = [...pitr.warnings];
  const [storage, backups, snapshots, databases] = await Promise.all([
    cluster.volumes().catch((err: Error) => (extra.push(`could not read volume usage: ${err.message}`), [])),
    cluster.listBackups().catch((err: Error) => (extra.push(`could not list backups: ${err.message}`), null)),
    cluster.listSnapshots().catch(() => []),
    cluster.databases().catch(() => null),
  ]);
  const base = {
    mode: cluster.mode,
    release: cluster.release,
    namespace: cluster.namespace,
    failover: ha?.failover ?? null,
    synchronous: ha?.synchronous ?? null,
    synchronousStandby: ha?.synchronousStandby ?? [],
    leader: ha?.leader ?? null,
    instances,
    storage,
    lastBackup: backups ? lastBackupOf(backups, now) : null,
    lastSnapshot: lastSnapshotOf(snapshots, now),
  };
  if (databases) for (const i of instances) i.appUri = withDatabase(i.uri, databases.application);
  const start =
    cluster.mode === 'local'
      ? 'postgres-ops local up'
      : `kubectl describe pod -n ${cluster.namespace} <name>`;
  const warnings = statusWarnings(base, undefined, { start });
  // When the backups could not be listed, "no backup yet" would be a guess: say what happened instead.
  return {
    ...base,
    recoverability: pitr.recoverability,
    archive: pitr.archive,
    databases,
    warnings: backups
      ? [...warnings, ...extra]
      : [...warnings.filter((w) => !w.startsWith('no backup yet')), ...extra],
  };
}

export async function status(deps: OpsDeps): Promise<StatusReport & PitrStatus> {
  const report = await collectStatus(deps.cluster);
  deps.out.result(report, deps.opts.output, (r) => renderStatus(r, !!process.stdout.isTTY));
  return report;
}
