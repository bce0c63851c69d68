/**
 * A real postgres_exporter (the machine's Debian build) scraping a test server, with the chart's own
 * custom queries file, configured as the chart's sidecar is (DATA_SOURCE_URI, DATA_SOURCE_USER,
 * DATA_SOURCE_PASS_FILE): the password is never in argv or a URI. Stopped at cleanup even when a test fails.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import { eventually } from './eventually.js';
import { freePort } from './ports.js';
import type { PgServer } from './postgres.js';
import { tempDir } from './tmp.js';
import { chartDir, postgresExporterPath } from './tools.js';

export const chartQueriesFile = join(chartDir, 'files', 'monitoring', 'queries.yaml');

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exporter {
  readonly port: number;
  /** Raw text exposition of one scrape. */
  scrapeText(): Promise<string>;
  /** One scrape, parsed into samples. */
  scrape(): Promise<Sample[]>;
  /** Everything the exporter wrote to stderr so far (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

export interface ExporterOptions {
  queriesFile?: string;
  database?: string;
  /** Role to connect as (default the superuser), as the chart's sidecar connects as the monitoring role. */
  user?: string;
  password?: string;
}

/** Starts postgres_exporter for `server` and waits until it answers /metrics. */
export async function startExporter(server: PgServer, opts: ExporterOptions = {}): Promise<Exporter> {
  const port = await freePort();
  const db = opts.database ?? 'postgres';
  // As the chart's sidecar does: the password in a 0600 file named by DATA_SOURCE_PASS_FILE.
  const passFile = join(tempDir('pgops-exporter-'), 'superuser-password');
  writeFileSync(passFile, opts.password ?? server.password, { mode: 0o600 });
  const child = spawn(
    postgresExporterPath(),
    [
      `--web.listen-address=127.0.0.1:${port}`,
      `--extend.query-path=${opts.queriesFile ?? chartQueriesFile}`,
      '--log.level=warn',
    ],
    {
      env: {
        PATH: process.env.PATH,
        // The split form (DATA_SOURCE_NAME would need the password inside the URI).
        DATA_SOURCE_URI: `${server.host}:${server.port}/${db}?sslmode=disable&application_name=postgres_exporter`,
        DATA_SOURCE_USER: opts.user ?? server.superuser,
        DATA_SOURCE_PASS_FILE: passFile,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  onCleanup(`stop postgres_exporter :${port}`, stop, () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  const url = `http://127.0.0.1:${port}/metrics`;
  const scrapeText = async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`scrape of ${url} answered ${res.status}`);
    return res.text();
  };
  let lastError: unknown;
  await eventually(
    `postgres_exporter answers on ${url}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`postgres_exporter exited early:\n${stderr}`);
      return scrapeText().then(
        () => true,
        (err: unknown) => {
          lastError = err;
          return false;
        },
      );
    },
    { timeoutMs: 20_000, intervalMs: 100, detail: () => `${String(lastError)}\n${stderr}` },
  );
  return {
    port,
    scrapeText,
    scrape: async () => parseExposition(await scrapeText()),
    logs: () => stderr,
    stop,
  };
}

/** Parses the Prometheus text exposition format (enough of it for the exporter's output). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let l = re.exec(body); l; l = re.exec(body)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The samples of one metric name (optionally with some labels equal to given values). */
export function samplesOf(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}
