/**
 * The chart's monitoring objects as rendered by the real helm: what renders for which values, the
 * wiring between them (ServiceMonitor -> job label the alerts select), and the dashboard, whose
 * every query promtool must parse.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigMap } from 'kubernetes-models/v1';
import { after, describe, it } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { cleanupAll } from '../support/cleanup.js';
import {
  alertRules,
  dashboardExpressions,
  metricNames,
  promtool,
  renderChart,
  ruleGroupsOf,
  withoutGrafanaVariables,
  workDir,
  writeIn,
} from '../support/promql.js';
import { chartDir, helm } from '../support/tools.js';

after(cleanupAll);

const FN = 'pyairtable-stack-postgres';
const MONITORING = [
  'exporter-queries-configmap.yaml',
  'servicemonitor.yaml',
  'prometheusrule.yaml',
  'dashboard-configmap.yaml',
].map((f) => `templates/postgres/monitoring/${f}`);

/**
 * Renders only the monitoring templates (the rest of the chart is not needed for them), one at a
 * time: helm refuses --show-only for a template that renders nothing.
 */
function renderMonitoring(sets: string[] = []) {
  const setArgs = sets.flatMap((s) => ['--set', s]);
  const render = (templates: string[]) => {
    try {
      return renderChart([...templates.flatMap((t) => ['--show-only', t]), ...setArgs]);
    } catch (err) {
      if (/could not find template/.test(String((err as { stderr?: string }).stderr))) return undefined;
      throw err;
    }
  };
  // One helm run when all four render; one per template when some render nothing.
  return render(MONITORING) ?? MONITORING.flatMap((t) => render([t]) ?? []);
}

function kinds(docs: Record<string, unknown>[]) {
  return docs.map((d) => `${d.kind}/${(d.metadata as { name: string }).name}`).sort();
}

const dashboardText = readFileSync(join(chartDir, 'files', 'monitoring', 'dashboard.json'), 'utf8');
const dashboard = JSON.parse(dashboardText) as Record<string, unknown>;

describe('monitoring objects', () => {
  it('renders the queries and dashboard ConfigMaps, the ServiceMonitor and the PrometheusRule when monitoring is enabled', () => {
    assert.deepEqual(kinds(renderMonitoring(['databases.postgres.monitoring.enabled=true'])), [
      `ConfigMap/${FN}-dashboard`,
      `ConfigMap/${FN}-exporter-queries`,
      `PrometheusRule/${FN}`,
      `ServiceMonitor/${FN}`,
    ]);
  });

  it('renders ConfigMaps that are valid against the Kubernetes schema', () => {
    const cms = renderMonitoring().filter((d) => d.kind === 'ConfigMap');
    assert.equal(cms.length, 2);
    for (const cm of cms) new ConfigMap(cm).validate();
  });

  it('renders the ServiceMonitor and PrometheusRule only where the prometheus-operator API is served, or when forced', () => {
    // helm template / install against a cluster without the operator: no monitoring.coreos.com/v1.
    const kindsOn = (args: string[]) =>
      parseAllDocuments(helm(['template', 'pyairtable-stack', chartDir, '-n', 'pyairtable', ...args]))
        .map((d) => d.toJS() as { kind?: string } | null)
        .map((d) => d?.kind)
        .filter((k): k is string => k === 'ServiceMonitor' || k === 'PrometheusRule')
        .sort();
    assert.deepEqual(kindsOn([]), [], 'the guide basic install works on a cluster without the operator');
    assert.deepEqual(kindsOn(['--api-versions', 'monitoring.coreos.com/v1']), [
      'PrometheusRule',
      'ServiceMonitor',
    ]);
    assert.deepEqual(
      kindsOn([
        '--api-versions',
        'monitoring.coreos.com/v1/ServiceMonitor',
        '--api-versions',
        'monitoring.coreos.com/v1/PrometheusRule',
      ]),
      ['PrometheusRule', 'ServiceMonitor'],
    );
    assert.deepEqual(
      kindsOn([
        '--set',
        'databases.postgres.monitoring.serviceMonitor.force=true',
        '--set',
        'databases.postgres.monitoring.prometheusRule.force=true',
      ]),
      ['PrometheusRule', 'ServiceMonitor'],
    );
    assert.deepEqual(
      kindsOn([
        '--api-versions',
        'monitoring.coreos.com/v1',
        '--set',
        'databases.postgres.monitoring.serviceMonitor.enabled=false',
      ]),
      ['PrometheusRule'],
    );
  });

  it('renders nothing when monitoring or PostgreSQL itself is disabled', () => {
    assert.deepEqual(renderMonitoring(['databases.postgres.monitoring.enabled=false']), []);
    // Otherwise PostgreSQLExporterAbsent would fire forever for a release without PostgreSQL.
    assert.deepEqual(renderMonitoring(['databases.postgres.enabled=false']), []);
  });

  it('leaves out the ServiceMonitor, the PrometheusRule or the dashboard when each is switched off', () => {
    const docs = renderMonitoring([
      'databases.postgres.monitoring.serviceMonitor.enabled=false',
      'databases.postgres.monitoring.prometheusRule.enabled=false',
      'databases.postgres.monitoring.dashboard.enabled=false',
    ]);
    assert.deepEqual(kinds(docs), [`ConfigMap/${FN}-exporter-queries`]);
  });

  it('ships the queries file unchanged in the exporter ConfigMap', () => {
    const cm = renderMonitoring().find(
      (d) => (d.metadata as { name: string }).name === `${FN}-exporter-queries`,
    )!;
    const file = readFileSync(join(chartDir, 'files', 'monitoring', 'queries.yaml'), 'utf8');
    assert.equal((cm.data as Record<string, string>)['queries.yaml'], file.replace(/\n$/, ''));
    assert.ok(parse(file).pgops_backup, 'queries.yaml defines pgops_backup');
  });

  it('scrapes the metrics Service by its component label and port, and labels the series with the job the alerts select', () => {
    const docs = renderMonitoring([
      'databases.postgres.monitoring.serviceMonitor.labels.release=kube-prometheus',
    ]);
    const sm = docs.find((d) => d.kind === 'ServiceMonitor')!;
    const spec = sm.spec as {
      selector: { matchLabels: Record<string, string> };
      namespaceSelector: { matchNames: string[] };
      endpoints: {
        port: string;
        interval: string;
        relabelings: { targetLabel: string; replacement: string }[];
      }[];
    };
    assert.deepEqual(spec.selector.matchLabels, {
      'app.kubernetes.io/name': 'pyairtable-stack',
      'app.kubernetes.io/instance': 'pyairtable-stack',
      'app.kubernetes.io/component': 'postgres-metrics',
    });
    assert.deepEqual(spec.namespaceSelector.matchNames, ['pyairtable']);
    assert.equal(spec.endpoints[0]!.port, 'metrics');
    assert.equal(spec.endpoints[0]!.interval, '30s');
    assert.equal((sm.metadata as { labels: Record<string, string> }).labels.release, 'kube-prometheus');
    const job = spec.endpoints[0]!.relabelings.find((r) => r.targetLabel === 'job')!.replacement;
    assert.equal(job, FN);
    const rules = alertRules(ruleGroupsOf(docs));
    const down = rules.find((r) => r.alert === 'PostgreSQLDown')!;
    assert.match(down.expr, new RegExp(`job="${job}", namespace="pyairtable"`));
  });

  it("matches the chart's exporter sidecar and metrics Service: queries file mounted, Service selected, port named metrics", () => {
    const docs = renderChart(
      [
        'templates/postgres/members/statefulset.yaml',
        'templates/postgres/members/metrics-service.yaml',
        ...MONITORING,
      ].flatMap((t) => ['--show-only', t]),
    );
    type Container = {
      name: string;
      env?: { name: string; value?: string }[];
      ports?: { name: string }[];
      volumeMounts?: { name: string; mountPath: string }[];
    };
    const sts = docs.find((d) => d.kind === 'StatefulSet')!;
    const pod = (
      sts.spec as {
        template: {
          spec: { containers: Container[]; volumes: { name: string; configMap?: { name: string } }[] };
        };
      }
    ).template.spec;
    const sidecar = pod.containers.find((c) =>
      c.env?.some((e) => e.name === 'PG_EXPORTER_EXTEND_QUERY_PATH'),
    );
    assert.ok(sidecar, 'no container sets PG_EXPORTER_EXTEND_QUERY_PATH');
    const path = sidecar.env!.find((e) => e.name === 'PG_EXPORTER_EXTEND_QUERY_PATH')!.value!;
    const mount = sidecar.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!;
    assert.ok(mount, `nothing is mounted where ${path} is`);
    assert.equal(path.slice(mount.mountPath.length + 1), 'queries.yaml');
    assert.equal(pod.volumes.find((v) => v.name === mount.name)?.configMap?.name, `${FN}-exporter-queries`);
    assert.ok(sidecar.ports?.some((p) => p.name === 'metrics'));

    const svc = docs.find((d) => d.kind === 'Service')!;
    const sm = docs.find((d) => d.kind === 'ServiceMonitor')!;
    const svcLabels = (svc.metadata as { labels: Record<string, string> }).labels;
    for (const [k, v] of Object.entries(
      (sm.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
    ))
      assert.equal(
        svcLabels[k],
        v,
        `the metrics Service lacks the label ${k}=${v} the ServiceMonitor selects`,
      );
    assert.ok((svc.spec as { ports: { name: string }[] }).ports.some((p) => p.name === 'metrics'));
  });

  it('takes alert thresholds from values', () => {
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'), { uniqueKeys: false });
    const a = values.databases.postgres.monitoring.alerts;
    const rules = alertRules(ruleGroupsOf(renderMonitoring()));
    const expr = (name: string) => rules.find((r) => r.alert === name)?.expr ?? '';
    assert.match(expr('PostgreSQLDiskSpaceCritical'), new RegExp(`>= ${a.diskCriticalPercent}$`));
    assert.match(expr('PostgreSQLDiskSpaceWarning'), new RegExp(`>= ${a.diskWarningPercent}$`));
    assert.match(expr('PostgreSQLConnectionUsageHigh'), new RegExp(`>= ${a.connectionUsagePercent}$`));
    assert.match(expr('PostgreSQLReplicationLagHigh'), new RegExp(`>= ${a.replicationLagSeconds}$`));
    assert.match(expr('PostgreSQLBackupTooOld'), new RegExp(`>= ${a.backupMaxAgeHours}$`));
    assert.match(expr('PostgreSQLSlowQuery'), new RegExp(`>= ${a.slowQuerySeconds}$`));
    assert.match(expr('PostgreSQLDeadlocks'), new RegExp(`>= ${a.deadlocksPer10m}$`));
    const dir = workDir();
    writeIn(dir, 'rules.yaml', stringify({ groups: ruleGroupsOf(renderMonitoring()) }));
    const check = promtool(['check', 'rules', 'rules.yaml'], dir);
    assert.ok(check.ok, check.output);
    const changed = alertRules(
      ruleGroupsOf(renderMonitoring(['databases.postgres.monitoring.alerts.diskCriticalPercent=91'])),
    );
    assert.match(changed.find((r) => r.alert === 'PostgreSQLDiskSpaceCritical')!.expr, />= 91$/);
  });

  it('alerts on backups, snapshots and streaming replicas only when those features are enabled', () => {
    const names = (sets: string[]) => alertRules(ruleGroupsOf(renderMonitoring(sets))).map((r) => r.alert);
    const off = names([
      'databases.postgres.backup.enabled=false',
      'databases.postgres.snapshots.enabled=false',
      'databases.postgres.replication.enabled=false',
    ]);
    for (const a of [
      'PostgreSQLBackupTooOld',
      'PostgreSQLBackupFailed',
      'PostgreSQLSnapshotJobFailed',
      'PostgreSQLReplicaNotStreaming',
    ])
      assert.ok(!off.includes(a), `${a} rendered although its feature is off`);
    assert.ok(off.includes('PostgreSQLDiskSpaceCritical'));
    const on = names([
      'databases.postgres.backup.enabled=true',
      'databases.postgres.snapshots.enabled=true',
      'databases.postgres.replication.enabled=true',
      'databases.postgres.replication.replicas=3',
    ]);
    for (const a of [
      'PostgreSQLBackupTooOld',
      'PostgreSQLBackupFailed',
      'PostgreSQLSnapshotJobFailed',
      'PostgreSQLReplicaNotStreaming',
    ])
      assert.ok(on.includes(a), `${a} missing`);
    const rules = alertRules(
      ruleGroupsOf(
        renderMonitoring([
          'databases.postgres.replication.enabled=true',
          'databases.postgres.replication.replicas=3',
        ]),
      ),
    );
    assert.match(rules.find((r) => r.alert === 'PostgreSQLReplicaNotStreaming')!.expr, /< 3$/);
  });
});

describe('metric names of an expression', () => {
  it('lists selected metrics, not functions, aggregations, label lists, matchers or durations', () => {
    assert.deepEqual(
      metricNames(
        '100 * sum by (namespace, pod) (rate(a_total{job="x", le=~"b|c"}[5m] offset 1h)) / on (pod) group_left (node) max(b) by (pod) > 2 or vector(0) unless count(c:rec) and absent(d{x="max(e)"}) - 1024^3',
      ),
      ['a_total', 'b', 'c:rec', 'd'],
    );
  });

  it('reads Grafana variables as plain values and refuses what Prometheus would not parse', () => {
    assert.deepEqual(metricNames('sum by (pod) (rate(a_total{pod=~"$pod"}[$__rate_interval]))'), ['a_total']);
    assert.throws(
      () => metricNames('sum(rate(a_total[5m])'),
      /not PromQL: sum\(rate\(a_total\[5m\]\) <here>/,
    );
  });
});

describe('dashboard', () => {
  it('is shipped unchanged in a ConfigMap the Grafana sidecar picks up', () => {
    const cm = renderMonitoring().find((d) => (d.metadata as { name: string }).name === `${FN}-dashboard`)!;
    assert.equal((cm.metadata as { labels: Record<string, string> }).labels.grafana_dashboard, '1');
    const data = cm.data as Record<string, string>;
    const key = Object.keys(data)[0]!;
    assert.match(key, /\.json$/);
    assert.deepEqual(JSON.parse(data[key]!), dashboard);
  });

  it('reads its data source from a ${datasource} variable', () => {
    const vars = (dashboard.templating as { list: { name: string; type: string }[] }).list;
    assert.ok(vars.some((v) => v.name === 'datasource' && v.type === 'datasource'));
    for (const { title } of dashboardExpressions(dashboard)) assert.ok(title);
    const uids = [...dashboardText.matchAll(/"uid": "([^"]*)"/g)].map((m) => m[1]);
    assert.ok(uids.filter((u) => u !== 'pyairtable-postgres-storage').every((u) => u === '${datasource}'));
  });

  it("carries the guide's queries (connection usage summed per pod, as the guide's own form returns no data)", () => {
    const exprs = dashboardExpressions(dashboard).map((e) => e.expr);
    assert.ok(exprs.includes('increase(pg_database_size_bytes[24h])'));
    assert.ok(
      exprs.includes(
        'pg_stat_database_blks_hit / (pg_stat_database_blks_hit + pg_stat_database_blks_read) * 100',
      ),
    );
    assert.ok(exprs.includes('pg_stat_replication_lag_seconds'));
    assert.ok(
      exprs.some((e) => /pg_stat_database_numbackends/.test(e) && /pg_settings_max_connections/.test(e)),
    );
    for (const m of [
      'pgops_backup_last_success_timestamp_seconds',
      'pgops_backup_last_size_bytes',
      'pgops_backup_last_duration_seconds',
      'pg_locks_count',
      'pg_stat_database_deadlocks',
      'pgops_activity_longest_query_seconds',
      'kubelet_volume_stats_used_bytes',
    ])
      assert.ok(
        exprs.some((e) => metricNames(e).includes(m)),
        `no panel reads ${m}`,
      );
  });

  it('has only queries promtool can parse', () => {
    const dir = workDir();
    const rules = dashboardExpressions(dashboard).map((e, i) => ({
      record: `dashboard:panel_${i}`,
      expr: withoutGrafanaVariables(e.expr),
    }));
    writeIn(dir, 'dashboard-rules.yaml', stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = promtool(['check', 'rules', 'dashboard-rules.yaml'], dir);
    assert.ok(r.ok, r.output);
    assert.match(r.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it("shows connection usage for series labelled as the exporter labels them, where the guide's form shows nothing", () => {
    const dir = workDir();
    const conn = dashboardExpressions(dashboard).find((e) => e.title.startsWith('Connection usage'))!.expr;
    writeIn(
      dir,
      'rules.yaml',
      stringify({
        groups: [
          {
            name: 'conn',
            rules: [
              { record: 'dashboard:connection_usage', expr: conn },
              {
                record: 'guide:connection_usage',
                expr: 'pg_stat_database_numbackends / pg_settings_max_connections * 100',
              },
            ],
          },
        ],
      }),
    );
    const pod = { namespace: 'pyairtable', pod: `${FN}-0`, job: FN, instance: '10.0.0.1:9187' };
    const l = (extra: Record<string, string>) =>
      Object.entries({ ...pod, ...extra })
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
    writeIn(
      dir,
      'test.yaml',
      stringify({
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              {
                series: `pg_stat_database_numbackends{${l({ datid: '5', datname: 'postgres' })}}`,
                values: '3x5',
              },
              {
                series: `pg_stat_database_numbackends{${l({ datid: '16384', datname: 'pyairtable' })}}`,
                values: '22x5',
              },
              { series: `pg_settings_max_connections{${l({})}}`, values: '100x5' },
            ],
            promql_expr_test: [
              {
                expr: 'dashboard:connection_usage',
                eval_time: '2m',
                exp_samples: [
                  { labels: `dashboard:connection_usage{namespace="pyairtable",pod="${FN}-0"}`, value: 25 },
                ],
              },
              { expr: 'guide:connection_usage', eval_time: '2m', exp_samples: [] },
            ],
          },
        ],
      }),
    );
    const r = promtool(['test', 'rules', 'test.yaml'], dir);
    assert.ok(r.ok, r.output);
  });
});
