import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { eventually } from '../support/eventually.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';
import { agentMain } from '../support/tools.js';

after(cleanupAll);

function agent(pg: PgServer, dir: string, args: string[], extra: Record<string, string> = {}) {
  return runAgentSync(args, backupAgentEnv(pg, dir, extra));
}

const count = async (pg: PgServer, db = 'app') =>
  Number((await pg.query<{ n: string }>('SELECT count(*) AS n FROM big', [], db))[0]!.n);

describe('backup faults', () => {
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres();
    await pg.query('CREATE DATABASE app');
    await pg.query('CREATE DATABASE small');
    await pg.query('CREATE TABLE s (x int); INSERT INTO s SELECT generate_series(1, 10)', [], 'small');
    // About 25 MB of poorly compressible text: pg_dump streams it for a while.
    await pg.query(
      `CREATE TABLE big AS SELECT i, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text) AS t
         FROM generate_series(1, 250000) i`,
      [],
      'app',
    );
  });

  it('leaves nothing listed when the backup is killed half way, and the next run cleans up and succeeds', async () => {
    const dir = tempDir();
    assert.equal(agent(pg, dir, ['backup', '--name', 'earlier'], { PGOPS_APP_DATABASE: 'small' }).code, 0);
    const child = spawn(process.execPath, [agentMain, 'backup', '--name', 'killed'], {
      env: backupAgentEnv(pg, dir, { PGOPS_BACKUP_COMPRESSION: '0' }),
      stdio: 'ignore',
    });
    const partial = join(dir, '.killed.dump.partial');
    await eventually(
      'pg_dump has streamed 1 MiB',
      () => existsSync(partial) && statSync(partial).size > 1024 * 1024,
      {
        timeoutMs: 30_000,
        intervalMs: 10,
      },
    );
    assert.ok(statSync(partial).size > 0, 'pg_dump was streaming when the agent was killed');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(existsSync(join(dir, 'killed.manifest.json')), false);

    const list = JSON.parse(agent(pg, dir, ['list-backups', '-o', 'json']).stdout);
    assert.deepEqual(
      list.map((b: { name: string }) => b.name),
      ['earlier'],
    );
    const next = agent(pg, dir, ['backup', '--name', 'next'], { PGOPS_APP_DATABASE: 'small' });
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr + next.stdout, /interrupted backup/);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.')),
      [],
    );
    const v = agent(pg, dir, ['verify', '--all']);
    assert.equal(v.code, 0, v.stderr);
  });

  it('fails verification naming the file, and refuses to restore it, when one byte of a backup is flipped', async () => {
    const dir = tempDir();
    assert.equal(agent(pg, dir, ['backup', '--name', 'flipped'], { PGOPS_APP_DATABASE: 'small' }).code, 0);
    const file = join(dir, 'flipped.dump');
    const data = readFileSync(file);
    const at = Math.floor(data.length / 2);
    data[at] = data[at]! ^ 0xff;
    writeFileSync(file, data);

    const v = agent(pg, dir, ['verify', 'flipped']);
    assert.equal(v.code, 1, v.stderr);
    assert.match(v.stderr, new RegExp(`${file}.*sha256 mismatch`));
    const list = JSON.parse(agent(pg, dir, ['list-backups', '-o', 'json']).stdout);
    assert.equal(list[0].verified, false);

    await pg.query('INSERT INTO s VALUES (11)', [], 'small');
    const r = agent(pg, dir, ['restore', 'flipped', '--replace', '--yes']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /does not match its manifest/);
    assert.equal((await pg.query('SELECT * FROM s', [], 'small')).length, 11);

    const forced = agent(pg, dir, ['restore', 'flipped', '--force', '--target-database', 'small_forced']);
    assert.notEqual(forced.code, 3, forced.stderr);
    assert.match(forced.stderr, /restoring anyway because of --force/);
  });

  it('reports no space naming the directory, leaves no partial file, and keeps older backups when the volume is full (parallel too)', async (t) => {
    const base = tempDir();
    const dir = join(base, 'vol');
    mkdirSync(dir);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { encoding: 'utf8' });
    if (m.status !== 0) {
      t.skip(`cannot mount a tmpfs here (${m.stderr.trim()}); run as root to exercise a real full volume`);
      return;
    }
    onCleanup(
      `umount ${dir}`,
      () => void spawnSync('umount', [dir]),
      () => void spawnSync('umount', [dir]),
    );
    assert.equal(agent(pg, dir, ['backup', '--name', 'older'], { PGOPS_APP_DATABASE: 'small' }).code, 0);
    const olderSha = JSON.parse(readFileSync(join(dir, 'older.manifest.json'), 'utf8')).sha256;

    for (const [name, args] of [
      ['toobig', []],
      ['toobig-parallel', ['--jobs', '2']],
    ] as const) {
      const r = agent(pg, dir, ['backup', '--name', name, ...args], { PGOPS_BACKUP_COMPRESSION: '0' });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /no space left on device/);
      assert.ok(r.stderr.includes(dir), r.stderr);
      assert.deepEqual(readdirSync(dir).sort(), ['older.dump', 'older.globals.sql', 'older.manifest.json']);
    }
    assert.equal(JSON.parse(readFileSync(join(dir, 'older.manifest.json'), 'utf8')).sha256, olderSha);
    assert.equal(agent(pg, dir, ['verify', 'older']).code, 0);
    const [h] = await pg.query<{ status: string }>(
      `SELECT status FROM pgops.backup_history WHERE name = 'toobig' ORDER BY id DESC LIMIT 1`,
    );
    assert.equal(h!.status, 'failure');
  });

  it('refuses a missing, empty or non-backup file with exit 2 and leaves the database unchanged', async () => {
    const dir = tempDir();
    const before = await count(pg);
    writeFileSync(join(dir, 'empty.sql.gz'), '');
    writeFileSync(join(dir, 'notes.txt'), 'just some notes\n');
    writeFileSync(join(dir, 'random.dump'), Buffer.from([0x00, 0x13, 0x37, 0xff, 0x00, 0x01]));
    for (const f of ['nope.sql.gz', 'empty.sql.gz', 'notes.txt', 'random.dump']) {
      const r = agent(pg, dir, ['restore', join(dir, f), '--replace', '--yes']);
      assert.equal(r.code, 2, `${f}: ${r.stderr}`);
      assert.match(r.stderr, /not found|empty|not a backup/, r.stderr);
      assert.match(r.stderr, /hint:/);
    }
    assert.equal(await count(pg), before);
    const dbs = await pg.query(`SELECT datname FROM pg_database WHERE datname LIKE 'app\\_\\_%'`);
    assert.deepEqual(dbs, []);
  });

  it('fails a restore whose gzip file is truncated even when the SQL read so far ran cleanly', async () => {
    const dir = tempDir();
    const sql = spawnSync(join(pg.binDir, 'pg_dump'), ['-d', 'small', '--no-owner'], {
      env: pg.pgEnv('small'),
    });
    assert.equal(sql.status, 0);
    const gz = gzipSync(sql.stdout);
    // Cut the gzip trailer (CRC and length): every SQL byte is there, but the file is damaged.
    writeFileSync(join(dir, 'cut.sql.gz'), gz.subarray(0, gz.length - 8));
    const r = agent(pg, dir, ['restore', join(dir, 'cut.sql.gz'), '--target-database', 'small_cut']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /damaged or truncated/);
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_database WHERE datname LIKE 'small\\_cut%'`), []);
  });

  it('leaves the original database untouched when the restore itself fails half way', async () => {
    const dir = tempDir();
    // A SQL script that fails after creating something: the whole restore must be undone.
    writeFileSync(
      join(dir, 'broken.sql'),
      '-- broken\nCREATE TABLE half (x int);\nSELECT no_such_function();\n',
    );
    const before = await count(pg);
    const r = agent(pg, dir, [
      'restore',
      join(dir, 'broken.sql'),
      '--replace',
      '--yes',
      '--no-safety-backup',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /was not changed/);
    assert.equal(await count(pg), before);
    const dbs = await pg.query(`SELECT datname FROM pg_database WHERE datname LIKE 'app\\_\\_%'`);
    assert.deepEqual(dbs, []);
  });
});
