/**
 * `restore PATH` restores the file at PATH: a backup in the backup directory that shares its base
 * name is never restored in its place.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { rowsOfT, startAppServer } from '../support/app-table.js';
import type { PgServer } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

describe('restore of an explicit path', () => {
  let pg: PgServer;
  let dir: string;
  const agent = (args: string[]) => runAgentSync(args, backupAgentEnv(pg, dir));
  const rows = (db: string) => rowsOfT(pg, db);

  before(async () => {
    ({ pg, dir } = await startAppServer(10));
    assert.equal(agent(['backup', '--name', 'critical']).code, 0);
    await pg.query('DELETE FROM t WHERE x > 3', [], 'app');
    assert.equal(agent(['backup', '--name', 'smaller']).code, 0);
  });

  it('restores the copy at PATH, not the catalog backup of the same name', async () => {
    const elsewhere = tempDir();
    const copy = join(elsewhere, 'critical.dump');
    copyFileSync(join(dir, 'smaller.dump'), copy);
    const r = agent(['restore', copy, '--target-database', 'app_copy']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no manifest for this file/);
    assert.equal(await rows('app_copy'), 3, 'the rows of the file at PATH');
  });

  it('fails on a damaged copy at PATH instead of restoring the intact catalog backup', async () => {
    const elsewhere = tempDir();
    const copy = join(elsewhere, 'critical.dump');
    const data = readFileSync(join(dir, 'critical.dump'));
    for (let i = Math.floor(data.length / 3); i < data.length - 8; i += 97) data[i] = data[i]! ^ 0x5a;
    writeFileSync(copy, data);
    const r = agent(['restore', copy, '--target-database', 'app_damaged']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, new RegExp(copy));
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_database WHERE datname = 'app_damaged'`), []);
  });

  it('refuses a path where no file is (exit 2), whatever backups of that name exist elsewhere', async () => {
    const missing = join(tempDir(), 'critical.dump');
    const r = agent(['restore', missing, '--target-database', 'app_missing']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`backup file ${missing} not found: it does not exist`));
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_database WHERE datname = 'app_missing'`), []);
  });

  it('refuses a restore given no backup (exit 2), saying what to type, and changes nothing', async () => {
    const r = agent(['restore', '--target-database', 'app_none']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no backup to restore was given/);
    assert.match(r.stderr, /postgres-agent restore NAME\|FILE\|URL/);
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_database WHERE datname = 'app_none'`), []);
  });

  it('takes a bare name for the backup of that name in the backup directory', async () => {
    const r = agent(['restore', 'critical', '--target-database', 'app_named']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await rows('app_named'), 10);
  });
});
