/**
 * Real tools the suites drive: helm (extracted by scripts/fetch-tools.mjs), promtool (Debian
 * `prometheus`) and postgres_exporter (Debian `prometheus-postgres-exporter`).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const chartDir = join(repoRoot, 'helm', 'pyairtable-stack');

function firstExecutable(candidates: string[], what: string, fix: string): string {
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  throw new Error(`${what} not found (looked in ${candidates.join(', ')}). ${fix}`);
}

export function helmPath(): string {
  return firstExecutable([join(repoRoot, '.tools', 'bin', 'helm')], 'helm', 'Run: npm run tools');
}

export function promtoolPath(): string {
  return firstExecutable(
    ['/usr/bin/promtool', '/usr/local/bin/promtool'],
    'promtool',
    'Run: sudo scripts/install-system-deps.sh',
  );
}

export function postgresExporterPath(): string {
  return firstExecutable(
    [
      '/usr/bin/prometheus-postgres-exporter',
      '/usr/local/bin/postgres_exporter',
      '/usr/bin/postgres_exporter',
    ],
    'postgres_exporter',
    'Run: sudo scripts/install-system-deps.sh',
  );
}

/** Runs helm with args; returns stdout, throws with stderr on failure. */
export function helm(args: string[], opts: { input?: string } = {}): string {
  return execFileSync(helmPath(), args, {
    encoding: 'utf8',
    input: opts.input,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** `node dist/agent/main.js` and `node dist/ops/main.js`: the built entry points. */
export const agentMain = join(repoRoot, 'dist', 'agent', 'main.js');
export const opsMain = join(repoRoot, 'dist', 'ops', 'main.js');
