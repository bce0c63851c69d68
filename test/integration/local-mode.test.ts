/**
 * postgres-ops in local mode, end to end, as a person runs it: real `postgres-agent instance`
 * processes (a primary and a streaming replica), real pg_dump/pg_restore backups, a real
 * pg_basebackup snapshot, a fenced promotion. One cluster for the whole file keeps it lean.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pidAlive } from '../../src/runtime/pid.js';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { eventually } from '../support/eventually.js';
import { HaCluster, killAllUnderSync } from '../support/ha.js';
import { tempDir } from '../support/tmp.js';
import { opsMain } from '../support/tools.js';

after(cleanupAll);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let stateDir = '';

function ops(args: string[], opts: { stateDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const dir = opts.stateDir ?? stateDir;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [opsMain, ...args, '--state-dir', dir],
      { env: { ...process.env, ...opts.env }, maxBuffer: 32 * 1024 * 1024, timeout: 300_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function opsJson<T>(args: string[]): Promise<T> {
  const r = await ops([...args, '-o', 'json']);
  assert.equal(r.code, 0, `postgres-ops ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Status {
  mode: string;
  release: string;
  namespace: string;
  failover: string | null;
  synchronous: boolean | null;
  instances: {
    name: string;
    role: string;
    ready: boolean;
    running: boolean;
    state: string;
    timeline: number | null;
    lagBytes: number | null;
    lagSeconds: number | null;
    uri: string;
  }[];
  storage: { name: string; usedPercent: number | null }[];
  lastBackup: { name: string; verified: boolean } | null;
  lastSnapshot: { name: string } | null;
  warnings: string[];
}

function password(): string {
  return readFileSync(join(stateDir, 'secrets', 'superuser-password'), 'utf8').trim();
}

/** Connects the way a person would: with the URI that status prints (password from the passfile). */
function psql(uri: string, sql: string): string {
  return execFileSync('psql', [uri, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    encoding: 'utf8',
  }).trim();
}

async function appQuery(uri: string, sql: string): Promise<pg.QueryResultRow[]> {
  const u = new URL(uri);
  const c = new pg.Client({
    host: u.hostname,
    port: Number(u.port),
    user: 'postgres',
    password: password(),
    database: 'pyairtable',
  });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

function pidOf(name: string): number {
  return Number(readFileSync(join(stateDir, 'run', `${name}.pid`), 'utf8').trim());
}

const primaryOf = (s: Status) => s.instances.find((i) => i.role === 'primary')!;

describe('postgres-ops local mode', () => {
  let primaryUri = '';

  before(async () => {
    stateDir = join(tempDir('pgops-local-'), 'state');
    const dir = stateDir;
    onCleanup(
      'local destroy',
      async () => {
        if (existsSync(dir)) await ops(['local', 'destroy', '--yes'], { stateDir: dir });
        killAllUnderSync(dir);
      },
      () => killAllUnderSync(dir),
    );
  });

  it('local up starts a primary and a streaming replica, takes a first verified backup and says how to connect', async () => {
    const r = await ops(['local', 'up']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Local PostgreSQL is up/);
    assert.match(r.stdout, /psql "postgresql:\/\/postgres@127\.0\.0\.1:\d+\/pyairtable\?passfile=/);
    const s = await opsJson<Status>(['status']);
    assert.equal(s.mode, 'local');
    assert.equal(s.release, 'pyairtable-stack');
    assert.deepEqual(
      s.instances.map((i) => [i.name, i.role, i.ready, i.timeline]),
      [
        ['postgres-0', 'primary', true, 1],
        ['postgres-1', 'replica', true, 1],
      ],
    );
    assert.ok(s.lastBackup, 'a first backup is listed');
    assert.equal(s.lastBackup.verified, true);
    assert.ok(s.storage.length >= 2 && s.storage.every((v) => typeof v.usedPercent === 'number'));
  });

  it('serves metrics from postgres_exporter on the primary, with the chart queries', async () => {
    const up = await opsJson<{ metricsUrl: string | null }>(['local', 'up']);
    assert.match(up.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    let text = '';
    await eventually(
      'the exporter reports pg_up 1',
      async () => {
        text = await fetch(up.metricsUrl!)
          .then((r) => r.text())
          .catch(() => '');
        return /^pg_up 1$/m.test(text);
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    assert.match(text, /^pg_up 1$/m);
    assert.match(text, /^pg_stat_database_xact_commit\{.*datname="pyairtable".*\} \d+/m);
    const args = readFileSync(`/proc/${pidOf('exporter')}/cmdline`, 'utf8');
    assert.ok(!args.includes(password()), 'the password is not in the exporter command line');
  });

  it('status -o json gives a URI that psql connects with and that holds no password', async () => {
    const s = await opsJson<Status>(['status']);
    primaryUri = primaryOf(s).uri;
    for (const i of s.instances) {
      assert.ok(!i.uri.includes(password()), 'the password never appears in a URI');
      assert.match(i.uri, /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?passfile=/);
    }
    assert.equal(psql(primaryUri, 'SELECT pg_is_in_recovery()'), 'f');
    assert.equal(psql(s.instances[1]!.uri, 'SELECT pg_is_in_recovery()'), 't');
    assert.ok(!JSON.stringify(s).includes(password()));
  });

  it('local up again starts nothing and leaves the running processes alone', async () => {
    const before = ['postgres-0', 'postgres-1'].map(pidOf);
    const r = await opsJson<{ started: string[]; alreadyRunning: string[] }>(['local', 'up']);
    assert.deepEqual(r.started, []);
    assert.deepEqual(r.alreadyRunning.sort(), ['postgres-0', 'postgres-1']);
    assert.deepEqual(['postgres-0', 'postgres-1'].map(pidOf), before);
  });

  it('backup NAME is listed verified, and restore brings dropped rows back', async () => {
    await appQuery(primaryUri, 'CREATE TABLE orders (id int PRIMARY KEY, note text)');
    await appQuery(primaryUri, "INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 500) g");
    const b = await opsJson<{ name: string; verified: boolean }>(['backup', 'critical-point-backup']);
    assert.equal(b.name, 'critical-point-backup');
    assert.equal(b.verified, true);
    const list = await opsJson<{ name: string; verified: boolean; sha256: string }[]>(['list-backups']);
    assert.equal(list[0]!.name, 'critical-point-backup', 'newest first');
    assert.equal(list[0]!.verified, true);
    assert.match(list[0]!.sha256, /^[0-9a-f]{64}$/);
    const s = await opsJson<Status>(['status']);
    assert.equal(s.lastBackup?.name, 'critical-point-backup');

    await appQuery(primaryUri, 'DROP TABLE orders');
    // The guide's file name for a backup resolves to it.
    const r = await ops(['restore', 'critical-point-backup.sql.gz', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const [row] = await appQuery(primaryUri, 'SELECT count(*)::int AS n FROM orders');
    assert.equal(row!.n, 500);
  });

  it('verify re-checks a backup, and connect opens psql on the primary with the passfile', async () => {
    const v = await opsJson<{ name: string; ok: boolean; problems: string[] }[]>([
      'verify',
      'critical-point-backup',
    ]);
    assert.deepEqual(
      v.map((x) => [x.name, x.ok, x.problems]),
      [['critical-point-backup', true, []]],
    );
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [opsMain, 'connect', '--state-dir', stateDir], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end('SELECT 6 * 7 AS answer, pg_is_in_recovery();\n');
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /connecting to postgres-0/);
    assert.match(r.stdout, /42 \| f/);
  });

  it('refuses a restore without --yes and without a terminal (exit 3), changing nothing', async () => {
    await appQuery(primaryUri, 'INSERT INTO orders VALUES (501, $$after$$)');
    const r = await ops(['restore', 'critical-point-backup']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /refusing to replace database pyairtable/);
    assert.match(r.stderr, /hint: Nothing was changed\. To go ahead, run: postgres-ops restore .* --yes/);
    const [row] = await appQuery(primaryUri, 'SELECT count(*)::int AS n FROM orders');
    assert.equal(row!.n, 501);
  });

  it('says a missing backup is unknown (exit 2) and lists what exists, changing nothing', async () => {
    const r = await ops(['restore', '/nowhere/backup_20240101_020000.sql.gz', '--yes', '-o', 'json']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no backup "\/nowhere\/backup_20240101_020000\.sql\.gz".*nothing was changed/);
    assert.match(r.stderr, /hint: Newest backups: .*critical-point-backup/);
    assert.equal(JSON.parse(r.stdout).error.code, 'E_NO_SUCH_BACKUP');
    const [row] = await appQuery(primaryUri, 'SELECT count(*)::int AS n FROM orders');
    assert.equal(row!.n, 501);
  });

  it('monitor --once prints real figures from the primary', async () => {
    const m = await opsJson<{
      instance: string;
      connections: number;
      maxConnections: number;
      tps: number | null;
      cacheHitPercent: number | null;
      databaseBytes: number;
      replication: { name: string; state: string }[];
    }>(['monitor', '--once']);
    assert.equal(m.instance, 'postgres-0');
    assert.equal(m.maxConnections, Number(psql(primaryUri, 'SHOW max_connections')));
    assert.ok(m.connections >= 1);
    assert.equal(typeof m.tps, 'number');
    assert.ok(m.cacheHitPercent! > 0 && m.cacheHitPercent! <= 100);
    assert.ok(m.databaseBytes > 1_000_000);
    assert.deepEqual(
      m.replication.map((r) => r.state),
      ['streaming'],
    );
    const table = await ops(['monitor', '--once']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /CONNECTIONS\s+TPS/);
  });

  it('snapshot NAME, then restore --snapshot brings back the data it held', async () => {
    const snap = await opsJson<{ name: string; readyToUse: boolean }>(['snapshot', 'before-cleanup']);
    assert.equal(snap.name, 'before-cleanup');
    assert.equal(snap.readyToUse, true);
    const listed = await opsJson<{ name: string }[]>(['list-snapshots']);
    assert.deepEqual(
      listed.map((s) => s.name),
      ['before-cleanup'],
    );
    await appQuery(primaryUri, 'DELETE FROM orders');
    const r = await opsJson<{ snapshot: string; keptAside: string[] }>([
      'restore',
      '--snapshot',
      'before-cleanup',
      '--yes',
    ]);
    assert.equal(r.keptAside.length, 2, 'old data directories are moved aside, not deleted');
    assert.ok(r.keptAside.every((d) => existsSync(d)));
    const [row] = await appQuery(primaryUri, 'SELECT count(*)::int AS n FROM orders');
    assert.equal(row!.n, 501);
    const s = await opsJson<Status>(['status']);
    assert.equal(s.lastSnapshot?.name, 'before-cleanup');
    assert.ok(s.instances.every((i) => i.ready));
  });

  it('after kill -9 of a member (its agent, Patroni and postmaster), local up restarts only that one', async () => {
    const c = new HaCluster(stateDir);
    const primaryAgent = pidOf('postgres-0');
    c.kill9Member('postgres-1');
    await c.waitPostmastersGone('postgres-1');
    const down = await opsJson<Status>(['status']);
    const dead = down.instances.find((i) => i.name === 'postgres-1')!;
    assert.deepEqual([dead.ready, dead.running, dead.state], [false, false, 'stopped']);
    assert.ok(down.warnings.some((w) => /postgres-1 is not running/.test(w)));
    const r = await opsJson<{ started: string[]; alreadyRunning: string[] }>(['local', 'up']);
    assert.deepEqual(r.started, ['postgres-1']);
    assert.equal(pidOf('postgres-0'), primaryAgent);
    const s = await opsJson<Status>(['status']);
    assert.ok(s.instances.every((i) => i.ready));
  });

  it('after kill -9 of every process (etcd, agents, Patroni, PostgreSQL, exporter), local up brings everything back with the data', async () => {
    const c = new HaCluster(stateDir);
    const [before] = await appQuery(
      primaryOf(await opsJson<Status>(['status'])).uri,
      'SELECT count(*)::int AS n FROM orders',
    );
    killAllUnderSync(stateDir);
    await c.waitPostmastersGone('postgres-0');
    const r = await opsJson<{ started: string[] }>(['local', 'up']);
    assert.deepEqual(r.started.sort(), ['postgres-0', 'postgres-1']);
    const s = await opsJson<Status>(['status']);
    assert.ok(
      s.instances.every((i) => i.ready),
      JSON.stringify(s.instances),
    );
    const [after] = await appQuery(primaryOf(s).uri, 'SELECT count(*)::int AS n FROM orders');
    assert.equal(after!.n, before!.n);
  });

  it('refuses to promote a member that does not exist (exit 2), changing nothing', async () => {
    const primaryAgent = pidOf(primaryOf(await opsJson<Status>(['status'])).name);
    const r = await ops(['promote', 'postgres-7', '--yes']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /there is no member named "postgres-7"; nothing was changed/);
    assert.match(r.stderr, /hint: Members: postgres-0, postgres-1/);
    assert.ok(pidAlive(primaryAgent));
  });

  it('promote switches over: the replica becomes the primary on a new timeline and the old primary rejoins by itself', async () => {
    const before = primaryOf(await opsJson<Status>(['status']));
    const target = before.name === 'postgres-0' ? 'postgres-1' : 'postgres-0';
    const r = await opsJson<{ promoted: string; previousPrimary: string; timeline: number; action: string }>([
      'promote',
      target,
      '--yes',
    ]);
    assert.deepEqual([r.promoted, r.previousPrimary, r.action], [target, before.name, 'switchover']);
    assert.equal(r.timeline, before.timeline! + 1);
    const p = primaryOf(await opsJson<Status>(['status']));
    assert.equal(p.name, target);
    await appQuery(p.uri, "INSERT INTO orders VALUES (502, 'on the new primary')");
    const c = new HaCluster(stateDir);
    await c.waitStreaming(before.name);
    const s = await opsJson<Status>(['status']);
    assert.deepEqual(
      s.instances.map((i) => [i.name, i.role, i.ready, i.timeline, i.state]),
      [
        [target, 'primary', true, r.timeline, 'running'],
        [before.name, 'replica', true, r.timeline, 'streaming'],
      ],
    );
    const old = s.instances.find((i) => i.name === before.name)!;
    await eventually(
      'the old primary has the row the new one wrote',
      async () =>
        (await appQuery(old.uri, 'SELECT count(*)::int AS n FROM orders WHERE id = 502'))[0]!.n === 1,
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const [row] = await appQuery(old.uri, 'SELECT count(*)::int AS n FROM orders WHERE id = 502');
    assert.equal(row!.n, 1, 'the old primary replays what the new one wrote');
    const up = await opsJson<{ started: string[] }>(['local', 'up']);
    assert.deepEqual(up.started, [], 'nothing needed starting');
  });

  it('local down stops every process and keeps the data; local destroy removes the folder', async () => {
    const pids = ['postgres-0', 'postgres-1'].map(pidOf);
    const down = await opsJson<{ stopped: string[] }>(['local', 'down']);
    assert.ok(down.stopped.includes('postgres-0') && down.stopped.includes('postgres-1'));
    assert.ok(down.stopped.includes('etcd'));
    assert.ok(pids.every((p) => !pidAlive(p)));
    assert.deepEqual(
      new HaCluster(stateDir).names().filter((n) => new HaCluster(stateDir).postmasterPid(n)),
      [],
      'no PostgreSQL left running',
    );
    const kept = readdirSync(join(stateDir, 'data', 'postgres-0'));
    assert.ok(kept.includes('PG_VERSION'), `data kept after down: ${kept.join(' ')}`);
    const refused = await ops(['local', 'destroy']);
    assert.equal(refused.code, 3);
    assert.ok(existsSync(stateDir));
    const r = await ops(['local', 'destroy', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(stateDir), false);
  });
});
