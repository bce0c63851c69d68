/**
 * postgres-ops in local mode as a newcomer uses it: where connect lands and what backups cover,
 * errors printed once, monitor's view, restores from the three object stores with local settings,
 * schema migrations and backup retention. Real instances (a primary and a streaming replica), real
 * agents, real object store servers (s3rver, Azurite, the GCS stand-in). One cluster for the file.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { startAzurite, startFakeGcs, startS3 } from '../support/objectstores.js';
import { runAgent } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';
import { opsMain } from '../support/tools.js';

after(cleanupAll);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let stateDir = '';

/** postgres-ops with only PATH and HOME from this process, plus `env`. */
function ops(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [opsMain, ...args, '--state-dir', stateDir],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        maxBuffer: 32 * 1024 * 1024,
        timeout: 300_000,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input ?? '');
  });
}

async function opsJson<T>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const r = await ops([...args, '-o', 'json'], env);
  assert.equal(r.code, 0, `postgres-ops ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const password = () => readFileSync(join(stateDir, 'secrets', 'superuser-password'), 'utf8').trim();

let primaryPort = 0;

async function withClient<T>(
  database: string,
  fn: (c: pg.Client) => Promise<T>,
  applicationName = 'pgops-test',
): Promise<T> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: primaryPort,
    user: 'postgres',
    password: password(),
    database,
    application_name: applicationName,
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

const count = async (table: string) =>
  withClient('pyairtable', async (c) =>
    Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n),
  );

/** Kills whatever the state folder's pid files name (at exit, even when a test failed). */
function killAllSync(dir: string) {
  for (const f of ['postgres-0', 'postgres-1', 'exporter']) {
    for (const file of [join(dir, 'run', `${f}.pid`), join(dir, 'data', f, 'postmaster.pid')]) {
      try {
        const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        /* none, or gone */
      }
    }
  }
}

/** Sends every verified local backup to an object store, as the chart's sync CronJob does. */
async function syncTo(env: Record<string, string>) {
  const r = await runAgent(['sync'], {
    PATH: process.env.PATH,
    PGOPS_BACKUP_DIR: join(stateDir, 'backups'),
    PGOPS_LOG_FORMAT: 'text',
    ...env,
  });
  assert.equal(r.code, 0, r.stderr);
}

interface Status {
  instances: { name: string; role: string; uri: string; appUri?: string }[];
  databases: { application: string; backedUp: string[] } | null;
}

describe('postgres-ops local mode for a newcomer', () => {
  before(async () => {
    stateDir = join(tempDir('pgops-local-cli-'), 'state');
    const dir = stateDir;
    onCleanup(
      'local destroy',
      async () => {
        if (existsSync(dir)) await ops(['local', 'destroy', '--yes']);
        killAllSync(dir);
      },
      () => killAllSync(dir),
    );
    const r = await ops(['local', 'up']);
    assert.equal(r.code, 0, r.stderr);
    // The Connect line lands in the application database, and says what backups cover.
    const m =
      /Connect: {2}psql "(postgresql:\/\/postgres@127\.0\.0\.1:(\d+)\/pyairtable\?passfile=[^"]+)"/.exec(
        r.stdout,
      );
    assert.ok(m, r.stdout);
    primaryPort = Number(m[2]);
    assert.match(
      r.stdout,
      /^Database: pyairtable \(backups cover database pyairtable; tables created in other databases, such as postgres, are not backed up\)$/m,
    );
  });

  it('connect lands in the application database: a table created there is in the next backup and comes back after a restore', async () => {
    const r = await ops(
      ['connect'],
      {},
      'CREATE TABLE newcomer (id int); INSERT INTO newcomer SELECT generate_series(1, 42); SELECT current_database();\n',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ pyairtable$/m);
    assert.match(
      r.stderr,
      /^connecting to postgres-0, database pyairtable \(postgresql:\/\/.*\/pyairtable\?/m,
    );
    assert.match(r.stderr, /^backups cover database pyairtable$/m);
    assert.equal((await ops(['backup', 'newcomer-backup'])).code, 0);
    await withClient('pyairtable', (c) => c.query('DROP TABLE newcomer'));
    const restored = await ops(['restore', 'newcomer-backup', '--yes']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(await count('newcomer'), 42);
  });

  it('connect --database opens another database and says it is not backed up; an unknown one is exit 2', async () => {
    const r = await ops(['connect', '--database', 'postgres'], {}, 'SELECT current_database();\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ postgres$/m);
    assert.match(r.stderr, /^note: postgres is not backed up \(backups cover database pyairtable\)/m);
    const bad = await ops(['connect', '--database', 'nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: there is no database "nope" on postgres-0$/m);
    assert.match(
      bad.stderr,
      /^hint: Databases: postgres, pyairtable\. Without --database, connect opens pyairtable\.$/m,
    );
  });

  it('status -o json keeps uri (database postgres) and adds appUri and databases', async () => {
    const s = await opsJson<Status>(['status']);
    for (const i of s.instances) {
      assert.match(i.uri, /\/postgres\?passfile=/);
      assert.equal(i.appUri, i.uri.replace('/postgres?', '/pyairtable?'));
    }
    assert.deepEqual(s.databases, { application: 'pyairtable', backedUp: ['pyairtable'] });
    const table = await ops(['status']);
    assert.match(table.stdout, /^Connect: +psql "postgresql:\/\/[^"]*\/pyairtable\?/m);
    assert.match(table.stdout, /^Backups cover: pyairtable$/m);
  });

  it("prints an agent's error once, with a hint that names no flag postgres-ops backup lacks", async () => {
    const r = await ops(['backup', 'newcomer-backup']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.match(/already exists/g)?.length, 1, r.stderr);
    assert.equal(r.stderr.match(/^error: /gm)?.length, 1, r.stderr);
    assert.match(r.stderr, /^hint: Choose another name, or give none to get backup_YYYYMMDD_HHMMSS\.$/m);
    const json = await ops(['backup', 'newcomer-backup', '-o', 'json']);
    assert.equal(JSON.parse(json.stdout).error.code, 'E_BACKUP_EXISTS');
    assert.equal(json.stderr.match(/already exists/g)?.length, 1, json.stderr);
  });

  it('monitor names replicas as status does, lists an inactive slot, and leaves out its own sessions', async () => {
    await withClient('postgres', (c) =>
      c.query("SELECT pg_create_physical_replication_slot('orphan_slot', true)"),
    );
    // Two long queries: one of the application, one from a session named as postgres-ops names its own.
    const client = (applicationName: string) =>
      new pg.Client({
        host: '127.0.0.1',
        port: primaryPort,
        user: 'postgres',
        password: password(),
        database: 'pyairtable',
        application_name: applicationName,
      });
    const app = client('checkout-service');
    const ours = client('postgres-ops');
    await Promise.all([app.connect(), ours.connect()]);
    const sleeps = [app, ours].map((c) =>
      c.query('SELECT pg_sleep(30) AS long_running').catch(() => undefined),
    );
    try {
      const m = await opsJson<{
        replication: { name: string; applicationName: string; state: string }[];
        inactiveSlots: { name: string; member: string | null; type: string; retainedBytes: number | null }[];
        longestQueries: { query: string }[];
      }>(['monitor', '--once']);
      const s = await opsJson<Status>(['status']);
      assert.deepEqual(
        m.replication.map((r) => r.name),
        s.instances.filter((i) => i.role === 'replica').map((i) => i.name),
      );
      assert.deepEqual(
        m.replication.map((r) => r.name),
        ['postgres-1'],
      );
      const slot = m.inactiveSlots.find((x) => x.name === 'orphan_slot');
      assert.ok(slot, JSON.stringify(m.inactiveSlots));
      assert.equal(slot.member, null);
      assert.equal(slot.type, 'physical');
      assert.equal(typeof slot.retainedBytes, 'number');
      const long = m.longestQueries.filter((q) => /pg_sleep/.test(q.query));
      assert.equal(long.length, 1, JSON.stringify(m.longestQueries));
      assert.ok(
        m.longestQueries.every((q) => !/json_agg/.test(q.query)),
        'no query of the monitor itself',
      );
      const table = await ops(['monitor', '--once']);
      assert.match(table.stdout, /^INACTIVE SLOT +MEMBER/m);
      assert.match(table.stdout, /^orphan_slot +- +physical/m);
    } finally {
      await withClient('postgres', (c) =>
        c.query(
          "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name IN ('checkout-service', 'postgres-ops') AND query LIKE '%pg_sleep%'",
        ),
      );
      await Promise.all(sleeps);
      await Promise.all([app.end(), ours.end()]);
      await withClient('postgres', (c) => c.query("SELECT pg_drop_replication_slot('orphan_slot')"));
    }
  });

  it('monitor ends quietly when the reader of its output goes away', async () => {
    const child = spawn(
      process.execPath,
      [opsMain, 'monitor', '--interval', '0.5', '--state-dir', stateDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
  });

  describe('restore from object stores with local settings', () => {
    before(async () => {
      await withClient('pyairtable', (c) =>
        c.query('CREATE TABLE offsite (x int); INSERT INTO offsite SELECT generate_series(1, 77)'),
      );
      assert.equal((await ops(['backup', 'offsite'])).code, 0);
    });

    const dropOffsite = () => withClient('pyairtable', (c) => c.query('DELETE FROM offsite'));

    it('s3://: keys and the S3-compatible endpoint from the environment (AWS_*)', async () => {
      const s3 = await startS3();
      await syncTo({
        PGOPS_SYNC_PROVIDER: 's3',
        PGOPS_SYNC_BUCKET: s3.bucket,
        PGOPS_SYNC_ENDPOINT: s3.endpoint,
        PGOPS_SYNC_REGION: 'us-east-1',
        ...s3.env,
      });
      await dropOffsite();
      const env = { ...s3.env, AWS_ENDPOINT_URL: s3.endpoint, AWS_REGION: 'us-east-1' };
      const r = await ops(['restore', `s3://${s3.bucket}/postgres/offsite.dump`, '--yes'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await count('offsite'), 77);
      assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning/);

      // Wrong keys: the hint says where local mode takes them from, not a Kubernetes Secret.
      const bad = await ops(['restore', `s3://${s3.bucket}/postgres/offsite.dump`, '--yes'], {
        ...env,
        AWS_ACCESS_KEY_ID: 'WRONGKEYID',
      });
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stderr, /access denied/);
      assert.match(
        bad.stderr,
        /^hint: Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY .*in the environment of postgres-ops or in \.postgres-ops\/objectstore\.env/m,
      );
      assert.doesNotMatch(bad.stderr, /Secret|crossRegion/);
    });

    it('azure://: the connection string from the environment (AZURE_STORAGE_CONNECTION_STRING)', async () => {
      const az = await startAzurite();
      const env = { AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
      await syncTo({ PGOPS_SYNC_PROVIDER: 'azure', PGOPS_SYNC_BUCKET: az.container, ...env });
      await dropOffsite();
      const r = await ops(['restore', `azure://${az.container}/postgres/offsite.dump`, '--yes'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await count('offsite'), 77);
    });

    it('gs://: the store named in objectstore.env in the state folder; a bad line there is exit 2 before anything', async () => {
      const gcs = await startFakeGcs();
      await syncTo({
        PGOPS_SYNC_PROVIDER: 'gcs',
        PGOPS_SYNC_BUCKET: gcs.bucket,
        PGOPS_SYNC_ENDPOINT: gcs.endpoint,
      });
      const file = join(stateDir, 'objectstore.env');
      writeFileSync(
        file,
        `# the GCS stand-in\nPGOPS_SYNC_PROVIDER=gcs\nPGOPS_SYNC_ENDPOINT="${gcs.endpoint}"\n`,
      );
      chmodSync(file, 0o600);
      try {
        await dropOffsite();
        const r = await ops(['restore', `gs://${gcs.bucket}/postgres/offsite.dump`, '--yes']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await count('offsite'), 77);

        writeFileSync(file, 'PGOPS_SYNC_PROVIDER=gcs\nAWS_SECRET=oops\n');
        await dropOffsite();
        const bad = await ops(['restore', `gs://${gcs.bucket}/postgres/offsite.dump`, '--yes']);
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(
          bad.stderr,
          /^error: .*objectstore\.env line 2: AWS_SECRET is not an object store setting$/m,
        );
        assert.doesNotMatch(bad.stderr, /restoring/);
        assert.equal(await count('offsite'), 0, 'nothing was restored');
      } finally {
        rmSync(file, { force: true });
      }
    });

    it('refuses an https:// URL (exit 2): restore reads s3://, gs:// and azure:// only', async () => {
      const r = await ops(['restore', 'https://example.com/backups/offsite.dump', '--yes']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: restore does not read https:\/\/ URLs; nothing was changed$/m);
    });
  });

  it('migrate VERSION: --dry-run changes nothing, then the version is applied with a listed safety backup, once', async () => {
    const dir = tempDir('pgops-local-migrations-');
    mkdirSync(join(dir, '3.0.0'));
    writeFileSync(
      join(dir, '3.0.0', '001_teams.sql'),
      'CREATE TABLE teams (id int PRIMARY KEY, name text);\n',
    );
    writeFileSync(join(dir, '3.0.0', '002_seed.sql'), "INSERT INTO teams VALUES (1, 'core');\n");
    const plan = await opsJson<{ outcome: string; action: string }>([
      'migrate',
      '3.0.0',
      '--dir',
      dir,
      '--dry-run',
    ]);
    assert.deepEqual([plan.outcome, plan.action], ['dry-run', 'apply']);
    const exists = () =>
      withClient('pyairtable', async (c) => (await c.query("SELECT to_regclass('teams') AS t")).rows[0].t);
    assert.equal(await exists(), null);

    const applied = await opsJson<{ outcome: string; safetyBackup: string; files: { name: string }[] }>([
      'migrate',
      '3.0.0',
      '--dir',
      dir,
      '--description',
      'Add teams',
    ]);
    assert.equal(applied.outcome, 'applied');
    assert.deepEqual(
      applied.files.map((f) => f.name),
      ['001_teams.sql', '002_seed.sql'],
    );
    assert.equal(await count('teams'), 1);
    assert.match(applied.safetyBackup, /^pre-migration-3\.0\.0-\d{8}_\d{6}$/);
    const list = await opsJson<{ name: string; verified: boolean }[]>(['list-backups']);
    assert.ok(list.some((b) => b.name === applied.safetyBackup && b.verified));
    const history = await withClient(
      'pyairtable',
      async (c) =>
        (await c.query("SELECT description FROM pgops.schema_migrations WHERE version = '3.0.0'")).rows,
    );
    assert.deepEqual(history, [{ description: 'Add teams' }]);

    const again = await opsJson<{ outcome: string }>(['migrate', '3.0.0', '--dir', dir]);
    assert.equal(again.outcome, 'already-applied');
    // The chart's own migrations are the default directory.
    const chart = await opsJson<{ action: string; files: { name: string }[] }>([
      'migrate',
      '2.0.0',
      '--dry-run',
    ]);
    assert.deepEqual(
      chart.files.map((f) => f.name),
      ['001_users.sql', '002_roles.sql', '003_owner.sql'],
    );
  });

  it("applies the chart's retention after each backup: an expired backup goes, the newest verified stays", async () => {
    assert.equal((await ops(['backup', 'expired-one'])).code, 0);
    const manifest = join(stateDir, 'backups', 'expired-one.manifest.json');
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    const longAgo = new Date(Date.now() - 10 * 86_400_000).toISOString();
    writeFileSync(manifest, JSON.stringify({ ...m, startedAt: longAgo, finishedAt: longAgo }));
    const r = await ops(['backup', 'fresh-one']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^retention: deleted expired-one \(older than 7 days\)$/m);
    const files = readdirSync(join(stateDir, 'backups'));
    assert.ok(!files.some((f) => f.startsWith('expired-one.')), files.join(' '));
    assert.ok(files.includes('fresh-one.dump') && files.includes('fresh-one.manifest.json'));
    const names = (await opsJson<{ name: string }[]>(['list-backups'])).map((b) => b.name);
    assert.ok(names.includes('fresh-one') && names.includes('newcomer-backup'));
    assert.ok(!names.includes('expired-one'));
  });
});
