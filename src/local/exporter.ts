/** Finding Debian's (or a user-installed) postgres_exporter and the chart's custom queries file. */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { packageRoot } from './state.js';

export function findExporter(): string | undefined {
  const candidates = [
    '/usr/bin/prometheus-postgres-exporter',
    '/usr/local/bin/postgres_exporter',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'postgres_exporter')),
  ];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function exporterQueriesFile(): string | undefined {
  const f = join(packageRoot(), 'helm', 'pyairtable-stack', 'files', 'monitoring', 'queries.yaml');
  return existsSync(f) ? f : undefined;
}
