/**
 * Local mode when things went wrong: a restore killed between fencing and swap, a truncated
 * backup, a corrupt page, the data directories gone. Each time `status` must say what happened and
 * the exact command that repairs it, and that command must bring the data back. Also: the agent's
 * health endpoint stays on loopback, and disk usage is one figure everywhere, and `restore PATH`
 * restores the file at PATH. One cluster (a primary) for the whole file; real processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  openSync,
  rmSync,
  statfsSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { diskUsage } from '../../src/core/disk-usage.js';
import { cleanupAll } from '../support/cleanup.js';
import { eventually } from '../support/eventually.js';
import { type HaCluster, startHaCluster } from '../support/ha.js';
import { httpGetStatus, nonLoopbackAddress } from '../support/net.js';
import { tempDir } from '../support/tmp.js';
import { opsMain } from '../support/tools.js';

/** postgres-ops against one local cluster, and its primary (postgres-0) as the superuser. */
class Local {
  constructor(readonly c: HaCluster) {}
  get stateDir() {
    return this.c.stateDir;
  }
  run(args: string[]) {
    return this.c.ops(args);
  }
  async json<T>(args: string[]): Promise<T> {
    const r = await this.c.ops([...args, '-o', 'json']);
    if (r.code !== 0) throw new Error(`postgres-ops ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }
  state() {
    return this.c.state();
  }
  dataDir(name: string) {
    return this.c.paths.dataDir(name);
  }
  connect(database = 'pyairtable') {
    return this.c.connect('postgres-0', database, 60_000);
  }
  query<T = Record<string, unknown>>(sql: string, database = 'pyairtable') {
    return this.c.query<T>('postgres-0', sql, database);
  }
}

after(cleanupAll);

interface Status {
  instances: { name: string; role: string; ready: boolean }[];
  storage: { name: string; member: string; usedPercent: number | null; capacityBytes: number | null }[];
  lastBackup: { name: string } | null;
  operation: { operation: string } | null;
  checksumFailures: { instance: string; database: string; failures: number }[];
  damagedBackups: { name: string; reason: string }[];
  dataLoss: { members: string[] } | null;
  warnings: string[];
}

describe('local mode recovery', () => {
  let ops: Local;
  const count = async (table = 'orders') =>
    Number((await ops.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
  const databases = async () =>
    (
      await ops.query<{ datname: string; datallowconn: boolean }>(
        `SELECT datname, datallowconn FROM pg_database WHERE datname LIKE 'pyairtable%' ORDER BY datname`,
        'postgres',
      )
    ).map((d) => [d.datname, d.datallowconn]);

  before(async () => {
    ops = new Local(await startHaCluster({ replicas: 0 }));
    await eventually(
      'the application database exists',
      async () => (await ops.query('SELECT 1')).length === 1,
      { timeoutMs: 120_000, intervalMs: 100, retryOnError: true },
    );
    await ops.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
    await ops.query("INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 300) g");
    assert.equal((await ops.run(['backup', 'base'])).code, 0);
    assert.equal((await ops.run(['snapshot', 'snap1'])).code, 0);
  });

  it("keeps the agent's health endpoint off every address but loopback", async (t) => {
    const outside = nonLoopbackAddress();
    if (!outside) return t.skip('this machine has no non-loopback IPv4 address');
    const { healthPort } = ops.state().instances[0]!;
    assert.equal(await httpGetStatus('127.0.0.1', healthPort), 200);
    assert.equal(await httpGetStatus(outside, healthPort), 'ECONNREFUSED');
  });

  it("shows the same disk usage in status as the agent's /status, the share of what PostgreSQL can use", async () => {
    const { healthPort } = ops.state().instances[0]!;
    const agent = (await (await fetch(`http://127.0.0.1:${healthPort}/status`)).json()) as {
      diskUsedPercent: number;
    };
    const s = await ops.json<Status>(['status']);
    const volume = s.storage.find((v) => v.member === 'postgres-0')!;
    const own = diskUsage(statfsSync(ops.dataDir('postgres-0')));
    // Other programs write to this filesystem meanwhile: the figures may move by a hair, no more.
    assert.ok(
      Math.abs(volume.usedPercent! - agent.diskUsedPercent) <= 0.3,
      `${volume.usedPercent} vs ${agent.diskUsedPercent}`,
    );
    assert.ok(
      Math.abs(volume.usedPercent! - own.usedPercent) <= 0.3,
      `${volume.usedPercent} vs ${own.usedPercent}`,
    );
  });

  it('restores the file at PATH, not the backup that shares its base name, and the backup by its bare name', async () => {
    await ops.query('DELETE FROM orders WHERE id > 200');
    assert.equal((await ops.run(['backup', 'smaller'])).code, 0);
    const elsewhere = tempDir();
    copyFileSync(join(ops.stateDir, 'backups', 'smaller.dump'), join(elsewhere, 'base.dump'));
    await ops.query("INSERT INTO orders SELECT g, 'x' FROM generate_series(201, 250) g");
    const r = await ops.run(['restore', join(elsewhere, 'base.dump'), '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await count(), 200, 'the rows of the copy at PATH');
    const named = await ops.run(['restore', 'base', '--yes']);
    assert.equal(named.code, 0, named.stderr);
    assert.equal(await count(), 300, 'the rows of the backup named base');
  });

  /**
   * Starts `restore base`, parks it between fencing pyairtable and renaming it (a test session holds
   * a lock the rename needs), then kills the restore and everything it started with SIGKILL.
   */
  async function killRestoreBetweenFenceAndSwap() {
    const hold: pg.Client = await ops.connect('postgres');
    await hold.query('BEGIN');
    await hold.query(`COMMENT ON DATABASE pyairtable IS 'held by the test'`);
    const child = spawn(
      process.execPath,
      [opsMain, 'restore', 'base', '--yes', '--state-dir', ops.stateDir],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await eventually(
        'the restore has fenced pyairtable and waits to swap',
        async () => {
          const [d] = await ops.query<{ fenced: boolean; waiting: boolean }>(
            `SELECT NOT datallowconn AS fenced,
             EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'postgres-agent restore'
                     AND wait_event_type = 'Lock') AS waiting
           FROM pg_database WHERE datname = 'pyairtable'`,
            'postgres',
          );
          return !!d?.fenced && !!d.waiting;
        },
        { timeoutMs: 120_000, intervalMs: 100, retryOnError: true },
      );
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    } finally {
      await hold.query('ROLLBACK');
      await hold.end();
    }
    await eventually(
      'the killed restore session has ended',
      async () => {
        const r = await ops.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name IN ('postgres-agent restore', 'pgops: restore base')`,
          'postgres',
        );
        return r.length === 0;
      },
      { timeoutMs: 120_000, intervalMs: 100, retryOnError: true },
    );
  }

  it('after a restore is killed between fencing and swap, status names it with the repair, and local up repairs it', async () => {
    await ops.query("INSERT INTO orders VALUES (301, 'after the backup')");
    await killRestoreBetweenFenceAndSwap();
    assert.deepEqual(await databases(), [
      ['pyairtable', false],
      ['pyairtable__restoring', true],
    ]);
    const s = await ops.json<Status>(['status']);
    assert.ok(
      s.warnings.some((w) =>
        /^CRITICAL: database pyairtable refuses all connections: a restore was interrupted between fencing it and swapping pyairtable__restoring in; its data is intact\. Repair: postgres-ops local up/.test(
          w,
        ),
      ),
      s.warnings.join('\n'),
    );
    const up = await ops.run(['local', 'up']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /repaired: database pyairtable refuses all connections/);
    assert.deepEqual(await databases(), [['pyairtable', true]]);
    assert.equal(await count(), 301, 'the data of before the restore, with the row added after the backup');
    const after = await ops.json<Status>(['status']);
    assert.ok(!after.warnings.some((w) => /database pyairtable/.test(w)), after.warnings.join('\n'));
  });

  it('a restore retried after such a kill repairs first, takes its safety backup and restores', async () => {
    await killRestoreBetweenFenceAndSwap();
    const r = await ops.run(['restore', 'base', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /no-safety-backup/);
    assert.equal(await count(), 300);
    assert.deepEqual(await databases(), [['pyairtable', true]]);
    const list = await ops.json<{ name: string }[]>(['list-backups']);
    assert.ok(
      list.some((b) => b.name.startsWith('pre-restore-pyairtable-')),
      'the safety backup was taken',
    );
  });

  it('lists a truncated backup as damaged, fails verify --all, and warns in status', async () => {
    assert.equal((await ops.run(['backup', 'to-truncate'])).code, 0);
    const file = join(ops.stateDir, 'backups', 'to-truncate.dump');
    truncateSync(file, 100);
    const list = await ops.run(['list-backups']);
    assert.match(list.stdout, /to-truncate .*DAMAGED/);
    const v = await ops.run(['verify', '--all']);
    assert.equal(v.code, 1, v.stderr);
    assert.match(v.stderr, /to-truncate/);
    const s = await ops.json<Status>(['status']);
    assert.deepEqual(
      s.damagedBackups.map((d) => d.name),
      ['to-truncate'],
    );
    assert.notEqual(s.lastBackup?.name, 'to-truncate');
    assert.ok(
      s.warnings.some((w) =>
        /^backup to-truncate is damaged \(archive to-truncate\.dump is 100 bytes/.test(w),
      ),
    );
    rmSync(join(ops.stateDir, 'backups', 'to-truncate.manifest.json'));
    rmSync(file);
    rmSync(join(ops.stateDir, 'backups', 'to-truncate.globals.sql'));
  });

  it('warns about data checksum failures naming the database, the count and the last failure', async () => {
    await ops.query(
      `CREATE TABLE corrupt AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 100) g`,
    );
    const [{ path }] = (await ops.query<{ path: string }>(
      `SELECT pg_relation_filepath('corrupt') AS path`,
    )) as [{ path: string }];
    assert.equal((await ops.run(['local', 'down'])).code, 0);
    const fd = openSync(join(ops.dataDir('postgres-0'), path), 'r+');
    writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, 4000);
    closeSync(fd);
    assert.equal((await ops.run(['local', 'up'])).code, 0);
    await assert.rejects(ops.query('SELECT count(*) FROM corrupt'), /invalid page in block 0/);
    const s = await ops.json<Status>(['status']);
    assert.deepEqual(
      s.checksumFailures.map((f) => [f.instance, f.database]),
      [['postgres-0', 'pyairtable']],
    );
    assert.ok(s.checksumFailures[0]!.failures >= 1);
    assert.ok(
      s.warnings.some((w) =>
        /^CRITICAL: postgres-0: \d+ data checksum failures? in database pyairtable, the last at \d{4}-\d\d-\d\d.*: pages on its disk are damaged/.test(
          w,
        ),
      ),
      s.warnings.join('\n'),
    );
  });

  it('after the data directory is lost, status says so with the restore commands and local up refuses to start an empty cluster', async () => {
    assert.equal((await ops.run(['local', 'down'])).code, 0);
    rmSync(ops.dataDir('postgres-0'), { recursive: true, force: true });
    const s = await ops.json<Status>(['status']);
    assert.deepEqual(s.dataLoss?.members, ['postgres-0']);
    assert.equal(s.warnings.length >= 1, true);
    assert.match(
      s.warnings[0]!,
      /^CRITICAL: the data of postgres-0 is gone .*Restore the newest backup: postgres-ops local up --fresh && postgres-ops restore \S+ --yes, or the newest snapshot: postgres-ops restore --snapshot snap1 --yes$/,
    );
    assert.ok(!s.warnings.some((w) => /is not running: postgres-ops local up$/.test(w)));

    const up = await ops.run(['local', 'up']);
    assert.equal(up.code, 3, up.stderr);
    assert.match(up.stderr, /the data of postgres-0 is gone .* nothing was started/);
    assert.match(
      up.stderr,
      /hint: Restore the newest backup: postgres-ops local up --state-dir \S+ --fresh && postgres-ops restore --state-dir \S+ \S+ --yes, or the newest snapshot: postgres-ops restore --state-dir \S+ --snapshot snap1 --yes/,
    );
    assert.equal(
      existsSync(join(ops.dataDir('postgres-0'), 'PG_VERSION')),
      false,
      'no empty cluster was made',
    );

    const snap = await ops.run(['restore', '--snapshot', 'snap1', '--yes']);
    assert.equal(snap.code, 0, snap.stderr);
    assert.equal(await count(), 300, 'the rows the snapshot holds');
  });

  it('local up --fresh starts an empty cluster over a lost one, and the named backup restores into it', async () => {
    assert.equal((await ops.run(['local', 'down'])).code, 0);
    rmSync(ops.dataDir('postgres-0'), { recursive: true, force: true });
    const up = await ops.run(['local', 'up', '--fresh']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout + up.stderr, /starting an empty cluster \(--fresh\)/);
    const r = await ops.run(['restore', 'base', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await count(), 300);
    const s = await ops.json<Status>(['status']);
    assert.equal(s.dataLoss, null);
    assert.ok(s.instances.every((i) => i.ready));
  });
});
