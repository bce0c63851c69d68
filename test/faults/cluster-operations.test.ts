/**
 * One backup, restore, migration or promotion at a time per cluster: a second one is refused with
 * exit 3 naming the first, which completes intact. The first is held at a known point by a lock a
 * test session takes, so the overlap is certain, not a matter of timing.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { withClusterOperation } from '../../src/runtime/cluster-operation.js';
import { cleanupAll } from '../support/cleanup.js';
import { eventually } from '../support/eventually.js';
import { startHaCluster } from '../support/ha.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgent, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

describe('one operation at a time', () => {
  let pg: PgServer;
  let dir: string;
  const agent = (args: string[]) => runAgentSync(args, backupAgentEnv(pg, dir));
  const rows = async (db = 'app') =>
    Number((await pg.query<{ n: string }>('SELECT count(*) AS n FROM t', [], db))[0]!.n);

  before(async () => {
    pg = await startPostgres();
    dir = tempDir();
    await pg.query('CREATE DATABASE app');
    await pg.query('CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000)', [], 'app');
    assert.equal(agent(['backup', '--name', 'base']).code, 0);
  });

  it('refuses a backup (exit 3) while a restore runs, naming the restore; a second restore is refused; the first completes intact', async () => {
    await pg.query('INSERT INTO t SELECT generate_series(1001, 1500)', [], 'app');
    // The restore's safety backup (pg_dump of app) waits behind this lock: the restore is running.
    let blocker: pg.Client | undefined = await pg.connect('app');
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    const first = runAgent(['restore', 'base', '--replace', '--yes'], backupAgentEnv(pg, dir));
    try {
      await eventually(
        'the restore waits in its safety backup',
        async () => {
          const r = await pg.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = 'app' AND wait_event_type = 'Lock'`,
          );
          return r.length > 0;
        },
        { timeoutMs: 60_000, intervalMs: 50 },
      );

      const backup = agent(['backup', '--name', 'during']);
      assert.equal(backup.code, 3, backup.stderr);
      assert.match(
        backup.stderr,
        /backup during was not started: restore base \(started .* on .*, pid \d+\) is running on this cluster/,
      );
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.includes('during')),
        [],
      );

      const second = agent(['restore', 'base', '--replace', '--yes', '--no-safety-backup']);
      assert.equal(second.code, 3, second.stderr);
      assert.match(second.stderr, /restore base was not started: restore base \(started .*\) is running/);
      const listed = JSON.parse(agent(['list-backups', '-o', 'json']).stdout) as { name: string }[];
      assert.ok(!listed.some((b) => b.name === 'during'));
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
      blocker = undefined;
    }
    const done = await first;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(await rows(), 1000, 'the backup taken before the extra rows is what app holds');
    assert.deepEqual(
      await pg.query(`SELECT datname FROM pg_database WHERE datname LIKE 'app\\_\\_%'`),
      [],
      'no database left behind by the first restore or the refused one',
    );
    const safety = readdirSync(dir).filter(
      (f) => f.startsWith('pre-restore-app-') && f.endsWith('.manifest.json'),
    );
    assert.equal(safety.length, 1, 'one safety backup, by the restore that ran');
    // Once the restore is done, the next operation runs.
    const after = agent(['backup', '--name', 'after']);
    assert.equal(after.code, 0, after.stderr);
    assert.ok(existsSync(join(dir, 'after.manifest.json')));
  });

  it('releases the lock when the holder is killed: the next operation runs', async () => {
    let blocker: pg.Client | undefined = await pg.connect('app');
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    const env = backupAgentEnv(pg, dir);
    const killed = runAgent(['backup', '--name', 'killed'], env, { timeoutMs: 120_000 });
    try {
      let agentPid = 0;
      await eventually(
        'the backup holds the operation lock',
        async () => {
          const r = await pg
            .query<{ pid: number }>(
              `SELECT pid FROM pgops.cluster_operation WHERE operation = 'backup killed'`,
            )
            .catch(() => []);
          agentPid = r[0]?.pid ?? 0;
          return agentPid > 0;
        },
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      process.kill(agentPid, 'SIGKILL');
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
      blocker = undefined;
    }
    await killed;
    await eventually(
      'the killed holder session is gone',
      async () => {
        const r = await pg.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'pgops: backup killed'`,
        );
        return r.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const next = agent(['backup', '--name', 'next']);
    assert.equal(next.code, 0, next.stderr);
  });
});

describe('one operation at a time, promotion included', () => {
  it('refuses a promotion (exit 3) while a backup holds the primary, naming it, and changes nothing', async () => {
    const c = await startHaCluster({ replicas: 1 });
    const { leader, replica } = await c.leaderAndStreamingReplica();
    let release = () => undefined as void;
    const held = new Promise<void>((r) => (release = r));
    let started = () => undefined as void;
    const holding = new Promise<void>((r) => (started = r));
    const backup = withClusterOperation(
      { host: '127.0.0.1', port: c.port(leader), user: 'postgres', password: c.password() },
      'backup nightly',
      async () => {
        started();
        await held;
      },
    );
    await holding;
    try {
      const r = await c.ops(['promote', replica, '--yes']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`promote ${replica} was not started: backup nightly \\(started .*\\) is running`),
      );
      assert.deepEqual(await c.writable(), [leader], 'the primary is unchanged');
    } finally {
      release();
      await backup;
    }
  });
});
