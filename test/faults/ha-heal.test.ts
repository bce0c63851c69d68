/**
 * Members heal themselves, on real Patroni: a former primary whose data directory was emptied is
 * cloned again (never a second initdb), a replica that lost its place in the primary's WAL is
 * cloned again, a full data volume stops PostgreSQL without killing anything and recovers once it
 * grows, and rotated passwords are applied everywhere.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { ensureEtcd, forgetCluster } from '../../src/local/etcd.js';
import { scopeOfState, startInstance } from '../../src/local/members.js';
import { requirePgBinDir } from '../../src/local/state-dir.js';
import { onCleanup } from '../support/cleanup.js';
import { eventually } from '../support/eventually.js';
import {
  cleanupAll,
  FAST_HA,
  HaCluster,
  killAllUnderSync,
  quietOutput,
  sleep,
  startHaCluster,
} from '../support/ha.js';
import { postgresUser } from '../support/os-user.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

const sysid = async (c: HaCluster, name: string) =>
  (await c.query<{ s: string }>(name, 'SELECT system_identifier::text AS s FROM pg_control_system()'))[0]!.s;

const count = (text: string, re: RegExp) => (text.match(new RegExp(re, 'g')) ?? []).length;

function health(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
    }).on('error', reject);
  });
}

describe('members heal themselves', () => {
  it('clones a former primary whose data directory was emptied from the leader, without a second initdb', async () => {
    const c = await startHaCluster({ replicas: 1 });
    const first = await c.leader();
    const other = c.names().find((n) => n !== first)!;
    await c.query(first, 'CREATE TABLE kept AS SELECT generate_series(1, 1000) AS id', 'pyairtable');
    await c.waitStreaming(other);
    const r = await c.ops(['promote', other, '--yes']);
    assert.equal(r.code, 0, r.stderr);
    await c.waitStreaming(first);
    const id = await sysid(c, other);
    c.kill9Member(first);
    await c.waitPostmastersGone(first);
    rmSync(c.paths.dataDir(first), { recursive: true, force: true });
    const bootstrapsBefore = count(c.logs(first), /trying to bootstrap a new cluster/);
    await c.up();
    await c.waitStreaming(first);
    assert.equal(await sysid(c, first), id, 'the same cluster, cloned');
    assert.equal(
      count(c.logs(first), /trying to bootstrap a new cluster/),
      bootstrapsBefore,
      'no second initdb',
    );
    const [{ n }] = (await c.query<{ n: number }>(
      first,
      'SELECT count(*)::int AS n FROM kept',
      'pyairtable',
    )) as [{ n: number }];
    assert.equal(n, 1000);
    assert.deepEqual(await c.writable(), [other]);
  });

  it('never lets a later member create a cluster: with an empty volume it waits for the first one and clones it', async () => {
    const c = await startHaCluster({ replicas: 1 });
    await c.down();
    for (const n of c.names()) rmSync(c.paths.dataDir(n), { recursive: true, force: true });
    // A fresh cluster whose second member happens to start first (an upgrade, a slow node).
    const state = c.state();
    await ensureEtcd(c.stateDir, state, quietOutput);
    await forgetCluster(state, scopeOfState(state));
    const second = state.instances[1]!;
    startInstance(c.stateDir, state, second, requirePgBinDir(), quietOutput);
    await sleep(FAST_HA.ttl * 1500);
    assert.equal(
      existsSync(join(c.paths.dataDir(second.name), 'PG_VERSION')),
      false,
      'no initdb on the second member',
    );
    assert.doesNotMatch(c.logs(second.name), /trying to bootstrap a new cluster/);
    await c.up();
    await c.waitStreaming(second.name);
    assert.equal(await sysid(c, second.name), await sysid(c, state.instances[0]!.name));
  });

  it('clones again a replica that lost its place in the WAL while it was down, when no archive can feed it', async () => {
    const c = await startHaCluster({
      replicas: 1,
      // No WAL archive (with one, the replica catches up from it: test/integration/pitr-local.test.ts).
      pitr: { enabled: false },
      settings: {
        maxSlotWalKeepSize: '32MB',
        parameters: { wal_keep_size: '16MB', max_wal_size: '64MB', min_wal_size: '32MB' },
      },
    });
    const { leader, replica } = await c.leaderAndStreamingReplica();
    c.kill9Member(replica);
    await c.waitPostmastersGone(replica);
    // Far more WAL than a slot may hold, and checkpoints so that the old segments are removed.
    await c.query(leader, 'CREATE TABLE filler (id int, pad text)', 'pyairtable');
    for (let i = 0; i < 4; i++) {
      await c.query(
        leader,
        "INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 150000) g",
        'pyairtable',
      );
      await c.query(leader, 'SELECT pg_switch_wal()');
      await c.query(leader, 'CHECKPOINT');
    }
    await c.up();
    await c.waitStreaming(replica, 240_000);
    assert.match(c.logs(replica), /which the primary has removed .* cloning it again from the leader/);
    const [a] = await c.query<{ n: number }>(leader, 'SELECT count(*)::int AS n FROM filler', 'pyairtable');
    let b: { n: number } | undefined;
    await eventually(
      'the replica has the rows of the leader',
      async () => {
        [b] = await c.query<{ n: number }>(replica, 'SELECT count(*)::int AS n FROM filler', 'pyairtable');
        return b!.n === a!.n;
      },
      { timeoutMs: 10_000, intervalMs: 200, detail: () => `${b?.n} rows, the leader has ${a!.n}` },
    );
    const slots = await c.query<{ slot_name: string; active: boolean }>(
      leader,
      'SELECT slot_name, active FROM pg_replication_slots',
    );
    assert.deepEqual(
      slots,
      [{ slot_name: replica.replace(/-/g, '_'), active: true }],
      'no slot left that nobody uses',
    );
  });

  it('on a full data volume: PostgreSQL stops, nothing supervising it dies, readiness is false and liveness true, and it recovers once the volume grows', async () => {
    const dir = join(tempDir('pgops-ha-'), 'state');
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    const u = postgresUser();
    execFileSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=160m,mode=0755,uid=${u.uid ?? 0},gid=${u.gid ?? 0}`,
      'tmpfs',
      data,
    ]);
    const c = new HaCluster(dir);
    onCleanup(
      `stop the cluster in ${dir}`,
      async () => {
        await c.down().catch(() => undefined);
        killAllUnderSync(dir);
        execFileSync('umount', ['-l', data]);
      },
      () => {
        killAllUnderSync(dir);
        try {
          execFileSync('umount', ['-l', data]);
        } catch {
          /* already */
        }
      },
    );
    await c.up({
      replicas: 0,
      ha: FAST_HA,
      settings: { parameters: { max_wal_size: '64MB', min_wal_size: '32MB' } },
    });
    const leader = await c.leader();
    await c.query(leader, 'CREATE TABLE kept AS SELECT generate_series(1, 1000) AS id', 'pyairtable');
    await c.query(leader, 'CHECKPOINT');
    const pids = { agent: c.agentPid(leader)!, patroni: c.patroniPid(leader)! };
    // Fill the volume, then write until PostgreSQL cannot.
    const filler = join(data, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(1024 * 1024);
    try {
      for (;;) writeSync(fd, chunk);
    } catch {
      /* ENOSPC */
    } finally {
      closeSync(fd);
    }
    const client = await c.connect(leader, 'pyairtable', 10_000);
    try {
      for (let i = 0; i < 200; i++)
        await client.query(
          "CREATE TABLE IF NOT EXISTS spill AS SELECT g, repeat('y', 500) AS pad FROM generate_series(1, 20000) g; INSERT INTO spill SELECT g, repeat('y', 500) FROM generate_series(1, 20000) g",
        );
    } catch {
      /* No space left on device */
    } finally {
      await client.end().catch(() => undefined);
    }
    const inst = c.state().instances[0]!;
    let status: { status: number; body: Record<string, unknown> } | undefined;
    await eventually(
      'the member reports the disk-full phase',
      async () => {
        status = await health(inst.healthPort, '/status').catch(() => undefined);
        return status?.body.phase === 'disk-full';
      },
      { timeoutMs: 120_000, intervalMs: 500, detail: () => JSON.stringify(status?.body) },
    );
    assert.match(String(status!.body.reason), /is full .*Expand the volume: kubectl patch pvc/);
    assert.equal((await health(inst.healthPort, '/healthz/ready')).status, 503);
    assert.equal((await health(inst.healthPort, '/healthz/live')).status, 200);
    assert.match(c.logs(leader), /is full \(\d+\.\d% used\): PostgreSQL cannot run until it has space/);
    await sleep(5000);
    for (const [what, pid] of Object.entries(pids))
      assert.doesNotThrow(() => process.kill(pid, 0), `${what} died`);
    // The volume grows (what a PVC expansion does): PostgreSQL comes back by itself, nothing deleted.
    execFileSync('mount', ['-o', 'remount,size=512m', data]);
    await eventually(
      'the member is ready again after the volume grew',
      async () =>
        (await health(inst.healthPort, '/healthz/ready').catch(() => ({ status: 0 }))).status === 200,
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const [{ n }] = (await c.query<{ n: number }>(
      leader,
      'SELECT count(*)::int AS n FROM kept',
      'pyairtable',
    )) as [{ n: number }];
    assert.equal(n, 1000);
    await c.query(leader, 'INSERT INTO kept VALUES (1001)', 'pyairtable');
    assert.equal(c.agentPid(leader), pids.agent, 'the same agent ran throughout');
  });

  it('applies rotated passwords to every role and every component keeps working', async () => {
    const c = await startHaCluster({ replicas: 1 });
    const { leader, replica } = await c.leaderAndStreamingReplica();
    const old = c.password();
    for (const name of ['superuser-password', 'replication-password', 'app-password', 'restapi-password'])
      writeFileSync(c.paths.secret(name as 'app-password'), `rotated-${name}-${Date.now()}\n`);
    const up = await c.ops(['local', 'up']);
    assert.equal(up.code, 0, up.stderr);
    const login = (user: string, password: string, database: string) =>
      new pg.Client({
        host: '127.0.0.1',
        port: c.port(leader),
        user,
        password,
        database,
        connectionTimeoutMillis: 3000,
      });
    await eventually(
      'the new application password is applied',
      async () => {
        const cl = login('pyairtable', c.password('app-password'), 'pyairtable');
        cl.on('error', () => undefined);
        const ok = await cl.connect().then(
          () => true,
          () => false,
        );
        await cl.end().catch(() => undefined);
        return ok;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await c.query(leader, 'SELECT 1'); // the new superuser password
    const stale = login('postgres', old, 'postgres');
    stale.on('error', () => undefined);
    await assert.rejects(stale.connect(), /password authentication failed/);
    // Replication reconnects with the new password: restart the replica and it streams again.
    c.kill9Member(replica);
    await c.up();
    await c.waitStreaming(replica);
    // The CLI (passfile), a backup, and a switchover through the REST API with its new password.
    const s = await c.ops(['status', '-o', 'json']);
    assert.equal(s.code, 0, s.stderr);
    const b = await c.ops(['backup', 'after-rotation']);
    assert.equal(b.code, 0, b.stderr);
    const p = await c.ops(['promote', replica, '--yes']);
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual(await c.writable(), [replica]);
  });
});
