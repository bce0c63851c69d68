import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startInstance, waitForReplay, type TestInstance } from '../support/agent.js';
import { withClusterOperation } from '../../src/runtime/cluster-operation.js';
import { cleanupAll } from '../support/cleanup.js';
import { TEST_PASSWORD } from '../support/postgres.js';

after(cleanupAll);

describe('postgres-agent promote: fenced promotion, followers and pg_rewind of the old primary', () => {
  let p0: TestInstance;
  let r0: TestInstance;
  let r1: TestInstance;

  before(async () => {
    p0 = await startInstance({ name: 'postgres-0' });
    [r0, r1] = await Promise.all([
      startInstance({ name: 'postgres-replica-0', role: 'replica', primary: p0 }),
      startInstance({ name: 'postgres-replica-1', role: 'replica', primary: p0 }),
    ]);
    await p0.query('CREATE TABLE acked (id int PRIMARY KEY, at text)');
    await p0.query("INSERT INTO acked SELECT g, 'before' FROM generate_series(1, 200) g");
    await Promise.all([waitForReplay(p0, r0), waitForReplay(p0, r1)]);
  });

  it('refuses (exit 3) to promote while the old primary still accepts writes, and changes nothing', async () => {
    const r = r0.agentCli(['promote', '-o', 'json']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /refusing to promote: the primary at 127\.0\.0\.1:\d+ .*still accepts writes/);
    assert.match(r.stderr, /hint: Stop the old primary first/);
    assert.equal(JSON.parse(r.stdout).error.code, 'E_PRIMARY_ALIVE');
    const [row] = await r0.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
    assert.equal(row!.rec, true);
  });

  it('refuses (exit 3) to promote, even with --force, while a backup runs on the primary, naming it', async () => {
    let release = () => undefined as void;
    const held = new Promise<void>((r) => (release = r));
    let started = () => undefined as void;
    const holding = new Promise<void>((r) => (started = r));
    const backup = withClusterOperation(
      { host: '127.0.0.1', port: p0.port, user: 'postgres', password: TEST_PASSWORD },
      'backup nightly',
      async () => {
        started();
        await held;
      },
    );
    await holding;
    try {
      const r = r0.agentCli(['promote', '--force']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        /promote postgres-replica-0 was not started: backup nightly \(started .*\) is running/,
      );
      const [row] = await r0.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
      assert.equal(row!.rec, true);
    } finally {
      release();
      await backup;
    }
  });

  it('promotes replica-0 once the old primary is down: timeline 2, writes succeed', async () => {
    // The old primary's node dies: agent and postmaster killed, nothing shut down cleanly.
    await p0.kill9Agent();
    await p0.kill9Postmaster();
    const r = r0.agentCli(['promote', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { promoted: boolean; timeline: number; lsn: string };
    assert.equal(out.promoted, true);
    assert.equal(out.timeline, 2);
    assert.match(out.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    await r0.query("INSERT INTO acked SELECT g, 'after' FROM generate_series(201, 300) g");
    const [n] = await r0.query<{ n: string }>('SELECT count(*) AS n FROM acked');
    assert.equal(n!.n, '300');
  });

  it('answers exit 0 and "already a primary" when promote runs again', () => {
    const r = r0.agentCli(['promote']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /already a primary \(timeline 2\)/);
  });

  it('lets replica-1, restarted with PGOPS_PRIMARY_HOST at the new primary, follow timeline 2', async () => {
    await r1.stop();
    r1.start({ PGOPS_PRIMARY_PORT: String(r0.port) });
    await r1.waitReady();
    await waitForReplay(r0, r1);
    const [n] = await r1.query<{ n: string }>("SELECT count(*) AS n FROM acked WHERE at = 'after'");
    assert.equal(n!.n, '100');
    const st = await r1.status();
    assert.equal(st.timeline, 2);
    assert.equal(st.walReceiver, 'streaming');
  });

  it('rejoins the crashed old primary, restarted as a replica of the new primary, through pg_rewind with no lost commit', async () => {
    p0.start({ PGOPS_ROLE: 'replica', PGOPS_PRIMARY_HOST: '127.0.0.1', PGOPS_PRIMARY_PORT: String(r0.port) });
    await p0.waitReady();
    await r0.query("INSERT INTO acked VALUES (301, 'after rejoin')");
    await waitForReplay(r0, p0);
    const [n] = await p0.query<{ n: string }>('SELECT count(*) AS n FROM acked');
    assert.equal(n!.n, '301');
    assert.match(p0.logs(), /rewinding this old primary to follow the newer primary at 127\.0\.0\.1:\d+/);
    const st = await p0.status();
    assert.equal(st.role, 'replica');
    assert.equal(st.timeline, 2);
    const slots = await r0.query<{ slot_name: string; active: boolean }>(
      'SELECT slot_name, active FROM pg_replication_slots ORDER BY 1',
    );
    assert.deepEqual(
      slots.filter((s) => s.active).map((s) => s.slot_name),
      ['postgres_0', 'postgres_replica_1'],
    );
  });

  it('restarts the promoted replica, still configured as a replica, as the primary and its followers resume', async () => {
    assert.equal(r0.env.PGOPS_ROLE, 'replica');
    assert.deepEqual(await r0.stop(), { code: 0, signal: null });
    r0.start();
    await r0.waitReady();
    assert.match(
      r0.logs(),
      /was promoted to timeline 2 and no newer primary answers: starting as the primary/,
    );
    await r0.query("INSERT INTO acked VALUES (302, 'after restart')");
    await Promise.all([waitForReplay(r0, p0), waitForReplay(r0, r1)]);
    for (const m of [p0, r1]) {
      const [n] = await m.query<{ n: string }>('SELECT count(*) AS n FROM acked');
      assert.equal(n!.n, '302', `${m.name} follows the restarted primary`);
    }
  });
});
