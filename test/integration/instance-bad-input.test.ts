import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fetchHealth } from '../../src/runtime/agent-process.js';
import { createInstance, type TestInstance } from '../support/agent.js';
import { cleanupAll } from '../support/cleanup.js';
import { chownToPostgres } from '../support/os-user.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

/** Starts the agent with `env` changes and waits for it to exit; returns its exit code and output. */
async function runToExit(m: TestInstance, env: Record<string, string | undefined>) {
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete m.env[k];
    else m.env[k] = v;
  }
  const p = m.start();
  const exit = await p.exited;
  return { code: exit.code, output: p.output() };
}

function untouched(m: TestInstance) {
  assert.equal(existsSync(m.dataDir), false, 'PGDATA was not created');
  assert.deepEqual(readdirSync(m.volumeDir), [], 'nothing was written next to PGDATA');
}

describe('postgres-agent instance refuses bad input clearly and touches no data directory', () => {
  it('exits 2 naming the missing superuser password', async () => {
    const m = await createInstance({ name: 'postgres-0' });
    const r = await runToExit(m, { PGOPS_SUPERUSER_PASSWORD: undefined });
    assert.equal(r.code, 2);
    assert.match(r.output, /error: PGOPS_SUPERUSER_PASSWORD is not set/);
    assert.match(r.output, /hint: Set PGOPS_SUPERUSER_PASSWORD_FILE/);
    untouched(m);
  });

  it('exits 2 when a new primary has no application password', async () => {
    const m = await createInstance({ name: 'postgres-0' });
    const r = await runToExit(m, { PGOPS_APP_PASSWORD: undefined });
    assert.equal(r.code, 2);
    assert.match(r.output, /PGOPS_APP_PASSWORD is not set: it is needed to create the application role/);
    untouched(m);
  });

  it('exits 2 when the mounted configuration file cannot be read', async () => {
    const m = await createInstance({ name: 'postgres-0' });
    const dir = tempDir();
    const conf = join(dir, 'postgresql.conf');
    writeFileSync(conf, 'shared_buffers = 32MB\n', { mode: 0o600 }); // owned by root: unreadable for postgres
    const r = await runToExit(m, { PGOPS_CONFIG_FILE: conf });
    assert.equal(r.code, 2);
    assert.match(r.output, /PGOPS_CONFIG_FILE names .*postgresql\.conf, which cannot be read \(EACCES\)/);
    untouched(m);
  });

  it('exits 2 when the extra pg_hba lines use trust', async () => {
    const m = await createInstance({ name: 'postgres-0' });
    const dir = tempDir();
    const hba = join(dir, 'pg_hba.conf');
    writeFileSync(
      hba,
      '# ok\nhostssl all all 10.0.0.0/8 scram-sha-256\nhost all all 192.168.0.0 255.255.0.0 trust\n',
    );
    chownToPostgres(hba);
    const r = await runToExit(m, { PGOPS_HBA_FILE: hba });
    assert.equal(r.code, 2);
    assert.match(r.output, /line 3: "host all all 192\.168\.0\.0 255\.255\.0\.0 trust" uses trust/);
    untouched(m);
  });

  it('keeps a replica pointed at a host that does not exist waiting with a retry log line, alive but not ready, and creates nothing', async () => {
    const m = await createInstance({
      name: 'postgres-replica-0',
      role: 'replica',
      env: { PGOPS_PRIMARY_HOST: 'no-such-primary.invalid', PGOPS_PRIMARY_PORT: '5432' },
    });
    const p = m.start();
    const deadline = Date.now() + 60_000;
    while (!/cannot reach the primary at no-such-primary\.invalid:5432.*retrying in \d+ s/.test(p.output())) {
      assert.ok(Date.now() < deadline, `no retry line in:\n${p.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(p.output(), /the data directory was not created/);
    assert.equal((await fetchHealth(m.healthPort, '/healthz/live')).status, 200);
    const ready = await fetchHealth(m.healthPort, '/healthz/ready');
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(ready.body), /waiting: cannot reach the primary/);
    untouched(m);
    assert.deepEqual(await m.stop(), { code: 0, signal: null });
    untouched(m);
  });

  it('exits 2 when a replica has no primary to clone from', async () => {
    const m = await createInstance({ name: 'postgres-replica-0', role: 'replica' });
    const r = await runToExit(m, { PGOPS_PRIMARY_HOST: undefined });
    assert.equal(r.code, 2);
    assert.match(r.output, /PGOPS_PRIMARY_HOST is not set: a replica needs a primary to clone from/);
    untouched(m);
  });
});
