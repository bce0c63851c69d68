/**
 * The status model: one typed object built from what the cluster and PostgreSQL report, rendered
 * as a table or printed as `-o json` (a stable interface: add fields, never rename them). Pure.
 */
import type { RestoreLeftover } from '../backup/interrupted-restore.js';
import { describeOperation, type RunningOperation } from '../cluster-operation.js';
import type {
  BackupEntry,
  DatabaseScope,
  DataLoss,
  HaView,
  Member,
  Mode,
  Role,
  SnapshotEntry,
  VolumeUsage,
} from './cluster-api.js';
import { lsnDiff } from '../pg/wal.js';

export interface Probe {
  in_recovery: boolean;
  timeline: number | null;
  lsn: string | null;
  replay_age_seconds: number | null;
  receiver_status: string | null;
}

/** stopped: no postmaster; starting: a postmaster that does not answer yet; streaming: a replica that receives WAL. */
export type MemberState = 'running' | 'streaming' | 'starting' | 'stopped';

export interface InstanceStatus {
  name: string;
  role: Role;
  ready: boolean;
  /** True exactly when a postmaster runs for this member. */
  running: boolean;
  state: MemberState;
  /** Changed settings wait for a restart of this member (Patroni's pending_restart). */
  pendingRestart: boolean;
  /** Commits wait for this replica (synchronous replication). */
  synchronousStandby: boolean;
  restarts: number | null;
  timeline: number | null;
  lagBytes: number | null;
  lagSeconds: number | null;
  /** The maintenance database `postgres` (kept as it always was); `appUri` names the application database. */
  uri: string;
  appUri?: string;
  /** Why it could not be asked, when it could not. */
  error: string | null;
}

export interface LastBackup {
  name: string;
  file: string;
  createdAt: string;
  ageSeconds: number;
  sizeBytes: number;
  verified: boolean;
}

export interface LastSnapshot {
  name: string;
  createdAt: string | null;
  ageSeconds: number | null;
  readyToUse: boolean;
}

export interface StatusReport {
  mode: Mode;
  release: string;
  namespace: string;
  /** null when Patroni could not be asked. */
  failover: 'automatic' | 'manual' | null;
  synchronous: boolean | null;
  synchronousStandby: string[];
  leader: string | null;
  instances: InstanceStatus[];
  storage: VolumeUsage[];
  lastBackup: LastBackup | null;
  lastSnapshot: LastSnapshot | null;
  /** The backup, restore, migration or promotion running now (it holds the operation lock). */
  operation?: RunningOperation | null;
  /** Data checksum failures PostgreSQL counted, per member and database. */
  checksumFailures?: ChecksumFailure[];
  /** Backups whose files do not match their manifest. */
  damagedBackups?: { name: string; reason: string }[];
  /** Local mode: members whose data directory holds no database any more. */
  dataLoss?: DataLoss | null;
  warnings: string[];
  /** The application database and what backups cover (null when it could not be read). */
  databases?: DatabaseScope | null;
}

export interface ChecksumFailure {
  instance: string;
  database: string;
  failures: number;
  lastFailure: string | null;
}

/** What `status` learned beyond members, storage and the newest backup and snapshot. */
export interface StatusFacts {
  operation?: RunningOperation | null;
  leftovers?: RestoreLeftover[];
  checksumFailures?: ChecksumFailure[];
  damagedBackups?: { name: string; reason: string }[];
  dataLoss?: DataLoss | null;
}

export interface StatusHints {
  /** How to start what is not running. */
  start: string;
  /** What repairs an interrupted restore. */
  repair?: string;
  /** How to run one SQL statement on the primary. */
  sql?: string;
  /** Local mode: the command that starts an empty cluster over a lost one. */
  fresh?: string;
}

export interface Thresholds {
  maxLagBytes: number;
  maxLagSeconds: number;
  diskWarningPercent: number;
  diskCriticalPercent: number;
  backupMaxAgeHours: number;
}

/** The chart's alert defaults (values.yaml monitoring.alerts), so status and alerts agree. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  maxLagBytes: 16 * 1024 * 1024,
  maxLagSeconds: 30,
  diskWarningPercent: 70,
  diskCriticalPercent: 85,
  backupMaxAgeHours: 26,
};

/** Joins members with what PostgreSQL said (or the error asking it) and what Patroni says. */
export function buildInstances(
  members: Member[],
  probes: Map<string, Probe | Error>,
  ha: HaView | null = null,
): InstanceStatus[] {
  const answered = members.map((m) => ({ m, p: probes.get(m.name) }));
  const primaryLsn = answered.find(({ p }) => p && !(p instanceof Error) && !p.in_recovery)?.p as
    Probe | undefined;
  const list = answered.map(({ m, p }): InstanceStatus => {
    const probe = p && !(p instanceof Error) ? p : undefined;
    const role: Role = probe ? (probe.in_recovery ? 'replica' : 'primary') : m.expectedRole;
    let lagBytes: number | null = null;
    let lagSeconds: number | null = null;
    if (probe && role === 'replica') {
      lagBytes = primaryLsn ? lsnDiff(primaryLsn.lsn, probe.lsn) : null;
      // Nothing to replay means no lag, however long ago the last transaction was.
      lagSeconds = lagBytes === 0 ? 0 : (probe.replay_age_seconds ?? null);
      if (lagSeconds !== null) lagSeconds = Math.max(0, Math.round(lagSeconds * 1000) / 1000);
    } else if (probe) {
      lagBytes = 0;
      lagSeconds = 0;
    }
    const ready = m.running && !!probe && (role === 'primary' || probe.receiver_status === 'streaming');
    const patroni = ha?.members.find((x) => x.name === m.name);
    const state: MemberState = !m.running
      ? 'stopped'
      : !probe
        ? 'starting'
        : role === 'replica' && probe.receiver_status === 'streaming'
          ? 'streaming'
          : 'running';
    return {
      name: m.name,
      role,
      ready,
      running: m.running,
      state,
      pendingRestart: patroni?.pendingRestart ?? false,
      synchronousStandby: patroni?.synchronousStandby ?? false,
      restarts: m.restarts,
      timeline: probe?.timeline ?? null,
      lagBytes,
      lagSeconds,
      uri: m.uri,
      error:
        p instanceof Error
          ? (m.note ?? p.message)
          : m.running
            ? ready
              ? null
              : (m.note ?? null)
            : 'not running',
    };
  });
  const rank = (i: InstanceStatus) => (i.role === 'primary' ? 0 : 1);
  return list.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** The newest backup that is not damaged (a damaged one is never "the last backup"). */
export function lastBackupOf(backups: BackupEntry[], now: Date): LastBackup | null {
  const newest = backups
    .filter((b) => !b.damaged)
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
  if (!newest) return null;
  return {
    name: newest.name,
    file: newest.file,
    createdAt: newest.createdAt,
    ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(newest.createdAt)) / 1000)),
    sizeBytes: newest.sizeBytes,
    verified: newest.verified,
  };
}

export function lastSnapshotOf(snapshots: SnapshotEntry[], now: Date): LastSnapshot | null {
  const newest = [...snapshots].sort(
    (a, b) => Date.parse(b.createdAt ?? '') - Date.parse(a.createdAt ?? '') || 0,
  )[0];
  if (!newest) return null;
  const t = newest.createdAt ? Date.parse(newest.createdAt) : NaN;
  return {
    name: newest.name,
    createdAt: newest.createdAt,
    ageSeconds: Number.isNaN(t) ? null : Math.max(0, Math.round((now.getTime() - t) / 1000)),
    readyToUse: newest.readyToUse,
  };
}

/** Everything a person should look at first, most severe first. */
export function statusWarnings(
  report: Omit<StatusReport, 'warnings'>,
  t: Thresholds = DEFAULT_THRESHOLDS,
  hints: StatusHints = { start: 'postgres-ops local up' },
  facts: StatusFacts = {},
): string[] {
  const w: string[] = [];
  const lost = new Set(facts.dataLoss?.members ?? []);
  if (facts.dataLoss) w.push(dataLossWarning(facts.dataLoss, report, hints));
  w.push(...checksumWarnings(facts.checksumFailures ?? [], report));
  // While an operation runs, a `__restoring` copy or a fenced database is its work in progress.
  if (!facts.operation) w.push(...leftoverWarnings(facts.leftovers ?? [], hints));
  const primaries = report.instances.filter((i) => i.role === 'primary' && i.ready);
  // Replicas that answer, streaming or not (with the primary gone none streams).
  const replicas = report.instances.filter((i) => i.role === 'replica' && i.running && i.timeline !== null);
  if (report.instances.length === 0) w.push(`no PostgreSQL instances found; start them: ${hints.start}`);
  else if (primaries.length === 0 && lost.size === 0)
    w.push(
      report.failover === 'manual' && replicas.length
        ? `CRITICAL: no primary is accepting writes, and failover is manual: promote the replica with the most WAL (postgres-ops promote ${replicas[0]!.name})`
        : 'CRITICAL: no primary is accepting writes',
    );
  if (primaries.length > 1)
    w.push(
      `CRITICAL: ${primaries.length} instances accept writes (${primaries.map((p) => p.name).join(', ')}): stop all but one`,
    );
  for (const i of report.instances) {
    if (lost.has(i.name)) continue;
    if (!i.running) w.push(`${i.name} is not running: ${hints.start}`);
    else if (i.error && !i.ready && i.timeline !== null) w.push(`${i.name} is not ready: ${i.error}`);
    else if (i.error) w.push(`${i.name} does not answer: ${i.error}`);
    else if (i.role === 'replica' && !i.ready) w.push(`${i.name} is not streaming from the primary`);
    if (i.role === 'replica' && i.lagSeconds !== null && i.lagSeconds > t.maxLagSeconds)
      w.push(`${i.name} lags ${Math.round(i.lagSeconds)}s behind the primary (alert at ${t.maxLagSeconds}s)`);
    else if (i.role === 'replica' && i.lagBytes !== null && i.lagBytes > t.maxLagBytes)
      w.push(`${i.name} lags ${i.lagBytes} bytes of WAL behind the primary`);
  }
  if (report.synchronous && report.synchronousStandby.length === 0 && report.instances.length > 1)
    w.push(
      'synchronous replication is on but no replica is synchronous now: commits are acknowledged without a copy until one streams again',
    );
  for (const i of report.instances)
    if (i.pendingRestart)
      w.push(`${i.name} runs with settings that need a restart to apply (pending restart)`);
  for (const v of report.storage) {
    if (v.usedPercent === null) continue;
    if (v.usedPercent >= t.diskCriticalPercent)
      w.push(`CRITICAL: volume ${v.name} is ${v.usedPercent}% full (expand it now)`);
    else if (v.usedPercent >= t.diskWarningPercent)
      w.push(`volume ${v.name} is ${v.usedPercent}% full (warning at ${t.diskWarningPercent}%)`);
  }
  if (!report.lastBackup) w.push('no backup yet: postgres-ops backup NAME');
  else {
    if (report.lastBackup.ageSeconds > t.backupMaxAgeHours * 3600)
      w.push(
        `newest backup ${report.lastBackup.name} is ${Math.floor(report.lastBackup.ageSeconds / 3600)}h old (alert at ${t.backupMaxAgeHours}h)`,
      );
    if (!report.lastBackup.verified) w.push(`newest backup ${report.lastBackup.name} is not verified`);
  }
  for (const d of facts.damagedBackups ?? [])
    w.push(
      `backup ${d.name} is damaged (${d.reason}): never restore it; verify the others (postgres-ops verify --all) and take a new backup (postgres-ops backup NAME)`,
    );
  return w;
}

/** The data is gone: say so, and name the restore commands (never `local up`, which starts empty). */
function dataLossWarning(loss: DataLoss, report: Omit<StatusReport, 'warnings'>, hints: StatusHints): string {
  const what = `CRITICAL: the data of ${loss.members.join(', ')} is gone (${loss.dirs.join(', ')} holds no database)`;
  const fresh = hints.fresh ?? 'postgres-ops local up --fresh';
  const ways: string[] = [];
  if (report.lastBackup)
    ways.push(`the newest backup: ${fresh} && postgres-ops restore ${report.lastBackup.name} --yes`);
  if (report.lastSnapshot)
    ways.push(`the newest snapshot: postgres-ops restore --snapshot ${report.lastSnapshot.name} --yes`);
  const intact = loss.intactMembers.length
    ? `; ${loss.intactMembers.join(', ')} still ${loss.intactMembers.length === 1 ? 'holds' : 'hold'} a data directory`
    : '';
  if (ways.length === 0)
    return `${what}${intact}, and there is no backup or snapshot to restore: to start an empty cluster, run ${fresh}`;
  return `${what}${intact}; \`local up\` alone would start an EMPTY cluster. Restore ${ways.join(', or ')}`;
}

function checksumWarnings(failures: ChecksumFailure[], report: Omit<StatusReport, 'warnings'>): string[] {
  const restore = report.lastBackup
    ? `postgres-ops restore ${report.lastBackup.name}`
    : 'postgres-ops restore NAME';
  return failures.map(
    (f) =>
      `CRITICAL: ${f.instance}: ${f.failures} data checksum failure${f.failures === 1 ? '' : 's'} in database ${f.database}${f.lastFailure ? `, the last at ${f.lastFailure}` : ''}: pages on its disk are damaged. The PostgreSQL log names each relation and block ("invalid page"); check the volume, then restore the newest verified backup (${restore}) or promote a replica that reads the data fine (docs/operations.md, "Corruption")`,
  );
}

function leftoverWarnings(leftovers: RestoreLeftover[], hints: StatusHints): string[] {
  const sql = (stmts: string[]) => `${stmts.join('; ')}${hints.sql ? ` (${hints.sql})` : ''}`;
  // What `postgres-agent repair` does on its own; the rest is a person's call, with the SQL.
  const fix = (l: RestoreLeftover) => (l.automatic && hints.repair ? hints.repair : sql(l.repair));
  return leftovers.map((l) => {
    if (l.kind === 'fenced')
      return `CRITICAL: ${l.message}. Repair: ${fix(l)}${l.automatic ? ' (a new restore repairs it first)' : ''}`;
    if (l.kind === 'unfinished-copy')
      return `${l.message}. Drop it: ${fix(l)}${l.automatic ? '' : ' (it does not carry the mark of our restores: check it is not yours first)'}`;
    if (l.kind === 'refuses-connections') return `${l.message}; if that is not on purpose: ${sql(l.repair)}`;
    return `${l.message}: ${sql(l.repair)}`;
  });
}

/** "restore base (started ...)" for the status screen. */
export function runningLine(op: RunningOperation): string {
  return describeOperation(op);
}
