/**
 * Backup and restore pipeline vs the raw PostgreSQL tools, side by side in one run on one server,
 * on a database of several large tables (pgbench plus three generated tables, primary keys on all):
 *   postgres-agent backup            vs  pg_dump -Fc -Z<level> -f FILE
 *   postgres-agent backup --jobs J   vs  pg_dump -Fc -Z<level> -f FILE   (and pg_dump -Fd -j J, for reference)
 *   postgres-agent restore           vs  createdb + pg_restore --jobs J  (of the raw -Fc archive)
 * Every round runs every variant once, in a rotated order, after a CHECKPOINT; min and median of
 * each are reported, with the ratios of the medians, of the minimums and the median of the
 * per-round ratios (a round's variants ran close together, so that ratio suffers least from a
 * machine whose load changes). CPU seconds (the program with its children, plus the server backends
 * that served it) are reported too: unlike wall time they hardly depend on what else the machine
 * runs. Reported, never asserted.
 * Usage: npm run build && npx tsx bench/backup-restore.ts [--scale N] [--rounds R] [--jobs J] [--compression Z]
 *        [--shape mixed|even] [--wait-idle]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { cleanupAll } from '../test/support/cleanup.js';
import { startPostgres, TEST_PASSWORD } from '../test/support/postgres.js';
import { tempDir } from '../test/support/tmp.js';
import { agentMain, repoRoot } from '../test/support/tools.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const scale = arg('scale', 10);
const rounds = arg('rounds', 5);
const jobs = arg('jobs', 2);
const compression = arg('compression', 6);
/**
 * mixed (default): pgbench plus events, documents and measurements, of unequal dump cost (documents
 * takes about half of it, which bounds what 2 jobs can gain); even: pgbench plus four tables of the
 * same kind and size, the case parallel dumps are for.
 */
const shapeArg = process.argv.indexOf('--shape');
const shape = shapeArg >= 0 ? process.argv[shapeArg + 1] : 'mixed';
if (shape !== 'mixed' && shape !== 'even') throw new Error('--shape is mixed or even');

function timed(what: string, file: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}`);
  process.stderr.write(`  ${what}: ${s.toFixed(2)} s\n`);
  return s;
}

/** CPU seconds used by the waited-for children of `pid` (and by it), from /proc: Linux only. */
const TICK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();
function cpuSeconds(pid: number | 'self', withOwn: boolean): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime stime cutime cstime are fields 14-17 (here 11-14, after pid and comm).
    const own = withOwn ? Number(f[11]) + Number(f[12]) : 0;
    return (own + Number(f[13]) + Number(f[14])) / TICK;
  } catch {
    return Number.NaN;
  }
}

/**
 * --wait-idle: before each run, wait (at most two minutes) until the machine's CPUs were at least
 * 85% idle over the last two seconds (/proc/stat), so that fewer runs share the machine with other
 * work. It cannot keep other work from starting during a run: min and median are still reported.
 */
const waitIdle = process.argv.includes('--wait-idle');
let waitedOut = 0;
function cpuTimes(): { idle: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: line[3]! + (line[4] ?? 0), total: line.reduce((a, b) => a + b, 0) };
}
async function untilIdle(): Promise<void> {
  if (!waitIdle) return;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 2000));
    const b = cpuTimes();
    if ((b.idle - a.idle) / Math.max(1, b.total - a.total) >= 0.85) return;
    if (Date.now() > deadline) {
      waitedOut++;
      return;
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const min = (xs: number[]) => Math.min(...xs);

/** Four tables alike: orders_1..4, `rows` rows each. */
const EVEN_TABLES = (rows: number) =>
  [1, 2, 3, 4]
    .map(
      (k) => `
CREATE TABLE orders_${k} (id bigint PRIMARY KEY, at timestamptz NOT NULL, customer text NOT NULL, items jsonb, note text);
INSERT INTO orders_${k}
SELECT i, '2024-01-01'::timestamptz + i * interval '1 minute', 'customer ' || (i % 50000),
       jsonb_build_array(jsonb_build_object('sku', i % 9000, 'qty', 1 + i % 7)), md5((i * ${k})::text)
  FROM generate_series(1, ${rows}) i;`,
    )
    .join('\n');

/** Rows per generated table: as many as pgbench_accounts has. */
const TABLES = (rows: number) => `
CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL, payload jsonb);
INSERT INTO events
SELECT i, '2024-01-01'::timestamptz + i * interval '1 second', (ARRAY['view','click','buy','share'])[1 + i % 4],
       jsonb_build_object('user', i % 100000, 'path', '/p/' || (i % 5000), 'ms', (i * 7) % 1000)
  FROM generate_series(1, ${rows}) i;
CREATE TABLE documents (id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL);
INSERT INTO documents
SELECT i, 'document ' || i, md5(i::text) || ' ' || md5((i * 3)::text) || ' ' || repeat('lorem ipsum ', 1 + i % 5)
  FROM generate_series(1, ${rows}) i;
CREATE TABLE measurements (id bigint PRIMARY KEY, device int NOT NULL, at timestamptz NOT NULL, value double precision);
INSERT INTO measurements
SELECT i, i % 2000, '2024-01-01'::timestamptz + i * interval '10 seconds', sin(i) * 1000
  FROM generate_series(1, ${rows}) i;
`;

type Variant = 'raw-dump' | 'agent-backup' | 'agent-backup-parallel' | 'raw-dump-dir';

try {
  const pg = await startPostgres({
    name: 'bench',
    settings: { max_wal_size: '8GB', shared_buffers: '256MB' },
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
  timed(
    shape === 'even' ? 'four large tables alike' : 'three more large tables',
    bin('psql'),
    [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      (shape === 'even' ? EVEN_TABLES : TABLES)(scale * 100_000),
      '-c',
      'VACUUM ANALYZE',
      'bench',
    ],
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
  // Warm the cache once so that no variant pays for the first read.
  const tables = await pg.query<{ t: string }>(
    `SELECT quote_ident(relname) AS t FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`,
    [],
    'bench',
  );
  timed(
    'warm-up (count rows)',
    bin('psql'),
    ['-Xqc', tables.map(({ t }) => `SELECT count(*) FROM ${t};`).join(' '), 'bench'],
    pg.pgEnv('bench'),
  );

  const backupVariants: Variant[] = ['raw-dump', 'agent-backup', 'agent-backup-parallel', 'raw-dump-dir'];
  const times: Record<string, number[]> = {};
  // CPU of each run, load-independent: the program and its children (pg_dump, ...) plus the server
  // backends that served it (reaped by the postmaster once they exit).
  const cpu: Record<string, number[]> = {};
  const serverCpu = () => cpuSeconds(pg.postmasterPid()!, true);
  let before = { client: 0, server: 0 };
  const start = async () => {
    await untilIdle();
    before = { client: cpuSeconds('self', false), server: serverCpu() };
  };
  const record = async (k: string, s: number) => {
    (times[k] ??= []).push(s);
    await new Promise((r) => setTimeout(r, 300)); // let the backends exit
    (cpu[k] ??= []).push(cpuSeconds('self', false) - before.client + serverCpu() - before.server);
  };
  const rawDump = join(dir, 'raw.dump');
  for (let round = 0; round < rounds; round++) {
    process.stderr.write(`backup round ${round + 1}/${rounds}\n`);
    const order = backupVariants.map((_, i) => backupVariants[(i + round) % backupVariants.length]!);
    for (const v of order) {
      await pg.query('CHECKPOINT');
      await start();
      if (v === 'raw-dump') {
        rmSync(rawDump, { force: true });
        await record(
          v,
          timed(
            `pg_dump -Fc -Z${compression}`,
            bin('pg_dump'),
            ['-Fc', `-Z${compression}`, '-f', rawDump, 'bench'],
            pg.pgEnv('bench'),
          ),
        );
      } else if (v === 'raw-dump-dir') {
        const d = join(dir, 'raw-dir');
        rmSync(d, { recursive: true, force: true });
        await record(
          v,
          timed(
            `pg_dump -Fd -j${jobs} -Z${compression}`,
            bin('pg_dump'),
            ['-Fd', `-j${jobs}`, `-Z${compression}`, '-f', d, 'bench'],
            pg.pgEnv('bench'),
          ),
        );
        rmSync(d, { recursive: true, force: true });
      } else {
        const parallel = v === 'agent-backup-parallel';
        const name = `${parallel ? 'par' : 'one'}${round}`;
        await record(
          v,
          timed(
            `postgres-agent backup${parallel ? ` --jobs ${jobs}` : ''}`,
            process.execPath,
            [agentMain, 'backup', '--name', name, ...(parallel ? ['--jobs', String(jobs)] : [])],
            agentEnv,
          ),
        );
      }
    }
  }
  // The archives the restores read: the raw one, and the last of each of ours.
  const restoreVariants = ['raw-restore', 'agent-restore', 'agent-restore-parallel-backup'];
  for (let round = 0; round < rounds; round++) {
    process.stderr.write(`restore round ${round + 1}/${rounds}\n`);
    const order = restoreVariants.map((_, i) => restoreVariants[(i + round) % restoreVariants.length]!);
    for (const v of order) {
      await pg.query('CHECKPOINT');
      await start();
      if (v === 'raw-restore') {
        const t0 = process.hrtime.bigint();
        await pg.query('CREATE DATABASE bench_raw');
        const created = Number(process.hrtime.bigint() - t0) / 1e9;
        await record(
          v,
          created +
            timed(
              `createdb + pg_restore --jobs ${jobs}`,
              bin('pg_restore'),
              ['--exit-on-error', `--jobs=${jobs}`, '-d', 'bench_raw', rawDump],
              pg.pgEnv('bench_raw'),
            ),
        );
        await pg.query('DROP DATABASE bench_raw');
      } else {
        const from = v === 'agent-restore' ? `one${rounds - 1}` : `par${rounds - 1}`;
        await record(
          v,
          timed(
            `postgres-agent restore ${from}`,
            process.execPath,
            [agentMain, 'restore', from, '--target-database', 'bench_agent'],
            agentEnv,
          ),
        );
        await pg.query('DROP DATABASE bench_agent');
      }
    }
  }

  const pairs: { label: string; ours: string; raw: string; aim: number }[] = [
    { label: 'backup', ours: 'agent-backup', raw: 'raw-dump', aim: 1.05 },
    { label: `backup --jobs ${jobs}`, ours: 'agent-backup-parallel', raw: 'raw-dump', aim: 0.7 },
    {
      label: `(pg_dump -Fd -j${jobs}, reference)`,
      ours: 'raw-dump-dir',
      raw: 'raw-dump',
      aim: Number.NaN,
    },
    { label: 'restore', ours: 'agent-restore', raw: 'raw-restore', aim: 1.0 },
    {
      label: `restore of the --jobs ${jobs} backup`,
      ours: 'agent-restore-parallel-backup',
      raw: 'raw-restore',
      aim: Number.NaN,
    },
  ];
  const rows = pairs.map((p) => {
    const o = times[p.ours]!;
    const r = times[p.raw]!;
    return {
      step: p.label,
      raw: { min: min(r), median: median(r) },
      ours: { min: min(o), median: median(o) },
      ratioOfMedians: median(o) / median(r),
      ratioOfMins: min(o) / min(r),
      medianPairedRatio: median(o.map((x, i) => x / r[i]!)),
      cpu: { raw: median(cpu[p.raw]!), ours: median(cpu[p.ours]!) },
      aim: Number.isNaN(p.aim) ? null : p.aim,
    };
  });
  const command = `npx tsx bench/backup-restore.ts --scale ${scale} --rounds ${rounds} --jobs ${jobs} --compression ${compression} --shape ${shape}${waitIdle ? ' --wait-idle' : ''}`;
  console.log(
    `\ndatabase ${(Number(size) / 2 ** 20).toFixed(0)} MiB (pgbench scale ${scale} + ${shape === 'even' ? 'orders_1..4' : 'events, documents, measurements'}: ${scale * 100_000} rows each), ${rounds} rounds, jobs ${jobs}, compression ${compression}`,
  );
  const f = (n: number) => n.toFixed(2);
  console.log(
    '| step | raw min / median (s) | ours min / median (s) | ratio of medians | ratio of mins | median paired ratio | aim | CPU s raw / ours (ratio) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.step} | ${f(r.raw.min)} / ${f(r.raw.median)} | ${f(r.ours.min)} / ${f(r.ours.median)} | ${r.ratioOfMedians.toFixed(3)} | ${r.ratioOfMins.toFixed(3)} | ${r.medianPairedRatio.toFixed(3)} | ${r.aim === null ? '' : `≤ ${r.aim}`} | ${f(r.cpu.raw)} / ${f(r.cpu.ours)} (${(r.cpu.ours / r.cpu.raw).toFixed(2)}) |`,
    );
  if (waitIdle)
    console.log(`--wait-idle: ${waitedOut} runs started without an idle machine (after 2 minutes)`);
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (${cpus().length} cores)`,
  );
  console.log(`reproduce: npm run build && ${command}`);
  const outDir = join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `backup-restore-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    out,
    JSON.stringify(
      { scale, shape, rounds, jobs, compression, databaseBytes: Number(size), times, cpu, rows, command },
      null,
      2,
    ),
  );
  console.log(`results: ${out}`);
} finally {
  await cleanupAll();
}
