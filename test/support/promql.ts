/**
 * Small helpers over the chart's monitoring objects: the metric names a PromQL expression reads,
 * the alerting rules and dashboard queries of a rendered chart, and the subset of Prometheus's alert
 * templating the chart's annotations use (so promtool tests can state the exact expected text).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
  'atan2',
  // Aggregation operators may be followed by "by (...)" instead of their argument.
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** Metric names an expression selects (functions, keywords, label names, numbers left out). */
export function metricNames(expr: string): string[] {
  // Drop string literals, label matchers and range/subquery brackets: none of them name a metric.
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  const names = new Set<string>();
  // A token starting with a digit is a number or a duration (1024, 1e3, 1h30m): never a name.
  const re = /(\d[\w.]*)|([a-zA-Z_:][a-zA-Z0-9_:]*)|(\()|(\))|(\S)/gi;
  let skipList = false; // the next "( ... )" is a label list of by/on/...
  let depthInLabelList = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m[3]) {
      if (depthInLabelList) depthInLabelList++;
      else if (skipList) {
        depthInLabelList = 1;
        skipList = false;
      }
      continue;
    }
    if (m[4]) {
      if (depthInLabelList) depthInLabelList--;
      continue;
    }
    if (depthInLabelList) continue;
    const ident = m[2];
    if (!ident) {
      continue;
    }
    const lower = ident.toLowerCase();
    if (LABEL_LIST_KEYWORDS.has(lower)) {
      skipList = true;
      continue;
    }
    if (KEYWORDS.has(lower)) continue;
    // A name followed by "(" is a function or an aggregation.
    const rest = s.slice(re.lastIndex);
    if (/^\s*\(/.test(rest)) continue;
    names.add(ident);
  }
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
