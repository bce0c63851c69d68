import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  APP_PASSWORD,
  controlData,
  startInstance,
  waitForReplay,
  type TestInstance,
} from '../support/agent.js';
import { cleanupAll } from '../support/cleanup.js';
import pg from 'pg';
import { execFileSync } from 'node:child_process';
import { findPgBinDir } from '../../src/runtime/pgbin.js';
import { postgresUser } from '../support/os-user.js';

after(cleanupAll);

describe('postgres-agent instance: a primary and two streaming replicas', () => {
  let primary: TestInstance;
  let r0: TestInstance;
  let r1: TestInstance;

  before(async () => {
    primary = await startInstance({ name: 'postgres-0' });
    [r0, r1] = await Promise.all([
      startInstance({ name: 'postgres-replica-0', role: 'replica', primary }),
      startInstance({ name: 'postgres-replica-1', role: 'replica', primary }),
    ]);
  });

  it('initializes the primary with checksums, scram-only pg_hba, the roles, the application database and the backup history table', async () => {
    const [ck] = await primary.query<{ data_checksums: string }>('SHOW data_checksums');
    assert.equal(ck!.data_checksums, 'on');
    const hba = await primary.query<{ auth_method: string }>(
      'SELECT DISTINCT auth_method FROM pg_hba_file_rules',
    );
    assert.deepEqual(
      hba.map((r) => r.auth_method),
      ['scram-sha-256'],
    );
    const roles = await primary.query<{ rolname: string; rolreplication: boolean }>(
      "SELECT rolname, rolreplication FROM pg_roles WHERE rolname IN ('replicator', 'pyairtable') ORDER BY 1",
    );
    assert.deepEqual(roles, [
      { rolname: 'pyairtable', rolreplication: false },
      { rolname: 'replicator', rolreplication: true },
    ]);
    const [db] = await primary.query<{ owner: string }>(
      "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'pyairtable'",
    );
    assert.equal(db!.owner, 'pyairtable');
    const [t] = await primary.query<{ t: string | null }>(
      "SELECT to_regclass('pgops.backup_history')::text AS t",
    );
    assert.equal(t!.t, 'pgops.backup_history');
    // The application role logs in with its own password (stored as a SCRAM verifier).
    const app = new pg.Client({
      host: '127.0.0.1',
      port: primary.port,
      user: 'pyairtable',
      password: APP_PASSWORD,
      database: 'pyairtable',
    });
    await app.connect();
    await app.query('CREATE TABLE items (id int PRIMARY KEY, label text)');
    await app.end();
    assert.equal(existsSync(primary.dataDir + '.pgops-init'), false);
    // psql inside the container, as the guide runs it, authenticates through the agent's passfile.
    const u = postgresUser();
    const out = execFileSync(
      join(findPgBinDir(), 'psql'),
      ['-U', 'postgres', '-h', primary.socketDir, '-p', String(primary.port), '-Atc', 'SELECT 42'],
      {
        encoding: 'utf8',
        uid: u.uid,
        gid: u.gid,
        env: { PATH: process.env.PATH, PGPASSFILE: join(primary.socketDir, '.pgpass') },
      },
    );
    assert.equal(out.trim(), '42');
  });

  it('replicates rows written on the primary to both replicas, each streaming through its own slot', async () => {
    await primary.query(
      "INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, 500) g",
      [],
      'pyairtable',
    );
    await Promise.all([waitForReplay(primary, r0), waitForReplay(primary, r1)]);
    for (const r of [r0, r1]) {
      const [row] = await r.query<{ n: string }>('SELECT count(*) AS n FROM items', [], 'pyairtable');
      assert.equal(row!.n, '500', `${r.name} sees every row`);
    }
    const rep = await primary.query<{ state: string; slot: string }>(
      `SELECT r.state, s.slot_name AS slot FROM pg_stat_replication r
         JOIN pg_replication_slots s ON s.active_pid = r.pid ORDER BY 2`,
    );
    assert.deepEqual(rep, [
      { state: 'streaming', slot: 'postgres_replica_0' },
      { state: 'streaming', slot: 'postgres_replica_1' },
    ]);
    const st = await r0.status();
    assert.equal(st.role, 'replica');
    assert.equal(st.walReceiver, 'streaming');
    assert.equal(st.timeline, 1);
  });

  it('shuts a replica down cleanly on SIGTERM and resumes streaming after a restart without a re-clone', async () => {
    const sysidBefore = controlData(r0)['Database system identifier'];
    const inodeBefore = statSync(r0.dataDir).ino;
    const exit = await r0.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.match(controlData(r0)['Database cluster state']!, /^shut down/);
    await primary.query("INSERT INTO items VALUES (501, 'while r0 was down')", [], 'pyairtable');
    r0.start();
    await r0.waitReady();
    await waitForReplay(primary, r0);
    const [row] = await r0.query<{ label: string }>(
      'SELECT label FROM items WHERE id = 501',
      [],
      'pyairtable',
    );
    assert.equal(row!.label, 'while r0 was down');
    assert.equal(controlData(r0)['Database system identifier'], sysidBefore);
    assert.equal(statSync(r0.dataDir).ino, inodeBefore, 'the data directory was not recreated');
    assert.equal((r0.logs().match(/cloning from the primary/g) ?? []).length, 1, 'cloned once only');
  });

  it('shuts the primary down cleanly on SIGTERM (exit 0, pg_controldata says shut down) and starts it again', async () => {
    const exit = await primary.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(controlData(primary)['Database cluster state'], 'shut down');
    primary.start();
    await primary.waitReady();
    const [row] = await primary.query<{ n: string }>('SELECT count(*) AS n FROM items', [], 'pyairtable');
    assert.equal(row!.n, '501');
    assert.match(readFileSync(join(primary.dataDir, 'postgresql.conf'), 'utf8'), /wal_level = 'replica'/);
  });

  it('re-clones a replica whose volume was wiped', async () => {
    await r1.stop();
    rmSync(r1.dataDir, { recursive: true, force: true });
    r1.start();
    await r1.waitReady();
    await waitForReplay(primary, r1);
    const [row] = await r1.query<{ n: string }>('SELECT count(*) AS n FROM items', [], 'pyairtable');
    assert.equal(row!.n, '501');
    assert.equal(existsSync(join(r1.dataDir, 'standby.signal')), true);
  });
});
