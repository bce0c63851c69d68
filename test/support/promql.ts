/**
 * Small helpers over the chart's monitoring objects: the metric names a PromQL expression reads,
 * the alerting rules and dashboard queries of a rendered chart, and the subset of Prometheus's alert
 * templating the chart's annotations use (so promtool tests can state the exact expected text).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { parseAllDocuments } from 'yaml';
import { onCleanup, removeDirSync } from './cleanup.js';
import { chartDir, helm, promtoolPath } from './tools.js';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/**
 * Metric names an expression selects: the name of every vector selector, as Prometheus's own
 * grammar (the lezer grammar its web UI uses) parses the expression; functions, aggregations, label
 * lists, matchers, strings and durations are other nodes. Grafana's variables are read as the plain
 * values they stand for. An expression that does not parse throws, naming the place, so a typo in a
 * rule or a panel fails here as it would in Prometheus.
 */
export function metricNames(expr: string): string[] {
  const text = withoutGrafanaVariables(expr);
  const names = new Set<string>();
  const cursor = promql.parse(text).cursor();
  do {
    if (cursor.type.isError)
      throw new Error(`not PromQL: ${text.slice(0, cursor.from)} <here> ${text.slice(cursor.from)}`);
    if (cursor.name === 'Identifier' && cursor.node.parent?.name === 'VectorSelector')
      names.add(text.slice(cursor.from, cursor.to));
  } while (cursor.next());
  return [...names].sort();
}

/** What `helm template` needs to be told about a cluster that runs the prometheus-operator. */
export const PROMETHEUS_OPERATOR_API = ['--api-versions', 'monitoring.coreos.com/v1'];

/** `helm template` of the chart, for a cluster with the prometheus-operator; returns every rendered document. */
export function renderChart(args: string[]): Record<string, unknown>[] {
  const out = helm([
    'template',
    'pyairtable-stack',
    chartDir,
    '--namespace',
    'pyairtable',
    ...PROMETHEUS_OPERATOR_API,
    ...args,
  ]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null && typeof d === 'object');
}

/** What turns on every feature an alert group depends on, so that the PrometheusRule holds every alert. */
const EVERY_ALERT_GROUP = [
  'monitoring.enabled=true',
  'backup.enabled=true',
  'snapshots.enabled=true',
  'pitr.enabled=true',
  'replication.enabled=true',
].map((s) => `databases.postgres.${s}`);

/** `renderChart` arguments for the PrometheusRule alone with every alert in it, plus `sets` (`--set` pairs). */
export function everyAlertArgs(sets: string[] = []): string[] {
  return [
    '--show-only',
    'templates/postgres/monitoring/prometheusrule.yaml',
    ...[...EVERY_ALERT_GROUP, ...sets].flatMap((s) => ['--set', s]),
  ];
}

/** The rule groups (the PrometheusRule's spec) of a rendered chart. */
export function ruleGroupsOf(docs: Record<string, unknown>[]): RuleGroup[] {
  const rule = docs.find((d) => d.kind === 'PrometheusRule');
  if (!rule) throw new Error('the rendered chart has no PrometheusRule');
  return (rule.spec as { groups: RuleGroup[] }).groups;
}

export function alertRules(groups: RuleGroup[]): AlertRule[] {
  return groups.flatMap((g) => g.rules);
}

/** Every PromQL expression of a Grafana dashboard, Grafana variables replaced by plain values. */
export function dashboardExpressions(dashboard: unknown): { title: string; expr: string }[] {
  const out: { title: string; expr: string }[] = [];
  const visit = (panels: unknown[]) => {
    for (const p of panels as { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[]) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ title: p.title ?? '', expr: t.expr });
      visit(p.panels ?? []);
    }
  };
  visit((dashboard as { panels?: unknown[] }).panels ?? []);
  return out;
}

export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?[a-zA-Z_]+\}?/g, 'x');
}

/** A temp directory for rule and test files, removed at cleanup. */
export function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgops-promtool-'));
  onCleanup(`rm ${dir}`, () => removeDirSync(dir));
  return dir;
}

/** Runs promtool; returns its combined output and whether it succeeded. */
export function promtool(args: string[], cwd?: string): { ok: boolean; output: string } {
  try {
    const out = execFileSync(promtoolPath(), args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { ok: true, output: out };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Writes `content` to `dir/name` and returns the path. */
export function writeIn(dir: string, name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** Go's %.Nf for the values the tests use (they avoid exact halves, where Go and JS round differently). */
function goFixed(v: number, digits: number): string {
  return v.toFixed(digits);
}

/**
 * Expands the template forms the chart's annotations use: {{ $labels.x }}, {{ $value }} and
 * {{ printf "%.Nf" $value }}. Anything else throws, so an annotation using another form gets a
 * deliberate test update instead of a silently wrong expectation.
 */
export function expandAlertTemplate(text: string, labels: Record<string, string>, value: number): string {
  return text.replace(/\{\{(.*?)\}\}/g, (_all, inner: string) => {
    const t = inner.trim();
    let m = /^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(t);
    if (m) return labels[m[1]!] ?? '';
    if (t === '$value') return goFloat(value);
    m = /^printf "%\.(\d)f" \$value$/.exec(t);
    if (m) return goFixed(value, Number(m[1]));
    throw new Error(`annotation template form not supported by the test renderer: {{${inner}}}`);
  });
}

/** Go's %v of a float64: the shortest representation, as JavaScript's (both use exponents from 1e21). */
function goFloat(v: number): string {
  return String(v);
}
