/**
 * What every postgres-ops command needs from "the cluster", implemented twice: over the Kubernetes
 * API (`src/kube/cluster.ts`) and over plain processes under a state folder (`src/local/cluster.ts`).
 * Commands only see this interface, so everything above it is tested for real on the local runtime.
 */
import type { BackupListEntry } from '../backup/manifest.js';
import type { VerifyResult } from '../backup/results.js';
import type { HaView } from '../ha/view.js';
import type { MigrateResult } from '../migrate/result.js';
import type { Output } from '../output.js';
import type { DrillResult, PhysicalBackupResult, PhysicalInfo } from '../pitr/results.js';
import type { RecoveryTarget } from '../pitr/target.js';

export type { PhysicalBackupResult, PhysicalInfo, DrillResult };

export type { HaView };

export type Mode = 'local' | 'kubernetes';
export type Role = 'primary' | 'replica';

/** One PostgreSQL member as the cluster knows it (before asking PostgreSQL anything). */
export interface Member {
  name: string;
  /** What Patroni's leader record says this member is; PostgreSQL has the last word. */
  expectedRole: Role;
  /** A postmaster runs for this member (PostgreSQL may still be starting). */
  running: boolean;
  restarts: number | null;
  /** libpq URI to reach it as the superuser from where the command runs; never holds a password. */
  uri: string;
  /** Why it is not ready, when the member itself says so (agent health, pod condition). */
  note?: string | null;
}

export interface VolumeUsage {
  /** PVC name on Kubernetes; the directory in local mode. */
  name: string;
  member: string;
  /** Bytes the data directory itself takes, when known (local mode). */
  dataBytes?: number | null;
  /** What PostgreSQL can use: used + available (root's reserved blocks excluded); see src/core/disk-usage.ts. */
  capacityBytes: number | null;
  usedBytes: number | null;
  /** Still available to PostgreSQL (a non-root user). */
  availableBytes?: number | null;
  usedPercent: number | null;
}

/** As `postgres-agent list-backups -o json` prints it (one schema, read back with it). */
export type BackupEntry = BackupListEntry;

/** Local mode: the data directories that hold no database any more, while the state says they should. */
export interface DataLoss {
  members: string[];
  dirs: string[];
  /** Members whose data directory still holds a database. */
  intactMembers: string[];
}

export interface SnapshotEntry {
  name: string;
  createdAt: string | null;
  readyToUse: boolean;
  source: string | null;
  sizeBytes?: number | null;
}

export interface BackupRequest {
  /** Parallel pg_dump jobs (the agent's --jobs); the chart's or agent's default when absent. */
  jobs?: number;
}

export interface RestoreRequest {
  /** A path or URL as the agent accepts it (already resolved by the command). */
  file: string;
  targetDatabase?: string;
  safetyBackup: boolean;
  force?: boolean;
}

export interface PromoteOptions {
  force: boolean;
  /** Only check and describe what would happen. */
  plan: boolean;
}

export interface PromoteOutcome {
  promoted: string;
  previousPrimary: string | null;
  timeline: number | null;
  lsn: string | null;
  steps: string[];
  next: string[];
  /** switchover (the primary handed over), failover (it was gone) or none (already the primary). */
  action: 'switchover' | 'failover' | 'none';
  /** Bytes of WAL the candidate lacked when checked (null: unknown). */
  missingBytes: number | null;
  warnings: string[];
  /** With plan: what would happen, in one sentence. */
  message: string;
}

export interface MigrateRequest {
  version: string;
  /** Folder holding <version>/*.sql. */
  dir: string;
  description?: string;
  dryRun?: boolean;
}

export type Row = Record<string, unknown>;

/** Which database the application uses and which ones backups cover, as the agent is configured. */
export interface DatabaseScope {
  /** The application database (PGOPS_APP_DATABASE): where `connect` lands. */
  application: string;
  /** What every backup dumps (PGOPS_BACKUP_DATABASES, else the application database). */
  backedUp: string[];
}

export interface ClusterApi {
  readonly mode: Mode;
  readonly release: string;
  readonly namespace: string;
  /** Members in a stable order: primary first, then replicas by name. */
  members(): Promise<Member[]>;
  /** Runs one read-only SQL statement on a member and returns its rows (values as JSON types). */
  query(member: string, sql: string, database?: string): Promise<Row[]>;
  volumes(): Promise<VolumeUsage[]>;
  listBackups(): Promise<BackupEntry[]>;
  /** Where a bare backup name or file name would be found (the backup directory). */
  backupLocation(): string;
  backup(name: string | undefined, out: Output, req?: BackupRequest): Promise<void>;
  verify(
    file: string | undefined,
    opts: { deep?: boolean; all?: boolean },
    out: Output,
  ): Promise<VerifyResult[]>;
  restore(req: RestoreRequest, out: Output): Promise<unknown>;
  /** Reads what a restore of `file` will need, throwing before any question when it is wrong. */
  preflightRestore?(file: string): void;
  listSnapshots(): Promise<SnapshotEntry[]>;
  snapshot(name: string | undefined, out: Output): Promise<SnapshotEntry | undefined>;
  /** Local mode: the primary's data directory holds no database any more (lost or deleted). */
  dataLoss?(): Promise<DataLoss | null>;
  /** Replaces the data with a snapshot (local mode; on Kubernetes see docs/operations.md). */
  restoreSnapshot?(name: string, out: Output): Promise<unknown>;
  /** The application database and the databases backups cover. */
  databases(): Promise<DatabaseScope>;
  /** Applies a migration version with postgres-agent migrate (local mode; on Kubernetes the chart's Job does). */
  migrate?(req: MigrateRequest, out: Output): Promise<MigrateResult>;
  /** Interactive psql on a member, in `database`, with inherited stdio; resolves to psql's exit code. */
  connect(member: Member, database: string): Promise<number>;
  promote(candidate: string, opts: PromoteOptions, out: Output): Promise<PromoteOutcome>;
  /** Patroni's view of the members, the failover mode and the synchronous standby (null: no answer). */
  ha(): Promise<HaView | null>;
  /** A physical backup with pgBackRest (local: as the postgres OS user; Kubernetes: in the repository pod). */
  physicalBackup?(req: PhysicalBackupRequest, out: Output): Promise<PhysicalBackupResult>;
  /** pgBackRest's backups and window; null when point-in-time recovery is off. */
  physicalInfo?(): Promise<PhysicalInfo | null>;
  /** Restores the whole cluster to a point in time (never in place). */
  restorePointInTime?(req: PitrRestoreRequest, out: Output): Promise<PitrRestoreOutcome>;
  /** Puts back the data directories a point-in-time restore kept aside. */
  undoRestore?(out: Output): Promise<PitrUndoOutcome>;
  /** A recovery drill: restore the newest backup and WAL into scratch space and check it. */
  drill?(out: Output): Promise<DrillResult>;
}

export interface PhysicalBackupRequest {
  type: 'full' | 'diff' | 'incr';
  name?: string;
}

export interface PitrRestoreRequest {
  target: RecoveryTarget;
  /** The person confirmed (asked after the target was checked against the window). */
  confirm: (action: string) => Promise<void>;
  /** --dry-run: check the target and stop at the confirmation; an interrupted restore is not resumed. */
  dryRun?: boolean;
}

export interface PitrRestoreOutcome {
  target: string;
  backup: string;
  timeline: number;
  targetTimeline: string;
  recoveredTo: string | null;
  recoveredLsn: string | null;
  newTimeline: number | null;
  keptAside: string[];
  fullBackup: string | null;
  next: string[];
  warnings: string[];
}

export interface PitrUndoOutcome {
  restored: string[];
  keptAside: string[];
}
