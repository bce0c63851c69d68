/**
 * What the leading member's agent keeps in step, on a real server: slots whose WAL was removed
 * (max_slot_wal_keep_size) are dropped, and role passwords follow their secrets.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { scramMatches } from '../../src/core/instance/scram.js';
import { nestConfig, parseAgentEnv } from '../../src/core/config/schema.js';
import { applyRolePasswords, renewLostSlots } from '../../src/runtime/instance/leader-duties.js';
import { cleanupAll } from '../support/cleanup.js';
import { startPostgres, TEST_PASSWORD } from '../support/postgres.js';

after(cleanupAll);

describe("the leader's duties", () => {
  it('renews an inactive slot whose WAL was removed (same name, WAL reserved from now on), and leaves a healthy one alone', async () => {
    const pg = await startPostgres({
      settings: {
        max_slot_wal_keep_size: '16MB',
        wal_keep_size: '0',
        max_wal_size: '32MB',
        min_wal_size: '32MB',
      },
    });
    const c = await pg.connect();
    try {
      await c.query("SELECT pg_create_physical_replication_slot('gone_member', true)");
      await c.query('CREATE TABLE filler (pad text)');
      for (let i = 0; i < 3; i++) {
        await c.query("INSERT INTO filler SELECT repeat('x', 200) FROM generate_series(1, 100000)");
        await c.query('SELECT pg_switch_wal()');
        await c.query('CHECKPOINT');
      }
      const [before] = (
        await c.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'gone_member'")
      ).rows;
      assert.equal(before.wal_status, 'lost');
      await c.query("SELECT pg_create_physical_replication_slot('healthy_member', true)");
      assert.deepEqual(await renewLostSlots(c), ['gone_member']);
      const left = (
        await c.query('SELECT slot_name, wal_status FROM pg_replication_slots ORDER BY slot_name')
      ).rows.map((r) => [r.slot_name, r.wal_status]);
      assert.deepEqual(left, [
        ['gone_member', 'reserved'],
        ['healthy_member', 'reserved'],
      ]);
      assert.deepEqual(await renewLostSlots(c), [], 'running it again changes nothing');
    } finally {
      await c.end();
    }
  });

  it('sets a role password whose secret changed, and only that one', async () => {
    const pg = await startPostgres();
    const c = await pg.connect();
    try {
      await c.query("CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'old-repl'");
      await c.query("CREATE ROLE pyairtable LOGIN PASSWORD 'app-pw'");
      const env = parseAgentEnv({
        PGOPS_SUPERUSER_PASSWORD: TEST_PASSWORD,
        PGOPS_REPLICATION_PASSWORD: 'new-repl',
        PGOPS_APP_PASSWORD: 'app-pw',
      });
      assert.ok(env.ok);
      assert.deepEqual(await applyRolePasswords(c, nestConfig(env.value)), ['replicator']);
      const rows = (
        await c.query(
          "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('replicator', 'pyairtable')",
        )
      ).rows;
      const stored = Object.fromEntries(rows.map((r) => [r.rolname, r.rolpassword as string]));
      assert.equal(scramMatches(stored.replicator, 'new-repl'), true);
      assert.equal(scramMatches(stored.pyairtable, 'app-pw'), true);
      assert.deepEqual(
        await applyRolePasswords(c, nestConfig(env.value)),
        [],
        'nothing changes the second time',
      );
    } finally {
      await c.end();
    }
  });
});
