/**
 * ClusterApi over the Kubernetes API, for a Helm release of the chart. Thin on purpose: it finds
 * objects by the chart's labels (whatever fullnameOverride made of their names), runs agent
 * commands in Jobs made from the chart's CronJobs (what `kubectl create job --from=cronjob/...`
 * does: src/kube/jobs.ts), and runs `psql` / `postgres-agent` inside member pods. Everything above
 * it is tested for real against the local implementation.
 *
 * This class only connects and delegates; each responsibility has its module: the members and
 * what they say (members.ts), their volumes (volumes.ts), backups (backups.ts) and snapshots
 * (snapshots.ts) through agent Jobs (agent-jobs.ts), point-in-time recovery (pitr.ts), promotion
 * (promote.ts) and the interactive psql (psql-session.ts).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type {
  BackupEntry,
  BackupRequest,
  ClusterApi,
  DatabaseScope,
  HaView,
  Member,
  PromoteOptions,
  PromoteOutcome,
  RestoreRequest,
  Row,
  SnapshotEntry,
  VolumeUsage,
  DrillResult,
  PhysicalBackupRequest,
  PhysicalBackupResult,
  PhysicalInfo,
  PitrRestoreOutcome,
  PitrRestoreRequest,
} from '../core/cluster/cluster-api.js';
import type { Output } from '../core/output.js';
import {
  BACKUP_DIR,
  backupDatabases,
  listBackupsOnVolume,
  runBackupJob,
  runRestoreJob,
  verifyOnVolume,
} from './backups.js';
import { type KubeClients, kubeClients } from './client.js';
import { noKubeconfig } from './errors.js';
import { haView, listMembers, queryMember } from './members.js';
import {
  drillInRepoPod,
  physicalBackupInRepoPod,
  physicalInfoFromRepoPod,
  restoreReleasePointInTime,
} from './pitr.js';
import { promoteMember } from './promote.js';
import { psqlSession } from './psql-session.js';
import { KubeRelease } from './release.js';
import { listSnapshots, runSnapshotJob } from './snapshots.js';
import { volumeUsage } from './volumes.js';

export interface KubeOptions {
  context?: string;
  namespace?: string;
  /** A kubeconfig file (--kubeconfig), instead of KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  release: string;
  /** Pause between looks at a Job (tests shorten it). */
  pollMs?: number;
}

export class KubeCluster implements ClusterApi {
  readonly mode = 'kubernetes' as const;
  readonly release: string;
  readonly namespace: string;

  private constructor(private readonly rel: KubeRelease) {
    this.release = rel.release;
    this.namespace = rel.namespace;
  }

  /** Connects and checks that the release exists (listing the ones that do when it does not). */
  static async connect(opts: KubeOptions): Promise<KubeCluster> {
    let k: KubeClients;
    if (opts.kubeconfig && !existsSync(opts.kubeconfig))
      throw noKubeconfig(`no kubeconfig at ${opts.kubeconfig}`);
    try {
      k = kubeClients({ context: opts.context, namespace: opts.namespace, kubeconfig: opts.kubeconfig });
    } catch (err) {
      const msg = (err as Error).message;
      throw noKubeconfig(
        /No active cluster/.test(msg)
          ? opts.context
            ? `context "${opts.context}" not found in the kubeconfig`
            : 'the kubeconfig names no current cluster'
          : /Cannot read prop|undefined/.test(msg)
            ? `${opts.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'} is empty or not a kubeconfig`
            : msg,
      );
    }
    if (!k.kc.getCurrentCluster()) throw noKubeconfig('the kubeconfig names no current cluster');
    // Without any kubeconfig the client falls back to http://localhost:8080: say so instead.
    const kubeconfig = opts.kubeconfig ?? process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
    if (
      !opts.kubeconfig &&
      !process.env.KUBERNETES_SERVICE_HOST &&
      !kubeconfig.split(delimiter).some((f) => f && existsSync(f))
    )
      throw noKubeconfig(`no kubeconfig at ${kubeconfig}`);
    const rel = new KubeRelease(k, opts.release, opts.pollMs);
    rel.kubeconfigFile = opts.kubeconfig;
    await rel.checkRelease();
    return new KubeCluster(rel);
  }

  /** The chart's "<fullname>-postgres": the StatefulSet, the read-write Service, the prefix of the CronJobs. */
  get fullname() {
    return this.rel.fullname;
  }

  /** Finds the release's StatefulSet by its labels (see KubeRelease.checkRelease). */
  async checkRelease(): Promise<void> {
    return this.rel.checkRelease();
  }

  async members(): Promise<Member[]> {
    return listMembers(this.rel);
  }

  async query(member: string, sql: string, database = 'postgres'): Promise<Row[]> {
    return queryMember(this.rel, member, sql, database);
  }

  async volumes(): Promise<VolumeUsage[]> {
    return volumeUsage(this.rel);
  }

  backupLocation(): string {
    return BACKUP_DIR;
  }

  async databases(): Promise<DatabaseScope> {
    return backupDatabases(this.rel);
  }

  async listBackups(): Promise<BackupEntry[]> {
    return listBackupsOnVolume(this.rel);
  }

  async verify(file: string | undefined, opts: { deep?: boolean; all?: boolean }) {
    return verifyOnVolume(this.rel, file, opts);
  }

  async backup(name: string | undefined, out: Output, req: BackupRequest = {}): Promise<void> {
    return runBackupJob(this.rel, name, out, req);
  }

  async restore(req: RestoreRequest, out: Output) {
    return runRestoreJob(this.rel, req, out);
  }

  async listSnapshots(): Promise<SnapshotEntry[]> {
    return listSnapshots(this.rel);
  }

  async snapshot(name: string | undefined, out: Output): Promise<SnapshotEntry | undefined> {
    return runSnapshotJob(this.rel, name, out);
  }

  async connect(member: Member, database: string): Promise<number> {
    return psqlSession(this.rel, member, database);
  }

  async ha(): Promise<HaView | null> {
    return haView(this.rel);
  }

  async physicalBackup(req: PhysicalBackupRequest, out: Output): Promise<PhysicalBackupResult> {
    return physicalBackupInRepoPod(this.rel, req, out);
  }

  async physicalInfo(): Promise<PhysicalInfo | null> {
    return physicalInfoFromRepoPod(this.rel);
  }

  async restorePointInTime(req: PitrRestoreRequest, out: Output): Promise<PitrRestoreOutcome> {
    return restoreReleasePointInTime(this.rel, req, out);
  }

  async drill(out: Output): Promise<DrillResult> {
    return drillInRepoPod(this.rel, out);
  }

  async promote(candidate: string, opts: PromoteOptions, out: Output): Promise<PromoteOutcome> {
    return promoteMember(this.rel, candidate, opts, out);
  }
}
