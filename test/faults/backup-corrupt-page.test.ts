/**
 * A table with a damaged page (test servers have data checksums, as the instance's initdb): the
 * backup fails with an error that names the table, the block and the failure, and says what to do;
 * the first error printed is that cause, never the follow-on "could not import the requested
 * snapshot" of another connection. Nothing is listed, nothing is left behind, the outcome is recorded.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

const PAGE = 8192;

describe('backup of a database with a damaged page', () => {
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres();
    await pg.query('CREATE DATABASE app');
    await pg.query(
      `CREATE TABLE accounts (id int PRIMARY KEY, name text);
       INSERT INTO accounts SELECT i, 'name ' || i FROM generate_series(1, 20000) i;
       CREATE SCHEMA billing;
       CREATE TABLE billing.invoices (id int PRIMARY KEY, amount numeric, note text);
       INSERT INTO billing.invoices SELECT i, i * 1.5, md5(i::text) FROM generate_series(1, 20000) i;
       CREATE TABLE zz_after (x int); INSERT INTO zz_after SELECT generate_series(1, 1000);`,
      [],
      'app',
    );
    const [{ path }] = (await pg.query<{ path: string }>(
      `SELECT pg_relation_filepath('billing.invoices') AS path`,
      [],
      'app',
    )) as [{ path: string }];
    // Stopped, so that the page is read back from disk: overwrite bytes in the middle of block 0
    // (its header stays valid; its checksum no longer matches).
    await pg.stop();
    const fd = openSync(join(pg.dataDir, path), 'r+');
    try {
      writeSync(fd, Buffer.alloc(64, 0x41), 0, 64, PAGE / 2);
    } finally {
      closeSync(fd);
    }
    await pg.start();
  });

  for (const [mode, args] of [
    ['one archive', []],
    ['parallel dump', ['--jobs', '2']],
  ] as const) {
    it(`names the table, the block and the checksum failure, with what to do (${mode})`, async () => {
      const dir = tempDir();
      const name = `damaged-${args.length ? 'parallel' : 'single'}`;
      const r = runAgentSync(['backup', '--name', name, ...args], backupAgentEnv(pg, dir));
      assert.equal(r.code, 1, r.stderr);
      const errorLine = r.stderr.split('\n').find((l) => /^error: /.test(l)) ?? '';
      assert.match(errorLine, /billing\.invoices/, r.stderr);
      assert.match(errorLine, /block 0\b/);
      assert.match(errorLine, /checksum/);
      // The first problem reported at all (the log line, then the error) is this cause.
      const firstProblem = r.stderr.split('\n').find((l) => / ERROR |^error: /.test(l)) ?? '';
      assert.match(firstProblem, /billing\.invoices/, r.stderr);
      assert.doesNotMatch(r.stderr, /could not import the requested snapshot/i);
      const hint = r.stderr.split('\n').find((l) => /^hint: /.test(l)) ?? '';
      assert.match(hint, /amcheck/);
      assert.match(hint, /verify_heapam\('billing\.invoices'\)/);
      assert.match(hint, /last good backup/);
      assert.doesNotMatch(errorLine + hint, /retry|try again/i);

      assert.deepEqual(readdirSync(dir), [], 'nothing is left behind');
      const [h] = await pg.query<{ status: string; error: string }>(
        `SELECT status, error FROM pgops.backup_history WHERE name = $1`,
        [name],
      );
      assert.equal(h?.status, 'failure');
      assert.match(h.error, /billing\.invoices/);
    });
  }
});
