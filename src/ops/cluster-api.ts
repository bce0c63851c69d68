/**
 * What every postgres-ops command needs from "the cluster", implemented twice: over the Kubernetes
 * API (`src/kube/cluster.ts`) and over plain processes under a state folder (`src/local/cluster.ts`).
 * Commands only see this interface, so everything above it is tested for real on the local runtime.
 */
import type { Output } from '../core/output.js';

export type Mode = 'local' | 'kubernetes';
export type Role = 'primary' | 'replica';

/** One PostgreSQL member as the cluster knows it (before asking PostgreSQL anything). */
export interface Member {
  name: string;
  /** What the cluster says this member is (StatefulSet / local state); PostgreSQL has the last word. */
  expectedRole: Role;
  /** The process or pod is running. */
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
  capacityBytes: number | null;
  usedBytes: number | null;
  usedPercent: number | null;
}

/** As `postgres-agent list-backups -o json` prints it. */
export interface BackupEntry {
  name: string;
  file: string;
  sizeBytes: number;
  createdAt: string;
  sha256: string | null;
  verified: boolean;
  verifiedAt: string | null;
  deepVerifiedAt: string | null;
  database?: string | string[] | null;
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

export interface PromoteOutcome {
  promoted: string;
  previousPrimary: string | null;
  timeline: number | null;
  lsn: string | null;
  steps: string[];
  next: string[];
}

export type Row = Record<string, unknown>;

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
  verify(file: string | undefined, opts: { deep?: boolean; all?: boolean }, out: Output): Promise<unknown>;
  restore(req: RestoreRequest, out: Output): Promise<unknown>;
  listSnapshots(): Promise<SnapshotEntry[]>;
  snapshot(name: string | undefined, out: Output): Promise<SnapshotEntry | undefined>;
  /** Replaces the data with a snapshot (local mode; on Kubernetes see docs/operations.md). */
  restoreSnapshot?(name: string, out: Output): Promise<unknown>;
  /** Interactive psql on a member with inherited stdio; resolves to psql's exit code. */
  connect(member: Member): Promise<number>;
  promote(replica: string, out: Output): Promise<PromoteOutcome>;
}
