import { type DatabaseRow, findRestoreLeftovers } from '../../core/backup/interrupted-restore.js';
import {
  type HolderRow,
  type RecordRow,
  type RunningOperation,
  runningOperation,
} from '../../core/cluster-operation.js';
import { withDatabase } from '../../core/pg/conninfo.js';
import type { ClusterApi, Member } from '../../core/cluster/cluster-api.js';
import type { OpsDeps } from '../deps.js';
import type { ArgsOf, OptionsOf } from '../program.js';
import { renderStatus } from '../render/status.js';
import {
  ARCHIVE_SQL,
  pitrStatus,
  pitrWarnings,
  timeoutSeconds,
  type ArchiveRow,
  type PitrStatus,
} from '../pitr-status.js';
import {
  CLUSTER_OPERATION_RECORD_SQL,
  STATUS_CLUSTER_SQL,
  STATUS_PROBE_SQL,
} from '../../core/cluster/sql.js';
import {
  buildInstances,
  type ChecksumFailure,
  type InstanceStatus,
  lastBackupOf,
  lastSnapshotOf,
  type Probe,
  type StatusFacts,
  type StatusReport,
  statusWarnings,
} from '../../core/cluster/status-model.js';

type StatusProbe = Probe & {
  checksum_failures?: { database: string; failures: number; lastFailure: string | null }[];
};

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
    const [row] = await withTimeout(cluster.query(m.name, STATUS_PROBE_SQL), 15_000, m.name);
    return row as unknown as Probe;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Databases (for leftovers of interrupted restores) and the running operation, read on the primary. */
async function clusterFacts(
  cluster: ClusterApi,
  primary: InstanceStatus | undefined,
  extra: string[],
): Promise<Pick<StatusFacts, 'operation' | 'leftovers'>> {
  if (!primary) return {};
  try {
    const [row] = await withTimeout(cluster.query(primary.name, STATUS_CLUSTER_SQL), 15_000, primary.name);
    const databases = (row?.databases ?? []) as DatabaseRow[];
    const holder = (row?.operation ?? null) as (HolderRow & { recorded: boolean }) | null;
    let operation: RunningOperation | null = null;
    if (holder) {
      const records = holder.recorded
        ? ((await cluster
            .query(primary.name, CLUSTER_OPERATION_RECORD_SQL)
            .catch(() => [])) as unknown as RecordRow[])
        : [];
      operation = runningOperation(holder, records);
    }
    return { operation, leftovers: findRestoreLeftovers(databases) };
  } catch (err) {
    extra.push(`could not read the databases of ${primary.name}: ${(err as Error).message}`);
    return {};
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
  // Local mode sees the postmaster itself. A pod only says its container runs: there a postmaster
  // runs when PostgreSQL answers, or when Patroni says it is up (starting, recovering).
  if (cluster.mode !== 'local')
    for (const m of members) {
      if (!m.running || !(probes.get(m.name) instanceof Error)) continue;
      const state = ha?.members.find((x) => x.name === m.name)?.patroniState;
      m.running = state !== undefined && !/stopped|crashed|failed/.test(state);
    }
  const instances = buildInstances(members, probes, ha);
  const primary = instances.find((i) => i.role === 'primary' && i.ready);
  // Independent reads, at once: on Kubernetes each query on a member is a round trip to its pod.
  const storageError: string[] = [];
  const backupsError: string[] = [];
  const factsError: string[] = [];
  const [pitr, { operation, leftovers }, storage, backups, snapshots, databases, dataLoss] =
    await Promise.all([
      collectPitr(cluster, instances.find((i) => i.role === 'primary' && !i.error)?.name, now),
      clusterFacts(cluster, primary, factsError),
      cluster
        .volumes()
        .catch((err: Error) => (storageError.push(`could not read volume usage: ${err.message}`), [])),
      cluster
        .listBackups()
        .catch((err: Error) => (backupsError.push(`could not list backups: ${err.message}`), null)),
      cluster.listSnapshots().catch(() => []),
      cluster.databases().catch(() => null),
      cluster.dataLoss ? cluster.dataLoss().catch(() => null) : Promise.resolve(null),
    ]);
  const extra = [...pitr.warnings, ...storageError, ...backupsError, ...factsError];
  const checksumFailures: ChecksumFailure[] = [];
  for (const [instance, p] of probes) {
    if (p instanceof Error) continue;
    for (const f of (p as StatusProbe).checksum_failures ?? [])
      checksumFailures.push({
        instance,
        database: f.database,
        failures: Number(f.failures),
        lastFailure: f.lastFailure ?? null,
      });
  }
  const damagedBackups = (backups ?? [])
    .filter((b) => b.damaged)
    .map((b) => ({ name: b.name, reason: b.damagedReason ?? 'its files do not match its manifest' }));
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
    operation: operation ?? null,
    checksumFailures,
    damagedBackups,
    dataLoss,
  };
  if (databases) for (const i of instances) i.appUri = withDatabase(i.uri, databases.application);
  const local = cluster.mode === 'local';
  const primaryPod =
    primary?.name ?? members.find((m) => m.expectedRole === 'primary')?.name ?? '<primary pod>';
  const warnings = statusWarnings(
    base,
    undefined,
    {
      start: local ? 'postgres-ops local up' : `kubectl describe pod -n ${cluster.namespace} <name>`,
      repair: local
        ? 'postgres-ops local up'
        : `kubectl exec -n ${cluster.namespace} ${primaryPod} -c postgres -- postgres-agent repair`,
      sql: 'run it in: postgres-ops connect',
      fresh: 'postgres-ops local up --fresh',
    },
    { operation, leftovers, checksumFailures, damagedBackups, dataLoss },
  );
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

export async function status(
  _args: ArgsOf<'status'>,
  _options: OptionsOf<'status'>,
  deps: OpsDeps,
): Promise<StatusReport & PitrStatus> {
  const report = await collectStatus(deps.cluster);
  deps.out.result(report, deps.opts.output, (r) => renderStatus(r, deps.out.stdout.isTTY));
  return report;
}
