import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BACKUP_LOCK_KEY } from '../../src/runtime/backup/index.js';
import { cleanupAll } from '../support/cleanup.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

function agent(pg: PgServer, dir: string, args: string[], extra: Record<string, string> = {}) {
  return runAgentSync(args, backupAgentEnv(pg, dir, extra));
}

describe('backup and restore options', () => {
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres();
    for (const db of ['app', 'audit']) {
      await pg.query(`CREATE DATABASE ${db}`);
      await pg.query(`CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 5)`, [], db);
    }
  });

  it('backs up each database of PGOPS_BACKUP_DATABASES as its own NAME_<database> backup, deep-verified when asked', () => {
    const dir = tempDir();
    const r = agent(pg, dir, ['backup', '--name', 'nightly', '-o', 'json'], {
      PGOPS_BACKUP_DATABASES: 'app, audit',
      PGOPS_BACKUP_DEEP_VERIFY: 'true',
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.backups.map((b: { name: string; database: string }) => [b.name, b.database]),
      [
        ['nightly_app', 'app'],
        ['nightly_audit', 'audit'],
      ],
    );
    for (const n of ['nightly_app', 'nightly_audit']) {
      const m = JSON.parse(readFileSync(join(dir, `${n}.manifest.json`), 'utf8'));
      assert.ok(m.deepVerifiedAt, `${n} deep-verified`);
      assert.deepEqual(m.tableRowCounts, { 'public.t': 5 });
    }
  });

  it('refuses to start a second backup while one holds the backup lock, writing nothing', async () => {
    const dir = tempDir();
    const holder = await pg.connect('postgres');
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [BACKUP_LOCK_KEY]);
      const r = agent(pg, dir, ['backup', '--name', 'second']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /another backup of this cluster is running/);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      await holder.end();
    }
  });

  it('keeps the replaced database, open for connections, when PGOPS_RESTORE_KEEP_PREVIOUS is set', async () => {
    const dir = tempDir();
    assert.equal(agent(pg, dir, ['backup', '--name', 'keep']).code, 0);
    await pg.query('INSERT INTO t VALUES (6)', [], 'app');
    const r = agent(pg, dir, ['restore', 'keep', '--replace', '--yes', '--no-safety-backup'], {
      PGOPS_RESTORE_KEEP_PREVIOUS: 'true',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /previous database kept as app__before_restore_/);
    const [kept] = await pg.query<{ datname: string; datallowconn: boolean }>(
      `SELECT datname, datallowconn FROM pg_database WHERE datname LIKE 'app\\_\\_before\\_restore\\_%'`,
    );
    assert.equal(kept!.datallowconn, true);
    const [old] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM t', [], kept!.datname);
    assert.equal(old!.n, '6');
    const [now] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM t', [], 'app');
    assert.equal(now!.n, '5');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('pre-restore')),
      [],
    );
  });
});
