/**
 * Plain SQL restores run psql, and psql runs meta-commands (`\!` is a shell, as the user running the
 * restore). Only what pg_dump writes may pass: real pg_dump and pg_dumpall output, hostile scripts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { scriptGate } from '../../src/runtime/backup/plain-script.js';
import { cleanupAll } from '../support/cleanup.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

describe('restoring plain SQL scripts', () => {
  let pg: PgServer;
  let dir: string;
  let marker: string;
  const agent = (args: string[]) => runAgentSync(args, backupAgentEnv(pg, dir));
  const dbExists = async (db: string) =>
    (await pg.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).length === 1;
  const pgDump = (args: string[], tool = 'pg_dump') => {
    const r = spawnSync(join(pg.binDir, tool), args, { env: pg.pgEnv('app'), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  before(async () => {
    pg = await startPostgres();
    dir = tempDir();
    marker = join(tempDir(), 'ran');
    await pg.query('CREATE DATABASE app');
    // Values that put backslashes where a careless check would see meta-commands: COPY data lines
    // starting with a backslash, strings and identifiers holding "\!" and "\.".
    await pg.query(
      `CREATE TABLE notes (id int, body text);
       INSERT INTO notes VALUES (1, E'\\\\! id > ${marker}'), (2, E'\\\\.'), (3, 'line one\nline two');
       CREATE TABLE "odd\\!name" (x int); INSERT INTO "odd\\!name" VALUES (7);
       COMMENT ON TABLE notes IS 'see \\! below';
       CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT '\\! not run' $$;`,
      [],
      'app',
    );
  });

  it('restores what pg_dump wrote, backslashes in data, names and comments included', async () => {
    const file = join(dir, 'real.sql');
    writeFileSync(file, pgDump(['-d', 'app']));
    assert.match(readFileSync(file, 'utf8'), /^\\restrict /m, 'this pg_dump writes \\restrict');
    const r = agent(['restore', file, '--target-database', 'app_real']);
    assert.equal(r.code, 0, r.stderr);
    const rows = await pg.query<{ body: string }>('SELECT body FROM notes ORDER BY id', [], 'app_real');
    assert.deepEqual(
      rows.map((x) => x.body),
      [`\\! id > ${marker}`, '\\.', 'line one\nline two'],
    );
    assert.equal((await pg.query('SELECT x FROM "odd\\!name"', [], 'app_real')).length, 1);
    assert.equal(existsSync(marker), false);
  });

  it('refuses a shell escape at the start of a line before anything runs, naming the line and the command', async () => {
    const file = join(dir, 'shell.sql');
    const lines = pgDump(['-d', 'app']).split('\n');
    lines.splice(12, 0, `\\! id > ${marker}`);
    writeFileSync(file, lines.join('\n'));
    const r = agent(['restore', file, '--target-database', 'app_shell']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`${file} line 13: the psql meta-command \\\\! \\("\\\\! id > `));
    assert.equal(existsSync(marker), false);
    assert.equal(await dbExists('app_shell'), false);
    assert.equal(await dbExists('app_shell__restoring'), false);
  });

  it('refuses meta-commands hidden in the middle of a line, and in gzip-compressed scripts', async () => {
    const mid = join(dir, 'mid.sql');
    writeFileSync(mid, `CREATE TABLE t (x int);\nINSERT INTO t VALUES (1); \\! touch ${marker}\n`);
    const r = agent(['restore', mid, '--target-database', 'app_mid']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /mid\.sql line 2: the psql meta-command \\!/);

    const gz = join(dir, 'hidden.sql.gz');
    writeFileSync(gz, gzipSync(`SELECT 1;\nSELECT 'x' \\o |touch ${marker}\n`));
    const z = agent(['restore', gz, '--target-database', 'app_gz']);
    assert.equal(z.code, 3, z.stderr);
    assert.match(z.stderr, /hidden\.sql\.gz line 2: the psql meta-command \\o/);
    assert.equal(existsSync(marker), false);
    assert.equal(await dbExists('app_mid'), false);
    assert.equal(await dbExists('app_gz'), false);
  });

  it('refuses a pg_dumpall script (exit 2) naming the line of its first \\connect', async () => {
    const file = join(dir, 'all.sql');
    const all = pgDump(['--no-role-passwords'], 'pg_dumpall');
    writeFileSync(file, all);
    const line = all.split('\n').findIndex((l) => l.startsWith('\\connect')) + 1;
    const r = agent(['restore', file, '--target-database', 'app_all']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`all\\.sql line ${line}: \\\\connect switches to another database`));
    assert.equal(await dbExists('app_all'), false);
  });

  it("stops a meta-command the check could not see, with psql's restricted mode", async () => {
    // The script turns standard_conforming_strings off through a function call, so psql reads the
    // quotes differently from the check: \! is in a string for the check, not for psql.
    const file = join(dir, 'sneaky.sql');
    writeFileSync(
      file,
      `SELECT set_config('standard_conforming_strings', 'off', false);\nSELECT 'a\\' ; SELECT ' \\! touch ${marker}';\n`,
    );
    const r = agent(['restore', file, '--target-database', 'app_sneaky']);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /backslash commands are restricted/);
    assert.equal(existsSync(marker), false);
    assert.equal(await dbExists('app_sneaky'), false);
  });

  it('refuses a backup whose globals file was changed, and never runs a meta-command or a second statement from it', async () => {
    assert.equal(agent(['backup', '--name', 'withglobals']).code, 0);
    const globals = join(dir, 'withglobals.globals.sql');
    const original = readFileSync(globals, 'utf8');
    appendFileSync(globals, `CREATE ROLE sneaky; COPY (SELECT 1) TO PROGRAM 'touch ${marker}';\n`);
    const r = agent(['restore', 'withglobals', '--target-database', 'app_globals']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /the globals file .*withglobals\.globals\.sql of backup withglobals does not match its manifest/,
    );
    // --force accepts the changed checksum, but the second statement on the role line is not run.
    const forced = agent(['restore', 'withglobals', '--target-database', 'app_globals', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(existsSync(marker), false);
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_roles WHERE rolname = 'sneaky'`), []);

    writeFileSync(globals, `${original}\\! touch ${marker}\n`);
    const meta = agent(['restore', 'withglobals', '--target-database', 'app_globals2', '--force']);
    assert.equal(meta.code, 3, meta.stderr);
    assert.match(meta.stderr, /globals file .*withglobals\.globals\.sql line \d+: the psql meta-command \\!/);
    assert.equal(existsSync(marker), false);
    assert.equal(await dbExists('app_globals2'), false);
  });

  it("blanks pg_dump's \\restrict lines for psql and stops the stream at a meta-command", async () => {
    const gate = (s: string) => text(Readable.from([Buffer.from(s)]).pipe(scriptGate('x.sql')));
    assert.equal(await gate('\\restrict abc\nSELECT 1;\n\\unrestrict abc\n'), '\nSELECT 1;\n\n');
    await assert.rejects(gate('SELECT 1;\n\\! id\n'), /x\.sql line 2: the psql meta-command \\!/);
  });
});
