/**
 * postgres-agent repair puts back what an interrupted restore left, and only that: a database that
 * merely ends in `__restoring` without our mark is somebody's, never dropped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { restoringMark } from '../../src/core/backup/interrupted-restore.js';
import { cleanupAll } from '../support/cleanup.js';
import { startAppServer } from '../support/app-table.js';
import type { PgServer } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';

after(cleanupAll);

describe('repairing an interrupted restore', () => {
  let pg: PgServer;
  let dir: string;
  const agent = (args: string[]) => runAgentSync(args, backupAgentEnv(pg, dir));
  const databases = async () =>
    (
      await pg.query<{ datname: string; datallowconn: boolean }>(
        `SELECT datname, datallowconn FROM pg_database WHERE datname LIKE 'app%' ORDER BY datname`,
      )
    ).map((d) => [d.datname, d.datallowconn]);

  before(async () => {
    ({ pg, dir } = await startAppServer(42));
    assert.equal(agent(['backup', '--name', 'base']).code, 0);
  });

  it('reopens a database fenced next to its marked copy and drops the copy, keeping the data', async () => {
    // What a restore killed between fence and swap leaves.
    await pg.query('CREATE DATABASE app__restoring');
    await pg.query(`COMMENT ON DATABASE app__restoring IS '${restoringMark('app')}'`);
    await pg.query('ALTER DATABASE app ALLOW_CONNECTIONS false');
    const r = agent(['repair', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { repaired: { database: string; kind: string }[] };
    assert.deepEqual(
      out.repaired.map((x) => [x.kind, x.database]),
      [['fenced', 'app']],
    );
    assert.deepEqual(await databases(), [['app', true]]);
    assert.equal((await pg.query('SELECT * FROM t', [], 'app')).length, 42);
    assert.match(agent(['repair']).stdout, /nothing to repair/);
  });

  it('never drops a database that only looks like a copy, and restore refuses (exit 3) rather than drop it', async () => {
    await pg.query('CREATE DATABASE app__restoring');
    await pg.query('CREATE TABLE precious (x int); INSERT INTO precious VALUES (1)', [], 'app__restoring');
    const r = agent(['repair', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { repaired: unknown[]; remaining: { database: string }[] };
    assert.deepEqual(out.repaired, []);
    assert.deepEqual(
      out.remaining.map((x) => x.database),
      ['app'],
    );
    const restore = agent(['restore', 'base', '--replace', '--yes']);
    assert.equal(restore.code, 3, restore.stderr);
    assert.match(
      restore.stderr,
      /database app__restoring exists and is not a copy left by a restore of ours/,
    );
    assert.equal((await pg.query('SELECT * FROM precious', [], 'app__restoring')).length, 1);
    assert.deepEqual(await databases(), [
      ['app', true],
      ['app__restoring', true],
    ]);
  });
});
