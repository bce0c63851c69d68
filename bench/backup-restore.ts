/**
 * Backup and restore pipeline vs the raw PostgreSQL tools, side by side in one run on one server:
 *   postgres-agent backup  vs  pg_dump -Fc -Z<same level> -f FILE
 *   postgres-agent restore vs  createdb + pg_restore --jobs <same>
 * Each side runs twice (raw, agent, agent, raw; CHECKPOINT before each); means are reported.
 * Reported, not asserted.  Usage: npx tsx bench/backup-restore.ts [--scale N] [--jobs J]
 * (npm run build first: it runs dist/agent/main.js). Default scale 66 ≈ 1 GB of pgbench data.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll } from '../test/support/cleanup.js';
import { startPostgres, TEST_PASSWORD } from '../test/support/postgres.js';
import { tempDir } from '../test/support/tmp.js';
import { agentMain, repoRoot } from '../test/support/tools.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const scale = arg('scale', 66);
const jobs = arg('jobs', 2);
const compression = arg('compression', 6);

function timed(what: string, file: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}`);
  process.stderr.write(`${what}: ${s.toFixed(2)} s\n`);
  return s;
}

try {
  const pg = await startPostgres({
    name: 'bench',
    settings: { max_wal_size: '4GB', shared_buffers: '256MB' },
  });
  const dir = tempDir('pgops-bench-');
  const bin = (p: string) => join(pg.binDir, p);
  await pg.query('CREATE DATABASE bench');
  timed(
    `pgbench -i -s ${scale}`,
    bin('pgbench'),
    ['-i', '-q', '-s', String(scale), 'bench'],
    pg.pgEnv('bench'),
  );
  const [{ size }] = (await pg.query<{ size: string }>(`SELECT pg_database_size('bench')::text AS size`)) as [
    { size: string },
  ];
  await pg.query('CHECKPOINT');

  const agentEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PGOPS_HOST: '127.0.0.1',
    PGOPS_PORT: String(pg.port),
    PGOPS_SUPERUSER_PASSWORD: TEST_PASSWORD,
    PGOPS_BACKUP_DIR: dir,
    PGOPS_APP_DATABASE: 'bench',
    PGOPS_BACKUP_COMPRESSION: String(compression),
    PGOPS_RESTORE_JOBS: String(jobs),
    PGOPS_LOG_FORMAT: 'text',
  };
  const rawDump = (i: number) => join(dir, `raw${i}.dump`);
  // Warm the cache once so neither side pays for the first read.
  timed(
    'warm-up (count rows)',
    bin('psql'),
    ['-Xqc', 'SELECT count(*) FROM pgbench_accounts', 'bench'],
    pg.pgEnv('bench'),
  );
  // Each side runs twice, in the order raw, agent, agent, raw, after a CHECKPOINT, so that neither
  // pays for the other's dirty buffers or a colder cache; the mean of the two runs is reported.
  const order: ('raw' | 'agent')[] = ['raw', 'agent', 'agent', 'raw'];
  const backupTimes = { raw: [] as number[], agent: [] as number[] };
  for (const [i, side] of order.entries()) {
    await pg.query('CHECKPOINT');
    if (side === 'raw')
      backupTimes.raw.push(
        timed(
          `pg_dump -Fc -Z${compression}`,
          bin('pg_dump'),
          ['-Fc', `-Z${compression}`, '-f', rawDump(i), 'bench'],
          pg.pgEnv('bench'),
        ),
      );
    else
      backupTimes.agent.push(
        timed(
          'postgres-agent backup',
          process.execPath,
          [agentMain, 'backup', '--name', `bench${i}`],
          agentEnv,
        ),
      );
  }
  const restoreTimes = { raw: [] as number[], agent: [] as number[] };
  for (const [i, side] of order.entries()) {
    await pg.query('CHECKPOINT');
    if (side === 'raw') {
      const t0 = process.hrtime.bigint();
      await pg.query('CREATE DATABASE bench_raw');
      const created = Number(process.hrtime.bigint() - t0) / 1e9;
      restoreTimes.raw.push(
        created +
          timed(
            `createdb + pg_restore --jobs ${jobs}`,
            bin('pg_restore'),
            ['--exit-on-error', `--jobs=${jobs}`, '-d', 'bench_raw', rawDump(0)],
            pg.pgEnv('bench_raw'),
          ),
      );
      await pg.query('DROP DATABASE bench_raw');
    } else {
      restoreTimes.agent.push(
        timed(
          'postgres-agent restore',
          process.execPath,
          [agentMain, 'restore', 'bench1', '--target-database', 'bench_agent'],
          agentEnv,
        ),
      );
      await pg.query('DROP DATABASE bench_agent');
    }
    void i;
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rawBackup = mean(backupTimes.raw);
  const agentBackup = mean(backupTimes.agent);
  const rawRestore = mean(restoreTimes.raw);
  const agentRestore = mean(restoreTimes.agent);

  const rows = [
    { step: 'backup', raw: rawBackup, agent: agentBackup, ratio: agentBackup / rawBackup },
    { step: 'restore', raw: rawRestore, agent: agentRestore, ratio: agentRestore / rawRestore },
  ];
  const command = `npx tsx bench/backup-restore.ts --scale ${scale} --jobs ${jobs} --compression ${compression}`;
  console.log(
    `\ndatabase size ${(Number(size) / 2 ** 20).toFixed(0)} MiB (pgbench scale ${scale}), jobs ${jobs}, compression ${compression}`,
  );
  console.log('step      raw (s)   postgres-agent (s)   ratio');
  for (const r of rows)
    console.log(
      `${r.step.padEnd(9)} ${r.raw.toFixed(2).padStart(7)}   ${r.agent.toFixed(2).padStart(18)}   ${r.ratio.toFixed(3)}x`,
    );
  console.log(`reproduce: npm run build && ${command}`);
  const outDir = join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `backup-restore-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    out,
    JSON.stringify({ scale, jobs, compression, databaseBytes: Number(size), rows, command }, null, 2),
  );
  console.log(`results: ${out}`);
} finally {
  await cleanupAll();
}
