/**
 * Replication lag under write load, through the real members: a primary and two replicas under
 * Patroni (local mode's machinery), pgbench (TPC-B like) on the primary for --seconds, and every 100 ms the
 * primary's pg_stat_replication is sampled for each replica's replay lag in bytes
 * (pg_current_wal_lsn() - replay_lsn) and in seconds (replay_lag). Reports p50/p99/max per replica.
 * Reported, not asserted.  Usage: npx tsx bench/replication-lag.ts [--seconds 30] [--scale 5] [--clients 4]
 * (npm run build first: the members run dist/agent/main.js).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { passfileLine } from '../src/core/pg/conninfo.js';
import { findPgBinDir } from '../src/runtime/pgbin.js';
import { cleanupAll } from '../test/support/cleanup.js';
import { startHaCluster } from '../test/support/ha.js';
import { tempDir } from '../test/support/tmp.js';
import { repoRoot } from '../test/support/tools.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const seconds = arg('seconds', 30);
const scale = arg('scale', 5);
const clients = arg('clients', 4);

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${file} exited ${code}: ${out}`)),
    );
  });
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { samples: s.length, p50: pct(s, 50), p99: pct(s, 99), max: s[s.length - 1] ?? NaN };
}

try {
  const cluster = await startHaCluster({ replicas: 2 });
  const primary = await cluster.leader();
  const replicas = cluster.names().filter((n) => n !== primary);
  const dir = tempDir('pgops-bench-');
  const passfile = join(dir, 'pgpass');
  writeFileSync(passfile, passfileLine('*', '*', '*', 'postgres', cluster.password()) + '\n', {
    mode: 0o600,
  });
  const env = {
    ...process.env,
    PGHOST: '127.0.0.1',
    PGPORT: String(cluster.port(primary)),
    PGUSER: 'postgres',
    PGDATABASE: 'postgres',
    PGPASSFILE: passfile,
  };
  const pgbench = join(findPgBinDir(), 'pgbench');
  process.stderr.write(`pgbench -i -s ${scale}\n`);
  await run(pgbench, ['-i', '-s', String(scale), '-q'], env);
  for (const r of replicas) {
    for (;;) {
      const [row] = await cluster.query<{ n: string | null }>(
        r,
        "SELECT to_regclass('pgbench_accounts')::text AS n",
      );
      if (row?.n) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  const samples = new Map<string, { bytes: number[]; seconds: number[] }>();
  const monitor = await cluster.connect(primary, 'postgres', 10_000);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const r = await monitor.query<{ name: string; bytes: string; secs: number | null }>(
        `SELECT application_name AS name,
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS bytes,
                extract(epoch FROM replay_lag)::float8 AS secs
           FROM pg_stat_replication`,
      );
      for (const row of r.rows) {
        const s = samples.get(row.name) ?? { bytes: [], seconds: [] };
        s.bytes.push(Number(row.bytes));
        s.seconds.push(row.secs ?? 0); // NULL: nothing to replay recently
        samples.set(row.name, s);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  process.stderr.write(`pgbench -c ${clients} -T ${seconds}\n`);
  const out = await run(pgbench, ['-c', String(clients), '-j', '2', '-T', String(seconds), '-n'], env);
  sampling = false;
  await sampler;
  await monitor.end();
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);

  const result = {
    when: new Date().toISOString(),
    command: `npx tsx bench/replication-lag.ts --seconds ${seconds} --scale ${scale} --clients ${clients}`,
    pgbench: { scale, clients, seconds, tps },
    replicas: Object.fromEntries(
      [...samples.entries()].map(([name, s]) => [
        name,
        { lagBytes: summary(s.bytes), lagSeconds: summary(s.seconds) },
      ]),
    ),
  };
  const resultsDir = join(repoRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `replication-lag-${result.when.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `replication lag under pgbench (${tps.toFixed(0)} tps, ${clients} clients, ${seconds} s):\n`,
  );
  for (const [name, r] of Object.entries(result.replicas)) {
    process.stdout.write(
      `  ${name}: bytes p50 ${r.lagBytes.p50} p99 ${r.lagBytes.p99} max ${r.lagBytes.max}; ` +
        `seconds p50 ${r.lagSeconds.p50.toFixed(4)} p99 ${r.lagSeconds.p99.toFixed(4)} max ${r.lagSeconds.max.toFixed(4)} ` +
        `(${r.lagBytes.samples} samples)\n`,
    );
  }
  process.stdout.write(`saved ${file}\nreproduce: ${result.command}\n`);
} finally {
  await cleanupAll();
}
