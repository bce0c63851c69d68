/**
 * The chart's PrometheusRule, checked with the real promtool: it parses, and every alert fires at
 * and above its threshold once its `for` has elapsed and stays silent below it. Expected labels and
 * annotations come from the rendered rule itself (its labels, its annotation templates expanded for
 * the scenario's series), so the tests follow the chart without copying its text.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { cleanupAll } from '../support/cleanup.js';
import {
  alertRules,
  everyAlertArgs,
  expandAlertTemplate,
  promtool,
  renderChart,
  ruleGroupsOf,
  workDir,
  writeIn,
  type AlertRule,
  type RuleGroup,
} from '../support/promql.js';
import { repoRoot } from '../support/tools.js';

after(cleanupAll);

const NS = 'pyairtable';
const FN = 'pyairtable-stack-postgres';
/** Labels Prometheus puts on a series scraped through the chart's ServiceMonitor. */
const EXP = { job: FN, namespace: NS, instance: '10.0.0.1:9187', pod: `${FN}-0`, container: 'metrics' };
const EXP_REPLICA = { ...EXP, instance: '10.0.0.2:9187', pod: `${FN}-replica-0` };
const KSM = { job: 'kube-state-metrics', instance: '10.0.9.9:8080', namespace: NS };
const KUBELET = { job: 'kubelet', instance: '10.0.8.1:10250', node: 'node-a', namespace: NS };

/** Thresholds set explicitly, so the scenarios below know them. */
const T = {
  diskWarningPercent: 70,
  diskCriticalPercent: 85,
  connectionUsagePercent: 80,
  replicationLagSeconds: 30,
  backupMaxAgeHours: 26,
  slowQuerySeconds: 300,
  deadlocksPer10m: 1,
  longTransactionSeconds: 1800,
  replicationSlotRetainedGiB: 5,
  archiveMaxAgeMinutes: 10,
  walReadyFiles: 64,
  fullBackupMaxAgeDays: 8,
  drillMaxAgeDays: 8,
};
const REPLICAS = 2;

function series(name: string, labels: Record<string, string>, values: string) {
  const l = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return { series: `${name}{${l}}`, values };
}
type Series = ReturnType<typeof series>;

interface Case {
  input: Series[];
  at: string;
  /** Fire cases: the alert's own labels (from the expression) and its value. */
  labels?: Record<string, string>;
  value?: number;
  /** A time before `for` elapsed, at which the alert must not be firing yet. */
  notYetAt?: string;
}
interface Scenario {
  /** Sample and evaluation interval (lookback is 5m: never more than that). */
  interval?: string;
  fire: Case[];
  quiet: Case[];
}

const pvc = (name: string) => ({ ...KUBELET, persistentvolumeclaim: name });
/** A 100-byte volume with `used` bytes in files and `available` for PostgreSQL (the rest reserved for root). */
const disk = (claim: string, used: number, available = 100 - used) => [
  series('kubelet_volume_stats_used_bytes', pvc(claim), `${used}x30`),
  series('kubelet_volume_stats_available_bytes', pvc(claim), `${available}x30`),
  series('kubelet_volume_stats_capacity_bytes', pvc(claim), '100x30'),
];
const dataPvc = `postgres-storage-${FN}-0`;
const replicaPvc = `postgres-storage-${FN}-replica-1`;
const backupPvc = `${FN}-backup-pvc`;
const GiB = 1024 ** 3;
const slot = { ...EXP, slot_name: `${FN.replace(/-/g, '_')}_replica_0`, slot_type: 'physical' };
const jobOf = (cronjob: string, jobName: string, failed: number) => [
  series('kube_job_failed', { ...KSM, job_name: jobName, condition: 'true' }, `${failed}x10`),
  series('kube_job_failed', { ...KSM, job_name: jobName, condition: 'false' }, `${1 - failed}x10`),
  series(
    'kube_job_owner',
    { ...KSM, job_name: jobName, owner_kind: 'CronJob', owner_name: cronjob, owner_is_controller: 'true' },
    '1x10',
  ),
];

/**
 * The newest failure and the newest success (Unix seconds) of what `prefix` records, held over five
 * hours of 5-minute samples: what the *Failed alerts compare.
 */
const lastOutcomes = (
  prefix: string,
  labels: Record<string, string>,
  failedAt: number,
  succeededAt: number,
) => [
  series(`${prefix}_last_failure_timestamp_seconds`, labels, `${failedAt}x60`),
  series(`${prefix}_last_success_timestamp_seconds`, labels, `${succeededAt}x60`),
];
/** The 8-day age alerts' series are held over 8d8h of 5-minute samples. */
const held8d = (name: string, labels: Record<string, string>, v: number) => series(name, labels, `${v}x2400`);
/** A cluster created at `initdbAt` (Unix seconds), archiving or not. */
const clusterSince = (initdbAt: number, archiving: boolean) => [
  held8d('pgops_instance_initdb_timestamp_seconds', EXP, initdbAt),
  held8d('pgops_archive_enabled', EXP, archiving ? 1 : 0),
];
const PHYSICAL = 'pgops_physical_backup';
const fullBackupAt = (at: number) =>
  held8d(`${PHYSICAL}_last_success_timestamp_seconds`, { ...EXP, type: 'full', repo: 'repo1' }, at);
const drillAt = (at: number) => held8d('pgops_drill_last_success_timestamp_seconds', EXP, at);
/** Age in days, at 8d01:20, of what happened at 01:00. */
const DAYS_OLD_AT_8D1H20M = (8 * 86400 + 3600 + 1200 - 3600) / 86400;

const scenarios: Record<string, Scenario> = {
  PostgreSQLDiskSpaceCritical: {
    fire: [
      {
        input: disk(dataPvc, T.diskCriticalPercent),
        at: '10m',
        notYetAt: '4m',
        labels: { namespace: NS, persistentvolumeclaim: dataPvc },
        value: T.diskCriticalPercent,
      },
      {
        input: disk(replicaPvc, 97),
        at: '10m',
        labels: { namespace: NS, persistentvolumeclaim: replicaPvc },
        value: 97,
      },
      {
        // 60 used, 10 left for PostgreSQL, 30 reserved for root: 60/70 of what PostgreSQL can use.
        input: disk(dataPvc, 60, 10),
        at: '10m',
        labels: { namespace: NS, persistentvolumeclaim: dataPvc },
        value: (100 * 60) / 70,
      },
    ],
    quiet: [
      {
        input: [
          ...disk(dataPvc, T.diskCriticalPercent - 1),
          ...disk('postgres-storage-other-postgres-0', 99),
        ],
        at: '10m',
      },
    ],
  },
  PostgreSQLDiskSpaceWarning: {
    fire: [
      {
        input: disk(dataPvc, T.diskWarningPercent),
        at: '20m',
        notYetAt: '14m',
        labels: { namespace: NS, persistentvolumeclaim: dataPvc },
        value: T.diskWarningPercent,
      },
    ],
    quiet: [{ input: [...disk(dataPvc, T.diskWarningPercent - 1), ...disk(backupPvc, 99)], at: '20m' }],
  },
  PostgreSQLBackupDiskSpaceCritical: {
    fire: [
      {
        input: disk(backupPvc, T.diskCriticalPercent),
        at: '10m',
        notYetAt: '4m',
        labels: { namespace: NS, persistentvolumeclaim: backupPvc },
        value: T.diskCriticalPercent,
      },
    ],
    quiet: [{ input: [...disk(backupPvc, T.diskCriticalPercent - 1), ...disk(dataPvc, 99)], at: '10m' }],
  },
  PostgreSQLBackupDiskSpaceWarning: {
    fire: [
      {
        input: disk(backupPvc, T.diskWarningPercent),
        at: '20m',
        labels: { namespace: NS, persistentvolumeclaim: backupPvc },
        value: T.diskWarningPercent,
      },
    ],
    quiet: [{ input: disk(backupPvc, T.diskWarningPercent - 1), at: '20m' }],
  },
  PostgreSQLDown: {
    fire: [{ input: [series('pg_up', EXP, '0x10')], at: '5m', notYetAt: '0m', labels: EXP, value: 0 }],
    quiet: [
      { input: [series('pg_up', EXP, '1x10'), series('pg_up', { ...EXP, job: 'other' }, '0x10')], at: '5m' },
    ],
  },
  PostgreSQLExporterAbsent: {
    fire: [
      {
        input: [series('pg_up', { ...EXP, job: 'other-postgres' }, '1x20')],
        at: '10m',
        notYetAt: '4m',
        labels: { job: FN, namespace: NS },
        value: 1,
      },
    ],
    quiet: [{ input: [series('pg_up', EXP, '1x20')], at: '10m' }],
  },
  PostgreSQLExporterScrapeError: {
    fire: [
      {
        input: [series('pg_exporter_last_scrape_error', EXP, '1x20')],
        at: '15m',
        notYetAt: '9m',
        labels: EXP,
        value: 1,
      },
    ],
    quiet: [{ input: [series('pg_exporter_last_scrape_error', EXP, '0x20')], at: '15m' }],
  },
  PostgreSQLPodNotReady: {
    fire: [
      {
        input: [
          series(
            'kube_pod_status_ready',
            { ...KSM, pod: `${FN}-replica-1`, condition: 'true', uid: 'u1' },
            '0x20',
          ),
        ],
        at: '10m',
        labels: { namespace: NS, pod: `${FN}-replica-1` },
        value: 0,
      },
    ],
    quiet: [
      {
        input: [
          series('kube_pod_status_ready', { ...KSM, pod: `${FN}-0`, condition: 'true', uid: 'u0' }, '1x20'),
          series('kube_pod_status_ready', { ...KSM, pod: `${FN}-0`, condition: 'false', uid: 'u0' }, '0x20'),
          series(
            'kube_pod_status_ready',
            { ...KSM, pod: 'other-postgres-0', condition: 'true', uid: 'u2' },
            '0x20',
          ),
        ],
        at: '10m',
      },
    ],
  },
  PostgreSQLStatefulSetNotReady: {
    fire: [
      {
        input: [
          series('kube_statefulset_replicas', { ...KSM, statefulset: `${FN}-replica` }, '2x20'),
          series('kube_statefulset_status_replicas_ready', { ...KSM, statefulset: `${FN}-replica` }, '1x20'),
        ],
        at: '15m',
        labels: { namespace: NS, statefulset: `${FN}-replica` },
        value: 1,
      },
    ],
    quiet: [
      {
        input: [
          series('kube_statefulset_replicas', { ...KSM, statefulset: `${FN}-replica` }, '2x20'),
          series('kube_statefulset_status_replicas_ready', { ...KSM, statefulset: `${FN}-replica` }, '2x20'),
        ],
        at: '15m',
      },
    ],
  },
  PostgreSQLWalArchivingFailing: {
    fire: [
      {
        input: [series('pg_stat_archiver_failed_count', EXP, '0+1x30')],
        at: '20m',
        labels: { namespace: NS, pod: EXP.pod },
        value: 10,
      },
    ],
    quiet: [{ input: [series('pg_stat_archiver_failed_count', EXP, '7x30')], at: '20m' }],
  },
  PostgreSQLConnectionUsageHigh: {
    fire: [
      {
        input: [
          series(
            'pg_stat_database_numbackends',
            { ...EXP, datid: '16384', datname: 'pyairtable' },
            `${T.connectionUsagePercent - 20}x20`,
          ),
          series('pg_stat_database_numbackends', { ...EXP, datid: '5', datname: 'postgres' }, '20x20'),
          series('pg_settings_max_connections', EXP, '100x20'),
        ],
        at: '10m',
        notYetAt: '4m',
        labels: { namespace: NS, pod: EXP.pod },
        value: T.connectionUsagePercent,
      },
    ],
    quiet: [
      {
        input: [
          series(
            'pg_stat_database_numbackends',
            { ...EXP, datid: '16384', datname: 'pyairtable' },
            `${T.connectionUsagePercent - 21}x20`,
          ),
          series('pg_stat_database_numbackends', { ...EXP, datid: '5', datname: 'postgres' }, '20x20'),
          series('pg_settings_max_connections', EXP, '100x20'),
        ],
        at: '10m',
      },
    ],
  },
  PostgreSQLSlowQuery: {
    fire: [
      {
        input: [series('pgops_activity_longest_query_seconds', EXP, `${T.slowQuerySeconds}x10`)],
        at: '5m',
        labels: { namespace: NS, pod: EXP.pod },
        value: T.slowQuerySeconds,
      },
    ],
    quiet: [
      {
        input: [series('pgops_activity_longest_query_seconds', EXP, `${T.slowQuerySeconds - 1}x10`)],
        at: '5m',
      },
    ],
  },
  PostgreSQLLongTransaction: {
    fire: [
      {
        input: [series('pgops_activity_longest_transaction_seconds', EXP, `${T.longTransactionSeconds}x10`)],
        at: '5m',
        labels: { namespace: NS, pod: EXP.pod },
        value: T.longTransactionSeconds,
      },
    ],
    quiet: [
      {
        input: [
          series('pgops_activity_longest_transaction_seconds', EXP, `${T.longTransactionSeconds - 1}x10`),
        ],
        at: '5m',
      },
    ],
  },
  PostgreSQLDeadlocks: {
    fire: [
      {
        input: [
          series('pg_stat_database_deadlocks', { ...EXP, datid: '16384', datname: 'pyairtable' }, '0x5 1x20'),
        ],
        at: '10m',
        labels: { namespace: NS, pod: EXP.pod, datname: 'pyairtable' },
        value: T.deadlocksPer10m,
      },
    ],
    quiet: [
      // One deadlock long ago: it is outside the 10-minute window.
      {
        input: [
          series('pg_stat_database_deadlocks', { ...EXP, datid: '16384', datname: 'pyairtable' }, '0 1x40'),
        ],
        at: '30m',
      },
    ],
  },
  PostgreSQLReplicationLagHigh: {
    fire: [
      {
        input: [
          series(
            'pg_stat_replication_lag_seconds',
            { ...EXP, application_name: `${FN}-replica-0`, client_addr: '10.0.0.2', state: 'streaming' },
            `${T.replicationLagSeconds}x10`,
          ),
        ],
        at: '5m',
        notYetAt: '1m',
        labels: { namespace: NS, pod: EXP.pod, application_name: `${FN}-replica-0` },
        value: T.replicationLagSeconds,
      },
    ],
    quiet: [
      {
        input: [
          series(
            'pg_stat_replication_lag_seconds',
            { ...EXP, application_name: `${FN}-replica-0`, client_addr: '10.0.0.2', state: 'streaming' },
            `${T.replicationLagSeconds - 1}x10`,
          ),
        ],
        at: '5m',
      },
    ],
  },
  PostgreSQLReplicaReplayDelayHigh: {
    fire: [
      {
        input: [series('pgops_instance_replay_delay_seconds', EXP_REPLICA, `${T.replicationLagSeconds}x10`)],
        at: '5m',
        labels: { namespace: NS, pod: EXP_REPLICA.pod },
        value: T.replicationLagSeconds,
      },
    ],
    quiet: [
      {
        input: [
          series('pgops_instance_replay_delay_seconds', EXP_REPLICA, `${T.replicationLagSeconds - 1}x10`),
        ],
        at: '5m',
      },
    ],
  },
  PostgreSQLReplicaNotStreaming: {
    fire: [
      {
        input: [
          series('pgops_instance_streaming_replicas', EXP, `${REPLICAS - 1}x20`),
          series('pgops_instance_streaming_replicas', EXP_REPLICA, '0x20'),
        ],
        at: '10m',
        notYetAt: '4m',
        labels: { namespace: NS },
        value: REPLICAS - 1,
      },
    ],
    quiet: [
      {
        input: [
          series('pgops_instance_streaming_replicas', EXP, `${REPLICAS}x20`),
          series('pgops_instance_streaming_replicas', EXP_REPLICA, '0x20'),
        ],
        at: '10m',
      },
    ],
  },
  PostgreSQLReplicationSlotInactive: {
    fire: [
      {
        input: [series('pgops_replication_slot_active', { ...slot, wal_status: 'extended' }, '0x30')],
        at: '20m',
        notYetAt: '14m',
        labels: { namespace: NS, pod: EXP.pod, slot_name: slot.slot_name },
        value: 0,
      },
    ],
    quiet: [
      {
        input: [series('pgops_replication_slot_active', { ...slot, wal_status: 'reserved' }, '1x30')],
        at: '20m',
      },
    ],
  },
  PostgreSQLReplicationSlotRetainingWal: {
    fire: [
      {
        input: [
          series(
            'pgops_replication_slot_retained_bytes',
            { ...slot, wal_status: 'extended' },
            `${T.replicationSlotRetainedGiB * GiB}x10`,
          ),
        ],
        at: '10m',
        labels: { namespace: NS, pod: EXP.pod, slot_name: slot.slot_name },
        value: T.replicationSlotRetainedGiB,
      },
    ],
    quiet: [
      {
        input: [
          series(
            'pgops_replication_slot_retained_bytes',
            { ...slot, wal_status: 'reserved' },
            `${T.replicationSlotRetainedGiB * GiB - 1}x10`,
          ),
        ],
        at: '10m',
      },
    ],
  },
  PostgreSQLReplicationSlotLost: {
    fire: [
      {
        input: [series('pgops_replication_slot_active', { ...slot, wal_status: 'lost' }, '0x10')],
        at: '2m',
        labels: { namespace: NS, pod: EXP.pod, slot_name: slot.slot_name },
        value: 1,
      },
    ],
    quiet: [
      {
        input: [series('pgops_replication_slot_active', { ...slot, wal_status: 'extended' }, '0x10')],
        at: '2m',
      },
    ],
  },
  PostgreSQLBackupFailed: {
    interval: '5m',
    fire: [
      {
        // Failed at 00:05 after a success at 00:01; evaluated at 03:00.
        input: [
          ...lastOutcomes('pgops_backup', EXP, 300, 60),
          ...lastOutcomes('pgops_backup', EXP_REPLICA, 300, 60),
        ],
        at: '3h',
        labels: { namespace: NS },
        value: (3 * 3600 - 300) / 3600,
      },
    ],
    quiet: [
      {
        // A later success clears it.
        input: lastOutcomes('pgops_backup', EXP, 300, 400),
        at: '3h',
      },
      {
        // No backup recorded at all is not a failure (PostgreSQLBackupTooOld covers it).
        input: lastOutcomes('pgops_backup', EXP, 0, 0),
        at: '3h',
      },
    ],
  },
  PostgreSQLBackupJobFailed: {
    fire: [
      {
        input: jobOf(`${FN}-backup`, `${FN}-backup-29412000`, 1),
        at: '2m',
        labels: { namespace: NS, job_name: `${FN}-backup-29412000` },
        value: 1,
      },
    ],
    quiet: [
      {
        input: [
          ...jobOf(`${FN}-backup`, `${FN}-backup-29412000`, 0),
          ...jobOf('another-cronjob', 'another-cronjob-1', 1),
        ],
        at: '2m',
      },
    ],
  },
  PostgreSQLBackupTooOld: {
    interval: '5m',
    fire: [
      {
        // Newest success at 01:00; at 27:20 it is 26.3 hours old (for 15m: true since 27:00).
        input: [
          series('pgops_backup_last_success_timestamp_seconds', EXP, '3600x400'),
          series('pgops_instance_initdb_timestamp_seconds', EXP, '0x400'),
        ],
        at: '27h20m',
        notYetAt: '27h10m',
        labels: { namespace: NS },
        value: (27 * 3600 + 1200 - 3600) / 3600,
      },
      {
        // No backup ever: counted from initdb (01:00), same timing.
        input: [
          series('pgops_backup_last_success_timestamp_seconds', EXP, '0x400'),
          series('pgops_instance_initdb_timestamp_seconds', EXP, '3600x400'),
        ],
        at: '27h20m',
        notYetAt: '26h50m',
        labels: { namespace: NS },
        value: (27 * 3600 + 1200 - 3600) / 3600,
      },
    ],
    quiet: [
      {
        input: [
          series('pgops_backup_last_success_timestamp_seconds', EXP, '7200x400'),
          series('pgops_instance_initdb_timestamp_seconds', EXP, '0x400'),
        ],
        at: '27h20m',
      },
      {
        // A fresh cluster without a backup yet is within its grace period.
        input: [
          series('pgops_backup_last_success_timestamp_seconds', EXP, '0x400'),
          series('pgops_instance_initdb_timestamp_seconds', EXP, '7200x400'),
        ],
        at: '27h20m',
      },
    ],
  },
  PostgreSQLWalArchiveStale: {
    fire: [
      {
        // Last segment archived at 00:01 while segments wait: 10 minutes at 00:11, firing from 00:16.
        input: [
          series('pgops_archive_last_archived_timestamp_seconds', EXP, '60x30'),
          series('pgops_wal_ready_files', EXP, '3x30'),
          series('pgops_archive_enabled', EXP, '1x30'),
        ],
        at: '20m',
        notYetAt: '14m',
        labels: { namespace: NS, pod: EXP.pod },
        value: (1200 - 60) / 60,
      },
      {
        // Never archived at all while segments wait.
        input: [
          series('pgops_archive_last_archived_timestamp_seconds', EXP, '0x30'),
          series('pgops_wal_ready_files', EXP, '1x30'),
          series('pgops_archive_enabled', EXP, '1x30'),
        ],
        at: '20m',
        labels: { namespace: NS, pod: EXP.pod },
        value: 1200 / 60,
      },
    ],
    quiet: [
      {
        // Nothing written since: nothing waits, an old last archive is fine.
        input: [
          series('pgops_archive_last_archived_timestamp_seconds', EXP, '60x30'),
          series('pgops_wal_ready_files', EXP, '0x30'),
          series('pgops_archive_enabled', EXP, '1x30'),
        ],
        at: '20m',
      },
      {
        // Archiving off (point-in-time recovery disabled).
        input: [
          series('pgops_archive_last_archived_timestamp_seconds', EXP, '0x30'),
          series('pgops_wal_ready_files', EXP, '5x30'),
          series('pgops_archive_enabled', EXP, '0x30'),
        ],
        at: '20m',
      },
    ],
  },
  PostgreSQLWalBacklogHigh: {
    fire: [
      {
        input: [series('pgops_wal_ready_files', EXP, `${T.walReadyFiles + 6}x30`)],
        at: '15m',
        notYetAt: '5m',
        labels: { namespace: NS, pod: EXP.pod },
        value: T.walReadyFiles + 6,
      },
    ],
    quiet: [{ input: [series('pgops_wal_ready_files', EXP, `${T.walReadyFiles - 1}x30`)], at: '15m' }],
  },
  PostgreSQLPhysicalBackupFailed: {
    interval: '5m',
    fire: [
      {
        // A full backup to repo2 failed at 00:05 after one succeeded at 00:01; repo1 is fine.
        input: [
          ...lastOutcomes(PHYSICAL, { ...EXP, type: 'full', repo: 'repo2' }, 300, 60),
          ...lastOutcomes(PHYSICAL, { ...EXP, type: 'full', repo: 'repo1' }, 0, 300),
        ],
        at: '3h',
        labels: { namespace: NS, type: 'full', repo: 'repo2' },
        value: (3 * 3600 - 300) / 3600,
      },
    ],
    quiet: [
      {
        input: lastOutcomes(PHYSICAL, { ...EXP, type: 'diff', repo: 'repo1' }, 300, 400),
        at: '3h',
      },
    ],
  },
  PostgreSQLFullBackupTooOld: {
    interval: '5m',
    fire: [
      {
        // Full backup to repo1 at 01:00: 8 days old at 8d01:00, firing from 8d01:15.
        input: [fullBackupAt(3600), ...clusterSince(0, true)],
        at: '8d1h20m',
        notYetAt: '8d1h10m',
        labels: { namespace: NS, repo: 'repo1' },
        value: DAYS_OLD_AT_8D1H20M,
      },
      {
        // No full backup ever: counted from initdb (01:00).
        input: clusterSince(3600, true),
        at: '8d1h20m',
        notYetAt: '8d0h50m',
        labels: { namespace: NS },
        value: DAYS_OLD_AT_8D1H20M,
      },
    ],
    quiet: [
      {
        input: [fullBackupAt(86400), ...clusterSince(0, true)],
        at: '8d1h20m',
      },
      {
        // Archiving off: no physical backups are expected.
        input: clusterSince(0, false),
        at: '8d1h20m',
      },
    ],
  },
  PostgreSQLRestoreDrillFailed: {
    interval: '5m',
    fire: [
      {
        input: lastOutcomes('pgops_drill', EXP, 300, 60),
        at: '3h',
        labels: { namespace: NS },
        value: (3 * 3600 - 300) / 3600,
      },
    ],
    quiet: [
      {
        input: lastOutcomes('pgops_drill', EXP, 300, 400),
        at: '3h',
      },
      {
        input: lastOutcomes('pgops_drill', EXP, 0, 0),
        at: '3h',
      },
    ],
  },
  PostgreSQLRestoreDrillTooOld: {
    interval: '5m',
    fire: [
      {
        input: [drillAt(3600), ...clusterSince(0, true)],
        at: '8d1h20m',
        notYetAt: '8d1h10m',
        labels: { namespace: NS },
        value: DAYS_OLD_AT_8D1H20M,
      },
      {
        // No drill ever: counted from initdb.
        input: [drillAt(0), ...clusterSince(3600, true)],
        at: '8d1h20m',
        labels: { namespace: NS },
        value: DAYS_OLD_AT_8D1H20M,
      },
    ],
    quiet: [
      {
        input: [drillAt(86400), ...clusterSince(0, true)],
        at: '8d1h20m',
      },
      {
        input: [drillAt(0), ...clusterSince(0, false)],
        at: '8d1h20m',
      },
    ],
  },
  PostgreSQLSnapshotJobFailed: {
    fire: [
      {
        input: jobOf(`${FN}-snapshot`, `${FN}-snapshot-29412000`, 1),
        at: '2m',
        labels: { namespace: NS, job_name: `${FN}-snapshot-29412000` },
        value: 1,
      },
    ],
    quiet: [
      {
        input: [
          ...jobOf(`${FN}-snapshot`, `${FN}-snapshot-29412000`, 0),
          ...jobOf(`${FN}-backup`, `${FN}-backup-1`, 1),
        ],
        at: '2m',
      },
    ],
  },
};

/** Every alert rendered, with the thresholds of T (a key the values schema lacks fails helm, naming it). */
function allOnArgs(): string[] {
  return everyAlertArgs([
    `databases.postgres.replication.replicas=${REPLICAS}`,
    ...Object.entries(T).map(([k, v]) => `databases.postgres.monitoring.alerts.${k}=${v}`),
  ]);
}

function expectedAlert(rule: AlertRule, c: Case) {
  const labels = { ...c.labels! };
  return {
    exp_labels: { ...labels, ...rule.labels },
    exp_annotations: Object.fromEntries(
      Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, expandAlertTemplate(v, labels, c.value!)]),
    ),
  };
}

/** A promtool test file for one alert; its rules file holds that alert alone (fast to evaluate). */
function promtoolTestFile(rule: AlertRule, s: Scenario, rulesFile: string): string {
  const tests = [];
  for (const c of s.fire) {
    const checks = [{ eval_time: c.at, alertname: rule.alert, exp_alerts: [expectedAlert(rule, c)] }];
    if (c.notYetAt) checks.push({ eval_time: c.notYetAt, alertname: rule.alert, exp_alerts: [] });
    tests.push({ interval: s.interval ?? '1m', input_series: c.input, alert_rule_test: checks });
  }
  for (const c of s.quiet) {
    tests.push({
      interval: s.interval ?? '1m',
      input_series: c.input,
      alert_rule_test: [{ eval_time: c.at, alertname: rule.alert, exp_alerts: [] }],
    });
  }
  return stringify({ rule_files: [rulesFile], evaluation_interval: s.interval ?? '1m', tests });
}

describe('PrometheusRule (promtool)', () => {
  let groups: RuleGroup[];
  let dir: string;
  before(() => {
    groups = ruleGroupsOf(renderChart(allOnArgs()));
    dir = workDir();
    writeIn(dir, 'rules.yaml', stringify({ groups }));
  });

  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', 'rules.yaml'], dir);
    assert.ok(r.ok, r.output);
  });

  it('has a firing and a silent scenario for every alert, and no scenario for an alert that does not exist', () => {
    assert.deepEqual(
      alertRules(groups)
        .map((r) => r.alert)
        .sort(),
      Object.keys(scenarios).sort(),
    );
  });

  it('keeps the guide example alert PostgreSQLDiskSpaceCritical, reading kubelet volume stats', () => {
    const rule = alertRules(groups).find((r) => r.alert === 'PostgreSQLDiskSpaceCritical');
    assert.ok(rule);
    assert.match(rule.expr, /kubelet_volume_stats_used_bytes/);
    assert.equal(rule.labels?.severity, 'critical');
  });

  it('gives every alert a severity, a summary, a description with its value, and a runbook link that exists', () => {
    const runbook = readFileSync(join(repoRoot, 'docs', 'monitoring.md'), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const r of alertRules(groups)) {
      assert.match(r.labels?.severity ?? '', /^(critical|warning)$/, r.alert);
      assert.ok(r.annotations?.summary, `${r.alert} has no summary`);
      assert.match(
        r.annotations?.description ?? '',
        /\$value/,
        `${r.alert} description does not show its value`,
      );
      const url = r.annotations?.runbook_url ?? '';
      assert.match(url, /docs\/monitoring\.md#[a-z0-9-]+$/, r.alert);
      const anchor = url.split('#')[1]!;
      assert.ok(anchors.has(anchor), `${r.alert}: docs/monitoring.md has no section #${anchor}`);
    }
  });

  for (const [alert, scenario] of Object.entries(scenarios)) {
    it(`${alert} fires at its threshold after its 'for' and stays silent below it`, () => {
      const rule = alertRules(groups).find((r) => r.alert === alert);
      assert.ok(rule, `the chart renders no alert ${alert}`);
      const rulesFile = `rules-${alert}.yaml`;
      writeIn(dir, rulesFile, stringify({ groups: [{ name: alert, rules: [rule] }] }));
      const file = writeIn(dir, `test-${alert}.yaml`, promtoolTestFile(rule, scenario, rulesFile));
      const r = promtool(['test', 'rules', file], dir);
      assert.ok(r.ok, `promtool test rules failed for ${alert}:\n${r.output}`);
    });
  }
});
