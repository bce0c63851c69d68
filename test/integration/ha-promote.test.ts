/**
 * postgres-ops promote on real Patroni members: a switchover, the refusal of a candidate whose WAL
 * receiver is stuck (nothing changes, the bytes it lacks are named), the rejoin of the old primary,
 * replication slots after all that, and failover: manual, where nothing is promoted without a person.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAll, FAST_HA, sleep, startHaCluster, type HaCluster } from '../support/ha.js';

after(cleanupAll);

async function timeline(c: HaCluster, name: string): Promise<number> {
  const [r] = await c.query<{ t: number }>(name, 'SELECT timeline_id AS t FROM pg_control_checkpoint()');
  return r!.t;
}

describe('promote', () => {
  it('refuses a replica whose WAL receiver is stuck (exit 3, the bytes it lacks, nothing changed), then switches over once it streams, with no slot left holding WAL', async () => {
    const c = await startHaCluster({ replicas: 1 });
    const primary = await c.leader();
    const replica = c.names().find((n) => n !== primary)!;
    await c.query(primary, 'CREATE TABLE t (id int PRIMARY KEY)', 'pyairtable');
    await c.waitStreaming(replica);
    const receiver = c.walReceiverPid(replica)!;
    assert.ok(receiver, 'found the walreceiver');
    process.kill(receiver, 'SIGSTOP');
    try {
      await c.query(primary, 'INSERT INTO t SELECT generate_series(1, 5000)', 'pyairtable');
      const r = await c.ops(['promote', replica, '--yes']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`refusing to promote ${replica}: ${replica} is not streaming .*lacks \\d+ bytes of WAL`),
      );
      assert.match(r.stderr, /nothing was changed/);
      assert.match(r.stderr, /--force/);
      assert.deepEqual(await c.writable(), [primary], 'the primary still leads');
    } finally {
      process.kill(receiver, 'SIGCONT');
    }
    await c.waitStreaming(replica);
    const tl = await timeline(c, primary);
    const pausedFrom = Date.now();
    const r = await c.ops(['promote', replica, '--yes', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      action: string;
      promoted: string;
      previousPrimary: string;
      timeline: number;
    };
    assert.deepEqual([out.action, out.promoted, out.previousPrimary], ['switchover', replica, primary]);
    assert.equal(out.timeline, tl + 1);
    assert.deepEqual(await c.writable(), [replica]);
    const [{ n }] = (await c.query<{ n: number }>(
      replica,
      'SELECT count(*)::int AS n FROM t',
      'pyairtable',
    )) as [{ n: number }];
    assert.equal(n, 5000, 'no row lost');
    assert.ok(Date.now() - pausedFrom < 60_000);
    // The old primary rejoins by itself; the only slot is the one its replica streams through.
    await c.waitStreaming(primary);
    await sleep(FAST_HA.loopWait * 2000);
    const slots = await c.query<{ slot_name: string; active: boolean }>(
      replica,
      'SELECT slot_name, active FROM pg_replication_slots',
    );
    assert.deepEqual(slots, [{ slot_name: primary.replace(/-/g, '_'), active: true }]);
    assert.deepEqual(
      await c.query(primary, 'SELECT slot_name FROM pg_replication_slots'),
      [],
      'the demoted member keeps no slot',
    );
    // Promoting the primary again changes nothing.
    const again = await c.ops(['promote', replica, '--yes']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already the primary; nothing to do/);
  });

  it('with failover manual, promotes nothing by itself when the primary dies, until a person runs promote', async () => {
    const c = await startHaCluster({ replicas: 1, failover: 'manual' });
    const primary = await c.leader();
    const replica = c.names().find((n) => n !== primary)!;
    await c.waitStreaming(replica);
    await c.query(primary, 'CREATE TABLE kept (id int)', 'pyairtable');
    await c.query(primary, 'INSERT INTO kept SELECT generate_series(1, 100)', 'pyairtable');
    await sleep(1000);
    c.kill9Member(primary);
    // Two leases: an automatic failover would have happened by now.
    await sleep(FAST_HA.ttl * 2000);
    assert.deepEqual(await c.writable(), [], 'nothing was promoted without a person');
    const status = await c.ops(['status', '-o', 'json']);
    const s = JSON.parse(status.stdout) as { failover: string; warnings: string[] };
    assert.equal(s.failover, 'manual');
    assert.ok(
      s.warnings.some(
        (w) => w.includes(`failover is manual`) && w.includes(`postgres-ops promote ${replica}`),
      ),
    );
    const r = await c.ops(['promote', replica, '--yes', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { action: string }).action, 'failover');
    assert.deepEqual(await c.writable(), [replica]);
    const [{ n }] = (await c.query<{ n: number }>(
      replica,
      'SELECT count(*)::int AS n FROM kept',
      'pyairtable',
    )) as [{ n: number }];
    assert.equal(n, 100);
    // The old primary comes back as a replica of the new one.
    await c.up();
    await c.waitStreaming(primary);
    assert.deepEqual(await c.writable(), [replica]);
  });
});
