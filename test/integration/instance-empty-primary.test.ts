import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetchHealth } from '../../src/runtime/agent-process.js';
import {
  controlData,
  memberAddress,
  startInstance,
  waitForReplay,
  type TestInstance,
} from '../support/agent.js';
import { cleanupAll } from '../support/cleanup.js';
import { freePort } from '../support/ports.js';

after(cleanupAll);

/** Polls `check` every 100 ms until it returns true; fails with `what` after `timeoutMs`. */
async function waitUntil(check: () => boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function count(text: string, re: RegExp): number {
  return text.match(new RegExp(re.source, 'g'))?.length ?? 0;
}

const REFUSED = /not starting PostgreSQL: the data directory is empty but a member runs PostgreSQL with data/;

describe('postgres-agent instance: an empty primary volume while a replica holds the data', () => {
  let p0: TestInstance;
  let r0: TestInstance;
  let sysid: string;

  before(async () => {
    p0 = await startInstance({ name: 'postgres-0' });
    r0 = await startInstance({ name: 'postgres-replica-0', role: 'replica', primary: p0 });
    await p0.query('CREATE TABLE orders (id int PRIMARY KEY)');
    await p0.query('INSERT INTO orders SELECT generate_series(1, 500)');
    await waitForReplay(p0, r0);
    sysid = controlData(r0)['Database system identifier']!;
    assert.match(sysid, /^\d+$/);
  });

  it('does not run initdb on the replaced volume: no data directory, not ready, alive, and the log says why and what to do', async () => {
    assert.deepEqual(await p0.stop(), { code: 0, signal: null });
    rmSync(p0.dataDir, { recursive: true, force: true }); // the volume was replaced by an empty one
    p0.start({ PGOPS_PEERS: memberAddress(r0) });
    // Two rounds of the backoff: the decision is made again, and again it is to wait.
    await waitUntil(() => count(p0.logs(), REFUSED) >= 2, 'the empty primary refused twice');
    const logs = p0.logs();
    assert.ok(logs.includes(`${memberAddress(r0)} (standby, timeline 1, system identifier ${sysid})`), logs);
    assert.match(logs, /postgres-ops promote <the replica at 127\.0\.0\.1:\d+>/);
    assert.match(logs, /restore a backup or volume snapshot into this volume/);
    assert.equal(existsSync(join(p0.dataDir, 'PG_VERSION')), false);
    assert.equal(existsSync(p0.dataDir), false);
    assert.equal(existsSync(p0.dataDir + '.pgops-init'), false);
    assert.doesNotMatch(p0.proc!.output(), /initializing a new primary data directory/);
    const ready = await fetchHealth(p0.healthPort, '/healthz/ready');
    assert.equal(ready.status, 503);
    const live = await fetchHealth(p0.healthPort, '/healthz/live');
    assert.equal(live.status, 200);
    const st = await p0.status();
    assert.equal(st.phase, 'waiting');
    assert.match(String(st.reason), /the data directory is empty but a member runs PostgreSQL with data/);
    // The replica keeps every row.
    const [n] = await r0.query<{ n: string }>('SELECT count(*) AS n FROM orders');
    assert.equal(n!.n, '500');
  });

  it('keeps waiting once the replica is promoted, now naming the new primary to clone from', async () => {
    const r = r0.agentCli(['promote', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { timeline: number }).timeline, 2);
    await r0.query('INSERT INTO orders SELECT generate_series(501, 600)');
    await waitUntil(
      () => p0.logs().includes(`${memberAddress(r0)} (primary, timeline 2, system identifier ${sysid})`),
      'the empty primary saw the promoted replica',
    );
    assert.match(
      p0.logs(),
      /clone the running primary: restart this member with PGOPS_ROLE=replica and PGOPS_PRIMARY_HOST=127\.0\.0\.1 PGOPS_PRIMARY_PORT=\d+/,
    );
    assert.equal(existsSync(p0.dataDir), false);
  });

  it('stops cleanly while waiting and, restarted as a replica of the promoted member, clones and streams with no row lost', async () => {
    assert.deepEqual(await p0.stop(), { code: 0, signal: null });
    p0.start({ PGOPS_ROLE: 'replica', PGOPS_PRIMARY_HOST: '127.0.0.1', PGOPS_PRIMARY_PORT: String(r0.port) });
    await p0.waitReady();
    await r0.query('INSERT INTO orders SELECT generate_series(601, 650)');
    await waitForReplay(r0, p0);
    const [n] = await p0.query<{ n: string }>('SELECT count(*) AS n FROM orders');
    assert.equal(n!.n, '650');
    assert.equal(controlData(p0)['Database system identifier'], sysid);
    const st = await p0.status();
    assert.equal(st.role, 'replica');
    assert.equal(st.timeline, 2);
    assert.equal(st.walReceiver, 'streaming');
  });
});

describe('postgres-agent instance: an empty primary volume and no member answering', () => {
  it('bootstraps a new cluster when the members in PGOPS_PEERS run no server yet (a fresh install)', async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const p = await startInstance({ name: 'postgres-0', env: { PGOPS_PEERS: nobody } });
    const [row] = await p.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
    assert.equal(row!.rec, false);
    assert.equal(existsSync(join(p.dataDir, 'PG_VERSION')), true);
    assert.doesNotMatch(p.logs(), REFUSED);
  });
});
