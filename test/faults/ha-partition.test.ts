/**
 * The primary's Patroni stops answering while its PostgreSQL lives on (frozen with SIGSTOP past the
 * leader lease), and the leader store (etcd) goes away: the cases where a home-made failover writes
 * to two primaries. Every acknowledged commit is recorded; every member is polled every 200 ms.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ensureEtcd } from '../../src/local/etcd.js';
import { onCleanup } from '../support/cleanup.js';
import {
  cleanupAll,
  FAST_HA,
  quietOutput,
  sleep,
  startHaCluster,
  WritablePoller,
  WriteLoad,
} from '../support/ha.js';

after(cleanupAll);

describe('a primary whose Patroni is frozen past the leader lease (synchronous replication)', () => {
  it('acknowledges no write after the new primary took over, and loses no acknowledged commit once it resumes', async () => {
    const c = await startHaCluster({ replicas: 1, synchronous: true });
    const old = await c.leader();
    const [replica] = c.names().filter((n) => n !== old);
    const load = new WriteLoad(c);
    const poller = new WritablePoller(c);
    await load.start();
    poller.start();
    onCleanup('stop the load', async () => {
      await load.stop();
      await poller.stop();
    });
    await sleep(2000);
    const frozen = c.patroniPid(old)!;
    const frozenAt = Date.now();
    process.kill(frozen, 'SIGSTOP');
    try {
      // The lease runs out; the replica takes over.
      const deadline = Date.now() + 120_000;
      let promotedAt: number | undefined;
      while (!promotedAt && Date.now() < deadline) {
        promotedAt = poller.firstWritable(replica!, frozenAt);
        await sleep(200);
      }
      assert.ok(promotedAt, `${replica} was not promoted while ${old}'s Patroni was frozen`);
      const acksAt = load.acks.length;
      while (load.acks.length < acksAt + 50 && Date.now() < deadline) await sleep(100);
      assert.ok(load.acks.length >= acksAt + 50, 'the new primary acknowledges writes');
      await sleep(FAST_HA.ttl * 1000);
      const late = load.acks.filter((a) => a.member === old && a.at > promotedAt);
      assert.deepEqual(late, [], `${old} acknowledged writes after ${replica} was promoted`);
    } finally {
      process.kill(frozen, 'SIGCONT');
    }
    // Resumed, the old Patroni finds it lost the lead and rejoins as a replica.
    const deadline = Date.now() + 120_000;
    let leader = '';
    while (Date.now() < deadline) {
      const w = await c.writable();
      if (
        w.length === 1 &&
        (await c.query<{ r: boolean }>(old, 'SELECT pg_is_in_recovery() AS r').catch(() => []))[0]?.r
      )
        if ((leader = w[0]!)) break;
      await sleep(500);
    }
    assert.ok(leader, `${old} did not rejoin as a replica`);
    await sleep(3000);
    await load.stop();
    await poller.stop();
    assert.deepEqual(await load.lost(leader), [], 'every acknowledged commit survived');
  });
});

describe('the leader store (etcd) is down', () => {
  for (const failsafe of [true, false]) {
    it(
      failsafe
        ? 'with failsafe mode the primary keeps accepting writes while every member answers'
        : 'without failsafe mode the primary stops accepting writes, and no member takes them',
      async () => {
        const c = await startHaCluster({ replicas: 1, failsafe });
        const leader = await c.leader();
        const load = new WriteLoad(c);
        const poller = new WritablePoller(c);
        await load.start();
        poller.start();
        onCleanup('stop the load', async () => {
          await load.stop();
          await poller.stop();
        });
        await sleep(2000);
        const etcd = c.etcdPid()!;
        const downAt = Date.now();
        process.kill(etcd, 'SIGKILL');
        // Two leases and more: long enough for a demotion to happen.
        await sleep(FAST_HA.ttl * 2500);
        const upAt = Date.now();
        const during = poller.samples.filter((s) => s.at > downAt + FAST_HA.ttl * 1500 && s.at < upAt);
        if (failsafe) {
          assert.ok(
            during.every((s) => s.writable.length === 1 && s.writable[0] === leader),
            `the primary stopped taking writes: ${JSON.stringify(during.filter((s) => s.writable.length !== 1).slice(0, 3))}`,
          );
          assert.ok(load.acks.some((a) => a.at > downAt + FAST_HA.ttl * 1500 && a.at < upAt));
        } else {
          assert.ok(
            during.some((s) => s.writable.length === 0),
            'the primary kept taking writes without its lease',
          );
        }
        await ensureEtcd(c.stateDir, c.state(), quietOutput);
        await c.leader();
        await sleep(3000);
        await load.stop();
        await poller.stop();
        assert.deepEqual(poller.splitBrain(), [], 'two members accepted writes at the same moment');
        assert.deepEqual(await load.lost(await c.leader()), [], 'no acknowledged commit lost');
      },
    );
  }
});
