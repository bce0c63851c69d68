import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startInstance, waitForReplay, type TestInstance } from '../support/agent.js';
import { cleanupAll } from '../support/cleanup.js';
import { TEST_PASSWORD } from '../support/postgres.js';

after(cleanupAll);

/**
 * A client that inserts increasing ids one commit at a time and remembers every id whose COMMIT
 * returned: those are the writes PostgreSQL acknowledged and must never lose.
 */
function writeLoad(port: number, firstId: number) {
  const acked: number[] = [];
  let next = firstId;
  let running = true;
  const done = (async () => {
    let client: pg.Client | undefined;
    while (running) {
      try {
        if (!client) {
          client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: TEST_PASSWORD });
          client.on('error', () => undefined);
          await client.connect();
        }
        const id = next++;
        await client.query('INSERT INTO acked (id) VALUES ($1)', [id]);
        acked.push(id);
      } catch {
        await client?.end().catch(() => undefined);
        client = undefined;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await client?.end().catch(() => undefined);
  })();
  return {
    acked,
    async until(n: number, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (acked.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${acked.length} of ${n} writes acknowledged`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

async function missing(m: TestInstance, ids: number[]): Promise<number[]> {
  const rows = await m.query<{ id: number }>('SELECT id FROM acked');
  const have = new Set(rows.map((r) => r.id));
  return ids.filter((id) => !have.has(id));
}

describe('postgres-agent instance under kill -9 with a continuous write load', () => {
  let primary: TestInstance;
  let replica: TestInstance;

  before(async () => {
    primary = await startInstance({ name: 'postgres-0' });
    replica = await startInstance({ name: 'postgres-replica-0', role: 'replica', primary });
    await primary.query('CREATE TABLE acked (id int PRIMARY KEY)');
  });

  it('loses no acknowledged commit when the postmaster is killed: the agent exits non-zero and a restart recovers', async () => {
    const load = writeLoad(primary.port, 1);
    await load.until(200);
    await primary.kill9Postmaster();
    const exit = await primary.proc!.exited;
    assert.notEqual(exit.code, 0, 'the agent reports the crash with a non-zero exit');
    assert.match(primary.logs(), /PostgreSQL stopped on its own \(signal SIGKILL\)/);
    primary.start();
    await primary.waitReady();
    const before = load.acked.length;
    await load.until(before + 100);
    await load.stop();
    assert.deepEqual(await missing(primary, load.acked), []);
    await waitForReplay(primary, replica);
    assert.deepEqual(await missing(replica, load.acked), []);
  });

  it('loses no acknowledged commit when the agent is killed: the restarted agent takes over the running server', async () => {
    const [{ max }] = (await primary.query<{ max: number }>('SELECT max(id) AS max FROM acked')) as [
      { max: number },
    ];
    const load = writeLoad(primary.port, max + 1);
    await load.until(200);
    const orphan = primary.postmasterPid();
    await primary.kill9Agent();
    primary.start();
    await primary.waitReady();
    assert.notEqual(primary.postmasterPid(), orphan, 'the server now runs under the new agent');
    assert.match(primary.logs(), /a postmaster \(pid \d+\) from a previous agent still serves/);
    await load.until(load.acked.length + 100);
    await load.stop();
    assert.deepEqual(await missing(primary, load.acked), []);
    await waitForReplay(primary, replica);
    assert.deepEqual(await missing(replica, load.acked), []);
  });

  it('fences an old primary restarted with role primary while a newer primary is among its peers: it does not accept writes', async () => {
    assert.equal((await primary.stop()).code, 0);
    const r = replica.agentCli(['promote', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).timeline, 2);
    await replica.query('INSERT INTO acked (id) VALUES (-1)');
    primary.start({ PGOPS_ROLE: 'primary', PGOPS_PEERS: `127.0.0.1:${replica.port}` });
    await primary.waitReady();
    await assert.rejects(
      primary.query('INSERT INTO acked (id) VALUES (-2)'),
      /cannot execute INSERT in a read-only transaction/,
    );
    const st = await primary.status();
    assert.equal(st.role, 'replica');
    assert.equal(st.timeline, 2);
    await waitForReplay(replica, primary);
    const [row] = await primary.query<{ n: string }>('SELECT count(*) AS n FROM acked WHERE id = -1');
    assert.equal(row!.n, '1');
  });
});
