/**
 * Automatic failover under Patroni, as it happens to a real cluster: the primary's node dies
 * (kill -9 of its agent, Patroni and postmaster) under a write load that records every
 * acknowledged commit, while a poller asks every member every 200 ms whether it accepts writes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { cleanupAll, sleep, startHaCluster, startLoadAndPoller, type HaCluster } from '../support/ha.js';

after(cleanupAll);

async function killPrimaryUnderLoad(c: HaCluster, synchronous = false) {
  const old = await c.leader();
  if (synchronous) await c.waitSyncStandby();
  const { load, poller, stop } = await startLoadAndPoller(c);
  await sleep(3000);
  const killedAt = Date.now();
  c.kill9Member(old);
  const deadline = Date.now() + 120_000;
  const leader = await eventually(
    `a new primary after ${old} died`,
    async () => {
      const w = await c.writable();
      return w.length === 1 && w[0] !== old ? w[0] : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  // Writes flow again on the new primary, within the same 120 s.
  const acksBefore = load.acks.length;
  await eventually('the new primary acknowledges writes', () => load.acks.length >= acksBefore + 50, {
    timeoutMs: Math.max(0, deadline - Date.now()),
    intervalMs: 100,
  });
  assert.ok(load.acks.some((a) => a.member === leader && a.at > killedAt));
  await stop();
  return { old, leader, load, poller, killedAt };
}

describe('automatic failover when the primary dies (kill -9 of its agent, Patroni and postmaster)', () => {
  it('promotes a replica, never has two writable members, and the old primary rejoins by itself (asynchronous)', async () => {
    const c = await startHaCluster({ replicas: 2 });
    const { old, leader, load, poller } = await killPrimaryUnderLoad(c);
    assert.deepEqual(poller.splitBrain(), [], 'two members accepted writes at the same moment');
    await c.up(); // the dead member's agent is started again, as the kubelet would
    await c.waitStreaming(old);
    const [row] = await c.query<{ r: boolean }>(old, 'SELECT pg_is_in_recovery() AS r');
    assert.equal(row!.r, true, `${old} came back as a replica of ${leader}`);
    // Asynchronous replication may lose the last commits; they are counted, not hidden.
    const lost = await load.lost(leader);
    assert.ok(lost.length < load.acks.length, `lost ${lost.length} of ${load.acks.length}`);
  });

  it('loses no acknowledged commit with synchronous replication', async () => {
    const c = await startHaCluster({ replicas: 2, synchronous: true });
    const { leader, load, poller } = await killPrimaryUnderLoad(c, true);
    assert.deepEqual(poller.splitBrain(), [], 'two members accepted writes at the same moment');
    assert.ok(load.acks.length > 100, `only ${load.acks.length} acknowledged writes`);
    assert.deepEqual(await load.lost(leader), [], 'every acknowledged commit is on the new primary');
  });
});
