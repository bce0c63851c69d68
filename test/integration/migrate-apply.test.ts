/**
 * postgres-agent migrate against a real PostgreSQL: the built agent runs as a subprocess with its
 * env pointing at a server started for this file; each test migrates its own database.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ExecResult } from '../../src/runtime/exec.js';
import { cleanupAll } from '../support/cleanup.js';
import { eventually } from '../support/eventually.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { agentEnv, runAgent } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';
import { agentMain, chartDir } from '../support/tools.js';

after(cleanupAll);

let pg: PgServer;
let dbCounter = 0;

before(async () => {
  pg = await startPostgres({ name: 'migrate' });
});

/** A fresh application database and a migrations directory holding `files` for `version`. */
async function setup(version: string, files: Record<string, string>) {
  const db = `app_${++dbCounter}`;
  await pg.query(`CREATE DATABASE ${db}`);
  const dir = tempDir('pgops-migrations-');
  writeVersion(dir, version, files);
  return { db, dir };
}

function writeVersion(dir: string, version: string, files: Record<string, string>) {
  mkdirSync(join(dir, version), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, version, name), text);
}

function migrateEnv(db: string, dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return agentEnv(pg, {
    PGOPS_SUPERUSER: 'postgres',
    PGOPS_APP_DATABASE: db,
    PGOPS_MIGRATION_DIR: dir,
    PGOPS_MIGRATION_SAFETY_BACKUP: 'false',
    PGOPS_LOG_FORMAT: 'json',
    ...extra,
  });
}

function migrate(env: NodeJS.ProcessEnv, ...args: string[]): Promise<ExecResult> {
  return runAgent(['migrate', ...args], env);
}

function json(r: ExecResult) {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown> & { outcome: string; action: string };
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

async function tables(db: string): Promise<string[]> {
  const rows = await pg.query<{ t: string }>(
    `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
     WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    [],
    db,
  );
  return rows.map((r) => r.t);
}

async function history(db: string) {
  return pg.query<{
    version: string;
    checksum: string;
    files: { name: string; sha256: string }[];
    state: string;
    description: string;
  }>(
    'SELECT version, checksum, files, state, description FROM pgops.schema_migrations ORDER BY version',
    [],
    db,
  );
}

const usersFiles = {
  '001_users.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);\n',
  '002_roles.sql':
    "CREATE TABLE roles (name text PRIMARY KEY);\nINSERT INTO roles VALUES ('admin'), ('member');\n",
};

describe('postgres-agent migrate', () => {
  it('applies the files of a version in name order and records version, checksum and per-file sha256', async () => {
    const { db, dir } = await setup('2.0.0', usersFiles);
    const r = await migrate(
      migrateEnv(db, dir, { PGOPS_MIGRATION_DESCRIPTION: 'Add user management tables' }),
      '--version',
      '2.0.0',
      '-o',
      'json',
    );
    assert.equal(r.code, 0, r.stderr);
    const out = json(r);
    assert.equal(out.outcome, 'applied');
    assert.deepEqual(await tables(db), ['pgops.schema_migrations', 'public.roles', 'public.users']);
    const [row, ...rest] = await history(db);
    assert.equal(rest.length, 0);
    assert.equal(row!.version, '2.0.0');
    assert.equal(row!.state, 'applied');
    assert.equal(row!.description, 'Add user management tables');
    assert.equal(row!.checksum, out.checksum);
    assert.deepEqual(
      row!.files.map((f) => f.name),
      ['001_users.sql', '002_roles.sql'],
    );
    assert.match(row!.files[0]!.sha256, /^[0-9a-f]{64}$/);
    const logs = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const applied = logs.filter((l) => l.msg === 'applied migration file');
    assert.deepEqual(
      applied.map((l) => [l.file, l.statements]),
      [
        ['001_users.sql', 1],
        ['002_roles.sql', 2],
      ],
    );
  });

  it('treats re-running an applied version with the same files as a no-op that says so, without a backup', async () => {
    const { db, dir } = await setup('2.0.0', usersFiles);
    const env = migrateEnv(db, dir, { PGOPS_MIGRATION_VERSION: '2.0.0' });
    assert.equal((await migrate(env)).code, 0);
    // A safety backup would fail here (unusable directory): nothing to apply means none is taken.
    const again = await migrate({
      ...env,
      PGOPS_MIGRATION_SAFETY_BACKUP: 'true',
      PGOPS_BACKUP_DIR: '/dev/null/backups',
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already applied/);
    assert.equal((await history(db)).length, 1);
    assert.deepEqual(await pg.query('SELECT name FROM roles ORDER BY name', [], db), [
      { name: 'admin' },
      { name: 'member' },
    ]);
  });

  it('leaves no trace of earlier files when a statement in the third file fails, and names file and line', async () => {
    const { db, dir } = await setup('3.0.0', {
      ...usersFiles,
      '003_bad.sql':
        '-- add a column\nALTER TABLE users\n  ADD COLUMN name text;\nSELECT no_such_column FROM users;\n',
    });
    const r = await migrate(migrateEnv(db, dir), '--version', '3.0.0');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /003_bad\.sql at line 4, column 8: column "no_such_column" does not exist/);
    assert.match(r.stderr, /nothing from version 3\.0\.0 was applied/);
    assert.match(r.stderr, /hint: Fix 003_bad\.sql/);
    assert.deepEqual(await tables(db), [], 'no table of the version and no history table');
  });

  it('serialises two concurrent runs: both succeed, one applies, the other finds it applied', async () => {
    const { db, dir } = await setup('2.0.0', usersFiles);
    // Hold the lock so that both runs are certainly waiting at the same time, then let go.
    const holder = await pg.connect(db);
    await holder.query('SELECT pg_advisory_lock(8099564983612696935)');
    const env = migrateEnv(db, dir, { PGOPS_MIGRATION_VERSION: '2.0.0' });
    const runs = [migrate(env, '-o', 'json'), migrate(env, '-o', 'json')];
    await eventually(
      'both runs wait for the migration lock',
      async () => {
        const { rows } = await holder.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        );
        return rows[0]!.n >= 2;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    await holder.query('SELECT pg_advisory_unlock_all()');
    await holder.end();
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results.map((r) => json(r).outcome).sort(), ['already-applied', 'applied']);
    assert.ok(results.some((r) => r.stderr.includes('another migration is running')));
    assert.equal((await history(db)).length, 1);
  });

  it('refuses with exit 3 to re-apply a version whose file changed, naming the file', async () => {
    const { db, dir } = await setup('2.0.0', usersFiles);
    const env = migrateEnv(db, dir, { PGOPS_MIGRATION_VERSION: '2.0.0' });
    assert.equal((await migrate(env)).code, 0);
    writeFileSync(
      join(dir, '2.0.0', '002_roles.sql'),
      'CREATE TABLE roles (name text PRIMARY KEY, level int);\n',
    );
    const r = await migrate(env, '-o', 'json');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /002_roles\.sql \(changed\)/);
    assert.match(r.stderr, /hint: .*new version/);
    assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'E_MIGRATION_CHANGED');
    assert.deepEqual(
      await pg.query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'roles'",
        [],
        db,
      ),
      [{ n: 1 }],
    );
  });

  it('prints the plan on --dry-run and changes nothing, not even the history table', async () => {
    const { db, dir } = await setup('2.0.0', usersFiles);
    const env = migrateEnv(db, dir, { PGOPS_MIGRATION_VERSION: '2.0.0' });
    const r = await migrate(env, '--dry-run', '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    const plan = json(r) as unknown as {
      outcome: string;
      action: string;
      files: { name: string; run: boolean; sha256: string }[];
    };
    assert.equal(plan.outcome, 'dry-run');
    assert.equal(plan.action, 'apply');
    assert.deepEqual(
      plan.files.map((f) => [f.name, f.run]),
      [
        ['001_users.sql', true],
        ['002_roles.sql', true],
      ],
    );
    assert.deepEqual(await tables(db), []);
    assert.deepEqual(await pg.query("SELECT nspname FROM pg_namespace WHERE nspname = 'pgops'", [], db), []);
    assert.equal((await migrate(env)).code, 0);
    const after = await migrate(env, '--dry-run');
    assert.equal(after.code, 0);
    assert.match(after.stdout, /would do nothing \(already applied\)/);
  });

  it('runs a no-transaction file after the transaction, one statement at a time (CREATE INDEX CONCURRENTLY)', async () => {
    const { db, dir } = await setup('4.0.0', {
      ...usersFiles,
      '900_index.sql':
        '-- pgops:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_lower ON users (lower(email));\nCREATE INDEX CONCURRENTLY IF NOT EXISTS roles_name_lower ON roles (lower(name));\n',
    });
    const r = await migrate(migrateEnv(db, dir), '--version', '4.0.0');
    assert.equal(r.code, 0, r.stderr);
    const idx = await pg.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_lower' ORDER BY 1",
      [],
      db,
    );
    assert.deepEqual(
      idx.map((i) => i.indexname),
      ['roles_name_lower', 'users_email_lower'],
    );
    assert.equal((await history(db))[0]!.state, 'applied');
  });

  it('records a version as partial when a no-transaction file fails, and completes it once that file is fixed', async () => {
    const { db, dir } = await setup('4.1.0', {
      ...usersFiles,
      '900_index.sql': '-- pgops:no-transaction\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n',
    });
    const env = migrateEnv(db, dir, { PGOPS_MIGRATION_VERSION: '4.1.0' });
    const failed = await migrate(env);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(
      failed.stderr,
      /failed in 900_index\.sql, statement starting at line 2: column "name" does not exist/,
    );
    assert.match(failed.stderr, /recorded as partial/);
    assert.equal((await history(db))[0]!.state, 'partial');
    assert.deepEqual(await tables(db), ['pgops.schema_migrations', 'public.roles', 'public.users']);
    writeFileSync(
      join(dir, '4.1.0', '900_index.sql'),
      '-- pgops:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);\n',
    );
    const resumed = await migrate(env, '-o', 'json');
    assert.equal(resumed.code, 0, resumed.stderr);
    const out = json(resumed) as unknown as {
      outcome: string;
      checksum: string;
      files: { name: string; run: boolean }[];
    };
    assert.equal(out.outcome, 'resumed');
    assert.deepEqual(
      out.files.map((f) => [f.name, f.run]),
      [
        ['001_users.sql', false],
        ['002_roles.sql', false],
        ['900_index.sql', true],
      ],
    );
    const [row] = await history(db);
    assert.equal(row!.state, 'applied');
    assert.equal(row!.checksum, out.checksum);
    assert.deepEqual(
      await pg.query("SELECT indexname FROM pg_indexes WHERE indexname = 'users_email_idx'", [], db),
      [{ indexname: 'users_email_idx' }],
    );
    assert.equal(json(await migrate(env, '-o', 'json')).outcome, 'already-applied');
  });

  it('waits for a primary that is not up yet, and gives up with a hint when told not to wait', async () => {
    const { db, dir } = await setup('2.0.0', usersFiles);
    const env = migrateEnv(db, dir, { PGOPS_MIGRATION_VERSION: '2.0.0' });
    await pg.stop();
    let up = false;
    try {
      const noWait = await migrate({ ...env, PGOPS_MIGRATION_WAIT_SECONDS: '0' });
      assert.equal(noWait.code, 1);
      assert.match(
        noWait.stderr,
        new RegExp(`cannot connect to database ${db} on 127\\.0\\.0\\.1:${pg.port}`),
      );
      assert.match(noWait.stderr, /hint: Check that the primary is running/);
      let saidWaiting: () => void = () => undefined;
      const waiting = new Promise<void>((r) => (saidWaiting = r));
      const run = runAgent(
        ['migrate'],
        { ...env, PGOPS_MIGRATION_WAIT_SECONDS: '120' },
        {
          onStderr: (chunk) => {
            if (chunk.includes('to accept connections')) saidWaiting();
          },
        },
      );
      await Promise.race([waiting, run]);
      await pg.start();
      up = true;
      const r = await run;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /waiting for database app_\d+ on 127\.0\.0\.1:\d+ to accept connections/);
    } finally {
      if (!up) await pg.start();
    }
    assert.equal((await history(db)).length, 1);
  });

  it('refuses a file that contains COMMIT before running anything (exit 2)', async () => {
    const { db, dir } = await setup('5.0.0', {
      '001.sql': 'CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n',
    });
    const r = await migrate(migrateEnv(db, dir), '--version', '5.0.0');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /001\.sql contains COMMIT/);
    assert.deepEqual(await tables(db), []);
  });

  it('says which versions exist when the requested one has no directory (exit 2)', async () => {
    const { db, dir } = await setup('2.0.0', usersFiles);
    const r = await migrate(migrateEnv(db, dir), '--version', '2.0.1');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no migration files for version 2\.0\.1/);
    assert.match(r.stderr, /Versions found in .*: 2\.0\.0/);
  });

  it('applies nothing when the safety backup fails, and says how to proceed, printing its error once', async () => {
    const { db, dir } = await setup('2.0.0', usersFiles);
    // A backup directory that cannot exist makes any backup implementation fail.
    const env = migrateEnv(db, dir, {
      PGOPS_MIGRATION_VERSION: '2.0.0',
      PGOPS_MIGRATION_SAFETY_BACKUP: 'true',
      PGOPS_BACKUP_DIR: '/dev/null/backups',
    });
    const r = await migrate(env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /safety backup pre-migration-2\.0\.0-\d{8}_\d{6} failed, so migration 2\.0\.0 was not applied/,
    );
    assert.match(r.stderr, /migration\.safetyBackup=false/);
    // The backup's own error is said once, inside the migration's; not relayed again before it.
    assert.equal(r.stderr.match(/ENOTDIR/g)?.length, 1, r.stderr);
    assert.equal(r.stderr.match(/^error: /gm)?.length, 1, r.stderr);
    assert.deepEqual(await tables(db), []);
  });

  it("applies the chart's 2.0.0 files from a ConfigMap-style mount and hands the tables to the database owner", async () => {
    const db = `app_${++dbCounter}`;
    await pg.query("CREATE ROLE pyairtable LOGIN PASSWORD 'app'");
    await pg.query(`CREATE DATABASE ${db} OWNER pyairtable`);
    // What the kubelet makes of a ConfigMap volume: a hidden timestamped directory, a ..data
    // symlink to it, and one symlink per key.
    const dir = tempDir('pgops-migrations-');
    const mount = join(dir, '2.0.0');
    const stamped = join(mount, '..2026_11_25_02_00_00.000000001');
    mkdirSync(stamped, { recursive: true });
    const shipped = join(chartDir, 'files', 'migrations', '2.0.0');
    for (const f of readdirSync(shipped)) writeFileSync(join(stamped, f), readFileSync(join(shipped, f)));
    symlinkSync('..2026_11_25_02_00_00.000000001', join(mount, '..data'));
    for (const f of readdirSync(shipped)) symlinkSync(join('..data', f), join(mount, f));
    const env = migrateEnv(db, dir, {
      PGOPS_MIGRATION_VERSION: '2.0.0',
      PGOPS_MIGRATION_DESCRIPTION: 'Add user management tables',
    });
    const r = await migrate(env, '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    const out = json(r) as unknown as { files: { name: string; statements: number }[] };
    assert.deepEqual(
      out.files.map((f) => f.name),
      ['001_users.sql', '002_roles.sql', '003_owner.sql'],
    );
    const owners = await pg.query<{ t: string; owner: string }>(
      "SELECT tablename AS t, tableowner AS owner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
      [],
      db,
    );
    assert.deepEqual(owners, [
      { t: 'roles', owner: 'pyairtable' },
      { t: 'user_roles', owner: 'pyairtable' },
      { t: 'users', owner: 'pyairtable' },
    ]);
    // The application role can write to them (including the identity sequences).
    const asApp = await pg.connect(db);
    try {
      await asApp.query('SET ROLE pyairtable');
      await asApp.query("INSERT INTO users (email) VALUES ('a@example.com')");
      assert.equal((await asApp.query('SELECT count(*)::int AS n FROM users')).rows[0].n, 1);
    } finally {
      await asApp.end();
    }
    assert.deepEqual(await pg.query('SELECT name FROM roles ORDER BY name', [], db), [
      { name: 'admin' },
      { name: 'editor' },
      { name: 'viewer' },
    ]);
    assert.equal((await migrate(env)).code, 0);
    assert.equal((await history(db)).length, 1);
  });

  const backupPlaceholder = (() => {
    const src = join(agentMain, '..', 'commands', 'backup.js');
    return existsSync(src) && readFileSync(src, 'utf8').includes('backup is not implemented yet');
  })();

  it(
    'takes a safety backup that rolls the database back to its pre-migration state (the documented commands)',
    { skip: backupPlaceholder && 'postgres-agent backup is still a placeholder ("not implemented yet")' },
    async () => {
      const { db, dir } = await setup('2.0.0', usersFiles);
      await pg.query('CREATE TABLE existing (id int); INSERT INTO existing VALUES (1), (2)', [], db);
      const backups = tempDir('pgops-backups-');
      const env = migrateEnv(db, dir, {
        PGOPS_MIGRATION_VERSION: '2.0.0',
        PGOPS_MIGRATION_SAFETY_BACKUP: 'true',
        PGOPS_BACKUP_DIR: backups,
      });
      const r = await migrate(env, '-o', 'json');
      assert.equal(r.code, 0, r.stderr);
      const name = (json(r) as unknown as { safetyBackup: string }).safetyBackup;
      assert.match(name, /^pre-migration-2\.0\.0-\d{8}_\d{6}$/);
      const agent = (...args: string[]) => runAgent(args, env);
      // docs/migrations.md: find the backup, then restore it over the application database.
      const listed = await agent('list-backups', '-o', 'json');
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok((JSON.parse(listed.stdout) as { name: string }[]).some((b) => b.name === name));
      const rr = await agent('restore', name, '--replace', '--yes');
      assert.equal(rr.code, 0, rr.stderr);
      assert.deepEqual(await tables(db), ['public.existing']);
      assert.deepEqual(await pg.query('SELECT count(*)::int AS n FROM existing', [], db), [{ n: 2 }]);
      // The history went back with the data, so the fixed version can be shipped again.
      const again = await migrate({ ...env, PGOPS_MIGRATION_SAFETY_BACKUP: 'false' }, '-o', 'json');
      assert.equal(again.code, 0, again.stderr);
      assert.equal(json(again).outcome, 'applied');
    },
  );
});
