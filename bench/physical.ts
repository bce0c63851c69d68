/**
 * Point-in-time recovery vs the raw PostgreSQL tools, side by side in one run on one local-mode
 * cluster (a primary under Patroni, repo1 in the state folder) and the same pgbench database:
 *   postgres-ops backup --physical --type full   vs  pg_dump -Fc -f FILE
 *   postgres-ops restore --latest                vs  createdb + pg_restore --jobs 2 of that dump
 *   archive throughput: WAL archived per second under a pgbench write load
 *   recovery point: from a commit on a quiet primary to its segment being in the archive
 *     (archive_timeout as configured, default 60 s)
 * The raw restores run before the physical backups, so restore --latest replays only the WAL written
 * since the last backup (the case a recent backup gives). Reported, not asserted. Usage: npm run build && npx tsx bench/physical.ts [--scale 66]
 * [--load-seconds 30] [--archive-timeout 60]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Output } from '../src/core/output.js';
import { LocalCluster } from '../src/local/cluster.js';
import { localDown, localUp } from '../src/local/lifecycle.js';
import { cleanupAll, onCleanup } from '../test/support/cleanup.js';
import { killAllUnderSync } from '../test/support/ha.js';
import { tempDir } from '../test/support/tmp.js';
import { repoRoot } from '../test/support/tools.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const scale = arg('scale', 66);
const loadSeconds = arg('load-seconds', 30);
const archiveTimeout = arg('archive-timeout', 60);
const quiet: Output = { line: () => undefined, result: () => undefined, raw: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BIN = '/usr/lib/postgresql/15/bin';

function run(what: string, file: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, encoding: 'utf8', maxBuffer: 64 << 20, uid: pgUid(), gid: pgGid() });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}`);
  process.stderr.write(`${what}: ${s.toFixed(2)} s\n`);
  return s;
}
function pgUid() {
  return Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
}
function pgGid() {
  return Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
}

const root = join(tempDir('pgops-bench-'), 'state');
onCleanup(
  'stop the bench cluster',
  async () => {
    await localDown(root, quiet).catch(() => undefined);
    killAllUnderSync(root);
  },
  () => killAllUnderSync(root),
);

try {
  process.stderr.write(`starting a local cluster in ${root}\n`);
  await localUp(
    root,
    {
      release: 'pyairtable-stack',
      replicas: 0,
      pitr: { archiveTimeoutSeconds: archiveTimeout },
      settings: { parameters: { max_wal_size: '4GB', shared_buffers: '256MB' } },
    },
    quiet,
  );
  const cluster = new LocalCluster(root);
  const leader = await cluster.leader();
  const env = (db: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    PGHOST: join(root, 'run', leader.name),
    PGPORT: String(leader.port),
    PGUSER: 'postgres',
    PGDATABASE: db,
  });
  const q = (sql: string, db = 'postgres') =>
    spawnSync(join(BIN, 'psql'), ['-XAtc', sql], {
      env: env(db),
      encoding: 'utf8',
      uid: pgUid(),
      gid: pgGid(),
    }).stdout.trim();
  run(`pgbench -i -s ${scale}`, join(BIN, 'pgbench'), ['-i', '-q', '-s', String(scale)], env('pyairtable'));
  const size = Number(q(`SELECT pg_database_size('pyairtable')`));
  q('CHECKPOINT');
  q('SELECT count(*) FROM pgbench_accounts', 'pyairtable');

  const dump = join(root, 'run', 'bench.dump');
  // Raw restores first (createdb + pg_restore -j2 into a new database): the WAL they write comes
  // before the physical backups, so restore --latest replays what a recent backup leaves to replay.
  run('pg_dump -Fc', join(BIN, 'pg_dump'), ['-Fc', '-f', dump, 'pyairtable'], env('pyairtable'));
  const rawRestore: number[] = [];
  for (let i = 0; i < 2; i++) {
    q(`DROP DATABASE IF EXISTS bench_restore`);
    const t0 = process.hrtime.bigint();
    run('createdb', join(BIN, 'createdb'), ['bench_restore'], env('postgres'));
    run('pg_restore -j2', join(BIN, 'pg_restore'), ['-j', '2', '-d', 'bench_restore', dump], env('postgres'));
    rawRestore.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  q('DROP DATABASE IF EXISTS bench_restore');
  // Backups: raw, physical, physical, raw (CHECKPOINT before each); means.
  const times = { dump: [] as number[], physical: [] as number[] };
  for (const side of ['raw', 'physical', 'physical', 'raw'] as const) {
    q('CHECKPOINT');
    if (side === 'raw')
      times.dump.push(
        run('pg_dump -Fc', join(BIN, 'pg_dump'), ['-Fc', '-f', dump, 'pyairtable'], env('pyairtable')),
      );
    else {
      const t0 = Date.now();
      await cluster.physicalBackup({ type: 'full' }, quiet);
      const s = (Date.now() - t0) / 1000;
      process.stderr.write(`backup --physical --type full: ${s.toFixed(2)} s\n`);
      times.physical.push(s);
    }
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;

  // The whole cluster from the archive: restore --latest.
  // The restore's own lines mark its phases: the copy recovered, then the members up and writable
  // (when it starts the full backup of the new timeline).
  const t0 = Date.now();
  const marks: { copy?: number; writable?: number } = {};
  const timed = {
    ...quiet,
    line: (l: string) => {
      if (/^recovered a copy/.test(l)) marks.copy ??= (Date.now() - t0) / 1000;
      if (/^taking a full physical backup/.test(l)) marks.writable ??= (Date.now() - t0) / 1000;
    },
  };
  await cluster.restorePointInTime({ target: { kind: 'latest' }, confirm: async () => undefined }, timed);
  const restoreTotal = (Date.now() - t0) / 1000;
  const writable = marks.writable ?? restoreTotal;
  process.stderr.write(
    `restore --latest: copy recovered ${marks.copy?.toFixed(2)} s, cluster writable ${writable.toFixed(2)} s, with the full backup after it ${restoreTotal.toFixed(2)} s\n`,
  );

  // Archive throughput under load.
  const leader2 = await cluster.leader();
  const env2 = (db: string): NodeJS.ProcessEnv => ({
    ...env(db),
    PGHOST: join(root, 'run', leader2.name),
    PGPORT: String(leader2.port),
  });
  const q2 = (sql: string, db = 'postgres') => {
    const r = spawnSync(join(BIN, 'psql'), ['-XAtc', sql], {
      env: env2(db),
      encoding: 'utf8',
      uid: pgUid(),
      gid: pgGid(),
    });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  const before = q2("SELECT archived_count || ' ' || pg_current_wal_lsn() FROM pg_stat_archiver").split(' ');
  run(
    `pgbench -T ${loadSeconds} -c 4`,
    join(BIN, 'pgbench'),
    ['-n', '-T', String(loadSeconds), '-c', '4', '-j', '2'],
    env2('pyairtable'),
  );
  const walBytes = Number(q2(`SELECT pg_current_wal_lsn() - '${before[1]}'::pg_lsn`));
  // How far the archive was behind when the load ended: the time until all it wrote is archived.
  const tEnd = Date.now();
  const target = q2('SELECT pg_walfile_name(pg_switch_wal())');
  while (!archivedUpTo(target) && Date.now() - tEnd < 300_000) await sleep(200);
  const archiveLagSeconds = (Date.now() - tEnd) / 1000;
  const archived = Number(q2('SELECT archived_count FROM pg_stat_archiver')) - Number(before[0]);
  process.stderr.write(
    `archive: ${(walBytes / 1048576 / loadSeconds).toFixed(1)} MB/s of WAL written, all archived ${archiveLagSeconds.toFixed(1)} s after the load\n`,
  );

  // Recovery point with the configured archive_timeout: a quiet primary, one commit, then wait.
  await sleep(Math.min(archiveTimeout, 70) * 1000 + 2000);
  const rpo: number[] = [];
  for (let i = 0; i < 3; i++) {
    q2('INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now())', 'pyairtable');
    const tc = Date.now();
    // The segment that holds the commit (its record ends before the flushed position).
    const seg = q2('SELECT pg_walfile_name(pg_current_wal_flush_lsn() - 1)');
    while (!archivedUpTo(seg) && Date.now() - tc < (archiveTimeout + 120) * 1000) await sleep(100);
    rpo.push((Date.now() - tc) / 1000);
    process.stderr.write(`recovery point: commit archived after ${rpo.at(-1)!.toFixed(1)} s\n`);
  }

  /** Whether the archiver has pushed segment `seg` (names compared by timeline and position). */
  function archivedUpTo(seg: string): boolean {
    const last = q2('SELECT last_archived_wal FROM pg_stat_archiver');
    // .history and .partial files say nothing about a segment's position.
    if (!/^[0-9A-F]{24}$/.test(last)) return false;
    const tl = (n: string) => parseInt(n.slice(0, 8), 16);
    return tl(last) > tl(seg) || (tl(last) === tl(seg) && last.slice(8) >= seg.slice(8));
  }
  const result = {
    date: new Date().toISOString(),
    scale,
    databaseBytes: size,
    backup: {
      pgDumpFc: mean(times.dump),
      physicalFull: mean(times.physical),
      ratio: mean(times.physical) / mean(times.dump),
    },
    restore: {
      createdbPgRestoreJ2: mean(rawRestore),
      restoreLatestCopyRecovered: marks.copy ?? null,
      restoreLatestWritable: writable,
      restoreLatestWithFullBackup: restoreTotal,
      ratio: writable / mean(rawRestore),
    },
    archive: {
      loadSeconds,
      walBytes,
      segmentsArchived: archived,
      walMbPerSecond: walBytes / 1048576 / loadSeconds,
      archivedSecondsAfterLoad: archiveLagSeconds,
    },
    recoveryPointSeconds: { archiveTimeout, samples: rpo },
  };
  mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(repoRoot, 'bench', 'results', `physical-${Date.now()}.json`),
    JSON.stringify(result, null, 2),
  );
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} finally {
  await cleanupAll();
}
