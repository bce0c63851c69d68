/**
 * The real postgres_exporter with the chart's queries file, scraping a real primary and its
 * streaming replica: every metric an alert or a dashboard panel reads exists, no query fails on
 * either role, and the custom metrics move when the database does.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { BACKUP_HISTORY_DDL, INSERT_BACKUP_HISTORY } from '../../src/core/backup/history-sql.js';
import { PITR_HISTORY_DDL } from '../../src/core/pitr/history-sql.js';
import { loadAgentConfig } from '../../src/core/config/load.js';
import { ensureMonitorRole } from '../../src/runtime/instance/leader-duties.js';
import { cleanupAll } from '../support/cleanup.js';
import { samplesOf, startExporter, type Exporter, type Sample } from '../support/exporter.js';
import { eventually } from '../support/eventually.js';
import { startPostgres, startReplica, waitForCatchUp, type PgServer } from '../support/postgres.js';
import {
  alertRules,
  dashboardExpressions,
  everyAlertArgs,
  metricNames,
  renderChart,
  ruleGroupsOf,
} from '../support/promql.js';
import { agentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';
import { agentMain, chartDir, repoRoot } from '../support/tools.js';

after(cleanupAll);

/** Metrics that come from the kubelet or kube-state-metrics, not from PostgreSQL's exporter. */
const KUBERNETES_METRICS = [
  'kubelet_volume_stats_used_bytes',
  'kubelet_volume_stats_available_bytes',
  'kube_pod_status_ready',
  'kube_statefulset_replicas',
  'kube_statefulset_status_replicas_ready',
  'kube_job_failed',
  'kube_job_owner',
];

function usedMetricNames(): Set<string> {
  const rules = alertRules(ruleGroupsOf(renderChart(everyAlertArgs())));
  const dashboard = JSON.parse(readFileSync(join(chartDir, 'files', 'monitoring', 'dashboard.json'), 'utf8'));
  const exprs = [...rules.map((r) => r.expr), ...dashboardExpressions(dashboard).map((e) => e.expr)];
  return new Set(exprs.flatMap(metricNames));
}

/**
 * Scrapes `exporter` until its samples satisfy `ok` and returns them: the exporter reads
 * PostgreSQL's statistics as they come.
 */
function scrapeUntil(
  exporter: { scrape(): Promise<Sample[]> },
  what: string,
  ok: (s: Sample[]) => boolean,
  timeoutMs = 20_000,
): Promise<Sample[]> {
  return eventually(
    what,
    async () => {
      const s = await exporter.scrape();
      return ok(s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samplesOf(samples, name, labels);
  assert.equal(s.length, 1, `expected one ${name} ${JSON.stringify(labels)} sample, got ${s.length}`);
  return s[0]!.value;
}

const MONITOR_PASSWORD = 'test-monitor-password';

/**
 * What the leading member's agent sets up on `primary`: the pgops history tables and the monitoring
 * role. Returns the login the exporter connects with, as in the chart.
 */
async function prepareAsAgent(primary: PgServer): Promise<{ user: string; password: string }> {
  await primary.query(BACKUP_HISTORY_DDL);
  await primary.query(PITR_HISTORY_DDL);
  const c = await primary.connect();
  try {
    await ensureMonitorRole(c, loadAgentConfig({ PGOPS_MONITOR_PASSWORD: MONITOR_PASSWORD }));
  } finally {
    await c.end();
  }
  return { user: 'pgops_monitor', password: MONITOR_PASSWORD };
}

/** Unix seconds of an ISO time, as the exporter reports timestamps. */
const epoch = (iso: string) => Date.parse(iso) / 1000;

describe('postgres_exporter with the chart queries, as the pg_monitor role', () => {
  let primary: PgServer;
  let replica: PgServer;
  let onPrimary: Exporter;
  let onReplica: Exporter;

  before(async () => {
    primary = await startPostgres();
    const asMonitor = await prepareAsAgent(primary);
    // One physical backup and one drill, so that every series the alerts read exists.
    await primary.query(
      `INSERT INTO pgops.physical_backup_history (label, type, repo, status, started_at, finished_at, duration_seconds, size_bytes, repo_size_bytes)
       VALUES ('20261120-020000F', 'full', 'repo1', 'success', '2026-11-20T02:00:00Z', '2026-11-20T02:01:40Z', 100, 1000000, 120000)`,
    );
    await primary.query(
      "INSERT INTO pgops.recoverability (repo, earliest, updated_at) VALUES ('repo1', '2026-11-20T02:01:40Z', now())",
    );
    await primary.query(
      `INSERT INTO pgops.drill_history (status, started_at, finished_at, backup_label, recovered_to, recovery_seconds)
       VALUES ('success', '2026-11-22T04:00:00Z', '2026-11-22T04:00:42Z', '20261120-020000F', '2026-11-22T03:59:00Z', 42)`,
    );
    replica = await startReplica(primary, { name: 'replica_0' });
    await waitForCatchUp(primary, replica);
    // As in the chart: the exporter connects as the monitoring role the primary's agent keeps.
    [onPrimary, onReplica] = await Promise.all([
      startExporter(primary, asMonitor),
      startExporter(replica, asMonitor),
    ]);
  });

  it('runs every query without error on the primary and on the replica', async () => {
    for (const [role, e] of [
      ['primary', onPrimary],
      ['replica', onReplica],
    ] as const) {
      const s = await e.scrape();
      assert.equal(value(s, 'pg_up'), 1, `${role}: pg_up`);
      assert.equal(value(s, 'pg_exporter_last_scrape_error'), 0, `${role}: a query failed\n${e.logs()}`);
      assert.equal(
        samplesOf(s, 'pg_exporter_user_queries_load_error').every((x) => x.value === 0),
        true,
        `${role}: the queries file did not load`,
      );
    }
  });

  it('exposes every metric an alert or a dashboard panel reads (Kubernetes-side metrics excepted)', async () => {
    const used = usedMetricNames();
    for (const k of KUBERNETES_METRICS)
      assert.ok(used.has(k), `${k} is listed as Kubernetes-side but nothing uses it`);
    const scraped = new Set(
      [...(await onPrimary.scrape()), ...(await onReplica.scrape())].map((s) => s.name),
    );
    const missing = [...used].filter((m) => !KUBERNETES_METRICS.includes(m) && !scraped.has(m));
    assert.deepEqual(
      missing,
      [],
      `metrics used by alerts or the dashboard but not exported: ${missing.join(', ')}`,
    );
  });

  it('reports the role, the streaming replica, its lag and its slot', async () => {
    const p = await onPrimary.scrape();
    const r = await onReplica.scrape();
    assert.equal(value(p, 'pgops_instance_is_replica'), 0);
    assert.equal(value(r, 'pgops_instance_is_replica'), 1);
    assert.equal(value(p, 'pgops_instance_streaming_replicas'), 1);
    const lag = samplesOf(p, 'pg_stat_replication_lag_seconds', { state: 'streaming' });
    assert.equal(lag.length, 1);
    assert.ok(lag[0]!.value >= 0 && lag[0]!.value < 30, `lag ${lag[0]!.value}`);
    assert.equal(value(p, 'pgops_replication_slot_active', { slot_name: 'replica_0' }), 1);
    // Caught up: no delay (polled, as a standby snapshot record may arrive just before a scrape).
    await scrapeUntil(
      onReplica,
      'a caught-up replica reports no replay delay',
      (s) => value(s, 'pgops_instance_replay_delay_seconds') === 0,
    );
    // The initdb time carried by the system identifier is the same on both and is recent.
    const initdb = value(p, 'pgops_instance_initdb_timestamp_seconds');
    assert.equal(value(r, 'pgops_instance_initdb_timestamp_seconds'), initdb);
    assert.ok(Math.abs(Date.now() / 1000 - initdb) < 3600, `initdb timestamp ${initdb}`);
  });

  it('reports no backup as timestamps of 0, then the newest success and failure as they are recorded', async () => {
    const before = await onPrimary.scrape();
    assert.equal(value(before, 'pgops_backup_last_success_timestamp_seconds'), 0);
    assert.equal(value(before, 'pgops_backup_last_failure_timestamp_seconds'), 0);
    assert.equal(value(before, 'pgops_backup_last_attempt_succeeded'), 0);

    const ok = new Date('2026-11-20T02:00:30Z');
    await primary.query(INSERT_BACKUP_HISTORY, [
      'backup_20261120_020000',
      'pyairtable',
      'success',
      new Date('2026-11-20T02:00:00Z'),
      ok,
      30.5,
      123456789,
      true,
      null,
    ]);
    const afterOk = await onPrimary.scrape();
    assert.equal(value(afterOk, 'pgops_backup_last_success_timestamp_seconds'), ok.getTime() / 1000);
    assert.equal(value(afterOk, 'pgops_backup_last_size_bytes'), 123456789);
    assert.equal(value(afterOk, 'pgops_backup_last_duration_seconds'), 30.5);
    assert.equal(value(afterOk, 'pgops_backup_last_verified'), 1);
    assert.equal(value(afterOk, 'pgops_backup_last_attempt_succeeded'), 1);

    const failed = new Date('2026-11-21T02:00:05Z');
    await primary.query(INSERT_BACKUP_HISTORY, [
      'backup_20261121_020000',
      'pyairtable',
      'failure',
      new Date('2026-11-21T02:00:00Z'),
      failed,
      5,
      0,
      false,
      'pg_dump: error: connection failed',
    ]);
    const afterFail = await onPrimary.scrape();
    assert.equal(value(afterFail, 'pgops_backup_last_failure_timestamp_seconds'), failed.getTime() / 1000);
    assert.equal(value(afterFail, 'pgops_backup_last_success_timestamp_seconds'), ok.getTime() / 1000);
    assert.equal(value(afterFail, 'pgops_backup_last_attempt_succeeded'), 0);

    // The replica reads the same history (it is replicated), so either pod can report it.
    await waitForCatchUp(primary, replica);
    const onR = await onReplica.scrape();
    assert.equal(value(onR, 'pgops_backup_last_failure_timestamp_seconds'), failed.getTime() / 1000);
  });

  it('moves the backup metrics when postgres-agent backup runs', async (t) => {
    const src = readFileSync(join(repoRoot, 'src', 'agent', 'commands', 'backup.ts'), 'utf8');
    if (/not implemented/i.test(src) || !existsSync(agentMain)) {
      t.skip('postgres-agent backup is not built (npm run build) or not implemented');
      return;
    }
    const startedAt = Date.now() / 1000;
    const r = runAgentSync(
      ['backup', '--name', 'monitoring_probe'],
      agentEnv(primary, {
        PGOPS_APP_DATABASE: 'postgres',
        PGOPS_BACKUP_DIR: tempDir('pgops-mon-backup-'),
        PGOPS_PG_BIN_DIR: primary.binDir,
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    const s = await onPrimary.scrape();
    assert.ok(value(s, 'pgops_backup_last_success_timestamp_seconds') >= Math.floor(startedAt));
    assert.ok(value(s, 'pgops_backup_last_size_bytes') > 0);
    assert.equal(value(s, 'pgops_backup_last_attempt_succeeded'), 1);
  });

  it('reports physical backups per type and repository, the recoverability window and drills as they are recorded', async () => {
    const s = await onPrimary.scrape();
    const full = { type: 'full', repo: 'repo1' };
    assert.equal(
      value(s, 'pgops_physical_backup_last_success_timestamp_seconds', full),
      epoch('2026-11-20T02:01:40Z'),
    );
    assert.equal(value(s, 'pgops_physical_backup_last_failure_timestamp_seconds', full), 0);
    assert.equal(value(s, 'pgops_physical_backup_last_duration_seconds', full), 100);
    assert.equal(value(s, 'pgops_physical_backup_last_repo_size_bytes', full), 120000);
    assert.equal(
      value(s, 'pgops_recoverability_earliest_timestamp_seconds', { repo: 'repo1' }),
      epoch('2026-11-20T02:01:40Z'),
    );
    assert.equal(value(s, 'pgops_drill_last_recovery_seconds'), 42);
    assert.equal(value(s, 'pgops_drill_last_failure_timestamp_seconds'), 0);
    await primary.query(
      `INSERT INTO pgops.physical_backup_history (label, type, repo, status, started_at, finished_at, duration_seconds, error)
       VALUES (NULL, 'diff', 'repo2', 'failure', '2026-11-21T02:00:00Z', '2026-11-21T02:00:09Z', 9, 'repo2: HTTP 403')`,
    );
    const after = await onPrimary.scrape();
    const diff = { type: 'diff', repo: 'repo2' };
    assert.equal(
      value(after, 'pgops_physical_backup_last_failure_timestamp_seconds', diff),
      epoch('2026-11-21T02:00:09Z'),
    );
    assert.equal(value(after, 'pgops_physical_backup_last_success_timestamp_seconds', diff), 0);
    // Archiving is off on this server: the archive alerts stay quiet.
    assert.equal(value(after, 'pgops_archive_enabled'), 0);
    assert.equal(value(after, 'pgops_wal_ready_files'), 0);
    assert.ok(value(after, 'pgops_wal_bytes') >= 16 * 1024 * 1024);
  });

  it("measures a long statement and an open transaction of a client, not the exporter's own", async () => {
    const idle = await primary.query<{ n: string }>('SELECT 1 AS n');
    assert.equal(idle.length, 1);
    const quiet = await onPrimary.scrape();
    assert.equal(value(quiet, 'pgops_activity_longest_query_seconds'), 0);

    let sleeper: pg.Client | undefined;
    let holder: pg.Client | undefined;
    try {
      sleeper = await primary.connect();
      const sleeping = sleeper.query('SELECT pg_sleep(30)').catch(() => undefined);
      holder = await primary.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT txid_current()');
      const seen = await scrapeUntil(
        onPrimary,
        'a statement has run for at least 1s',
        (s) => value(s, 'pgops_activity_longest_query_seconds') >= 1,
      );
      assert.ok(value(seen, 'pgops_activity_longest_transaction_seconds') >= 1);
      assert.equal(value(seen, 'pgops_activity_idle_in_transaction'), 1);
      await primary.query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = $1', [
        'SELECT pg_sleep(30)',
      ]);
      await sleeping;
    } finally {
      await holder?.end();
      await sleeper?.end();
    }
  });

  it('reports lag on both sides while the replica does not replay, and none once it caught up', async () => {
    await replica.query('SELECT pg_wal_replay_pause()');
    try {
      await primary.query('CREATE TABLE IF NOT EXISTS lag_probe (id int)');
      await primary.query('INSERT INTO lag_probe SELECT generate_series(1, 1000)');
      const r = await scrapeUntil(
        onReplica,
        'the replica reports a replay delay',
        (s) => value(s, 'pgops_instance_replay_delay_seconds') > 0,
      );
      assert.ok(value(r, 'pgops_instance_replay_delay_seconds') > 0);
      const p = await scrapeUntil(
        onPrimary,
        'the primary reports replay lag',
        (s) => (samplesOf(s, 'pg_stat_replication_lag_seconds')[0]?.value ?? 0) > 0,
      );
      assert.ok(value(p, 'pg_stat_replication_lag_bytes', { state: 'streaming' }) > 0);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    await waitForCatchUp(primary, replica);
    const after = await scrapeUntil(
      onReplica,
      'the replay delay is back to 0',
      (s) => value(s, 'pgops_instance_replay_delay_seconds') === 0,
    );
    assert.equal(value(after, 'pgops_instance_replay_delay_seconds'), 0);
  });

  it('shows the slot inactive and no streaming replica once the replica stops', async () => {
    await replica.stop();
    const s = await scrapeUntil(
      onPrimary,
      'the slot is inactive',
      (x) => value(x, 'pgops_replication_slot_active', { slot_name: 'replica_0' }) === 0,
    );
    assert.equal(value(s, 'pgops_instance_streaming_replicas'), 0);
    assert.equal(samplesOf(s, 'pg_stat_replication_lag_seconds').length, 0);
    assert.ok(value(s, 'pgops_replication_slot_retained_bytes', { slot_name: 'replica_0' }) >= 0);
  });
});

describe('postgres_exporter on a primary whose archiving fails', () => {
  it('shows the failures, the segments waiting and the last failure time, which PostgreSQLWalArchivingFailing and PostgreSQLWalBacklogHigh read', async () => {
    const primary = await startPostgres({ settings: { archive_mode: 'on', archive_command: 'false' } });
    const e = await startExporter(primary, await prepareAsAgent(primary));
    for (let i = 0; i < 3; i++) {
      await primary.query(
        'CREATE TABLE IF NOT EXISTS archive_probe (id int); INSERT INTO archive_probe VALUES (1)',
      );
      await primary.query('SELECT pg_switch_wal()');
    }
    const first = await scrapeUntil(
      e,
      'archive failures show',
      (s) => value(s, 'pg_stat_archiver_failed_count') >= 1,
    );
    assert.equal(value(first, 'pg_exporter_last_scrape_error'), 0, e.logs());
    assert.equal(value(first, 'pgops_archive_enabled'), 1);
    assert.ok(value(first, 'pgops_wal_ready_files') >= 3, 'segments wait to be archived');
    assert.ok(value(first, 'pgops_archive_last_failed_timestamp_seconds') > Date.now() / 1000 - 600);
    assert.equal(value(first, 'pgops_archive_last_archived_timestamp_seconds'), 0);
    // The archiver retries: the counter the alert takes the increase of keeps growing.
    await scrapeUntil(
      e,
      'the failure count grows',
      (s) => value(s, 'pg_stat_archiver_failed_count') > value(first, 'pg_stat_archiver_failed_count'),
      60_000,
    );
  });
});
