/**
 * Local mode runs with the chart's own default PostgreSQL settings (values.yaml
 * databases.postgres.postgresql.parameters), rendered into a fragment exactly as the chart's
 * ConfigMap renders them, so both run the same configuration. Memory sizing is left at PostgreSQL's
 * defaults (a few members share one workstation); those keys are listed in LOCAL_SKIPPED.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from './state.js';

export const LOCAL_SKIPPED: readonly string[] = [
  'shared_buffers',
  'effective_cache_size',
  'work_mem',
  'maintenance_work_mem',
];

export function chartValuesFile(): string {
  return join(packageRoot(), 'helm', 'pyairtable-stack', 'values.yaml');
}

/** The chart's default parameters, minus memory sizing. */
export function chartDefaultParameters(file = chartValuesFile()): Record<string, string> {
  if (!existsSync(file)) return {};
  const values = parse(readFileSync(file, 'utf8')) as {
    databases?: { postgres?: { postgresql?: { parameters?: Record<string, unknown> } } };
  };
  const params = values.databases?.postgres?.postgresql?.parameters ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (LOCAL_SKIPPED.includes(k)) continue;
    out[k] = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
  }
  return out;
}

/** `name = 'value'` lines, as the chart's ConfigMap writes them. */
export function renderFragment(params: Record<string, string>): string {
  return (
    [
      '# The chart default profile (helm/pyairtable-stack/values.yaml), memory sizing left at defaults.',
      ...Object.entries(params).map(([k, v]) => `${k} = '${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`),
    ].join('\n') + '\n'
  );
}

export function writeFragment(path: string, overrides: Record<string, string> = {}): string {
  writeFileSync(path, renderFragment({ ...chartDefaultParameters(), ...overrides }), { mode: 0o644 });
  return path;
}
