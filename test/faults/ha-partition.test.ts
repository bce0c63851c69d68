/**
 * The primary's Patroni stops answering while its PostgreSQL lives on (frozen with SIGSTOP past the
 * leader lease), and the leader store (etcd) goes away: the cases where a home-made failover writes
 * to two primaries. Every acknowledged commit is recorded; every member is polled every 200 ms.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ensureEtcd } from '../../src/local/etcd.js';
import {
  cleanupAll,
  FAST_HA,
  quietOutput,
  sleep,
  startHaCluster,
  startLoadAndPoller,
} from '../support/ha.js';

after(cleanupAll);

describe('a primary whose Patroni is frozen past the leader lease', () => {
  for (const synchronous of [true, false])
    it(
      synchronous
        ? 'with synchronous replication: never two writable members, no write acknowledged by the old primary once another leads, and no acknowledged commit lost after it resumes'
        : 'with asynchronous replication: never two writable members, and the frozen Patroni never takes the lead back',
      async () => {
        const c = await startHaCluster({ replicas: 1, synchronous });
        const old = await c.leader();
        if (synchronous) await c.waitSyncStandby();
        const { load, poller, stop } = await startLoadAndPoller(c);
        await sleep(2000);
        const frozen = c.patroniPid(old)!;
        const frozenAt = Date.now();
        process.kill(frozen, 'SIGSTOP');
        try {
          // Past the lease, twice over.
          await sleep(FAST_HA.ttl * 2500);
        } finally {
          try {
            process.kill(frozen, 'SIGCONT');
          } catch {
            /* the member's agent already replaced that Patroni */
          }
        }
        // Before the lease could run out the member's agent stopped PostgreSQL and replaced the
        // frozen Patroni: whoever leads now (a replica, or the same member again) leads alone.
        assert.match(c.logs(old), /Patroni has not answered for \d+ s while this member is the primary/);
        const { leader } = await c.leaderAndStreamingReplica();
        await sleep(3000);
        await stop();
        assert.deepEqual(poller.splitBrain(), [], 'two members accepted writes at the same moment');
        assert.ok(
          load.acks.some((a) => a.at > frozenAt + FAST_HA.ttl * 2500),
          'writes are acknowledged again',
        );
        if (leader !== old) {
          const promotedAt = poller.firstWritable(leader, frozenAt)!;
          const late = load.acks.filter((a) => a.member === old && a.at > promotedAt);
          assert.deepEqual(late.length, 0, `${old} acknowledged writes after ${leader} was promoted`);
        }
        const lost = await load.lost(leader);
        if (synchronous) assert.deepEqual(lost, [], 'every acknowledged commit survived');
        else assert.ok(lost.length < load.acks.length / 10, `lost ${lost.length} of ${load.acks.length}`);
      },
    );
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
        const { load, poller, stop } = await startLoadAndPoller(c);
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
        await stop();
        assert.deepEqual(poller.splitBrain(), [], 'two members accepted writes at the same moment');
        assert.deepEqual(await load.lost(await c.leader()), [], 'no acknowledged commit lost');
      },
    );
  }
});
