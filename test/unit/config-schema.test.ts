import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAgentEnv } from '../../src/core/config/schema.js';

describe('agent configuration schema', () => {
  it('applies defaults when nothing is set', () => {
    const r = parseAgentEnv({});
    assert.ok(r.ok);
    assert.equal(r.value.PGOPS_BACKUP_RETENTION_DAYS, 7);
    assert.equal(r.value.PGOPS_BACKUP_DIR, '/backups/postgres');
    assert.equal(r.value.PGDATA, '/var/lib/postgresql/data/pgdata');
  });

  it('reports every bad key at once, naming each', () => {
    const r = parseAgentEnv({
      PGOPS_BACKUP_RETENTION_DAYS: 'seven',
      PGOPS_ROLE: 'leader',
      PGOPS_BAKUP_DIR: '/x',
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    const keys = r.issues.map((i) => i.key).sort();
    assert.deepEqual(keys, ['PGOPS_BACKUP_RETENTION_DAYS', 'PGOPS_BAKUP_DIR', 'PGOPS_ROLE']);
    assert.match(r.issues.find((i) => i.key === 'PGOPS_BACKUP_RETENTION_DAYS')!.message, /number/);
  });

  it('never echoes a value, so a mistyped secret is not printed', () => {
    const r = parseAgentEnv({ PGOPS_PORT: 'hunter2-secret' });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.ok(r.issues.every((i) => !i.message.includes('hunter2')));
  });

  it('refuses an empty number instead of reading it as 0, naming the key', () => {
    const r = parseAgentEnv({ PGOPS_HEALTH_PORT: '', PGOPS_PORT: '  ', PGOPS_BACKUP_RETENTION_DAYS: '3' });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.issues.map((i) => i.key),
      ['PGOPS_PORT', 'PGOPS_HEALTH_PORT'],
    );
    assert.ok(r.issues.every((i) => /is empty; expected a whole number/.test(i.message)));
  });

  it('accepts the PGOPS_DEBUG switch', () => {
    for (const [value, on] of [
      ['1', true],
      ['true', true],
      ['0', false],
      ['false', false],
    ] as const) {
      const r = parseAgentEnv({ PGOPS_DEBUG: value });
      assert.ok(r.ok, value);
      assert.equal(r.value.PGOPS_DEBUG, on);
    }
    const unset = parseAgentEnv({});
    assert.ok(unset.ok);
    assert.equal(unset.value.PGOPS_DEBUG, false);
  });

  it('ignores variables outside its prefix', () => {
    const r = parseAgentEnv({ HOME: '/root', KUBERNETES_SERVICE_HOST: '10.0.0.1' });
    assert.ok(r.ok);
  });
});
