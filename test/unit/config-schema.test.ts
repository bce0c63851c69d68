import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadAgentConfig } from '../../src/core/config/load.js';
import { agentConfigJsonSchema, parseAgentEnv, settingRows } from '../../src/core/config/schema.js';
import { UsageError } from '../../src/core/errors.js';

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

  it('parses the environment once into a configuration shaped like the chart values, typed', () => {
    const config = loadAgentConfig({
      PGOPS_BACKUP_RETENTION_DAYS: '3',
      PGOPS_PITR: 'yes',
      PGOPS_FAILOVER: 'manual',
      PGOPS_SNAPSHOT_RETENTION_COUNT: '4',
      PGOPS_SYNC_PROVIDER: 's3',
      PGOPS_MAX_SLOT_WAL_KEEP_SIZE: '2GB',
    });
    assert.equal(config.backup.retentionDays, 3);
    assert.equal(config.pitr.enabled, true);
    assert.equal(config.pitr.retentionFull, 2);
    assert.equal(config.ha.failover, 'manual');
    assert.equal(config.ha.synchronous, false);
    assert.equal(config.snapshot.retentionCount, 4);
    assert.equal(config.sync.provider, 's3');
    assert.equal(config.sync.bucket, undefined);
    assert.equal(config.postgresql.maxSlotWalKeepSize, '2GB');
    assert.equal(config.instance.dataDir, '/var/lib/postgresql/data/pgdata');
    assert.equal(config.instance.port, 5432);
  });

  it('refuses a bad environment with the same message and hint whichever view is asked for', () => {
    assert.throws(
      () => loadAgentConfig({ PGOPS_BACKUP_RETENTION_DAYS: '0', PGOPS_BAKUP_DIR: '/x' }),
      (e: unknown) =>
        e instanceof UsageError &&
        /^invalid agent configuration:\n/.test(e.message) &&
        /PGOPS_BACKUP_RETENTION_DAYS: expected a number >= 1/.test(e.message) &&
        /PGOPS_BAKUP_DIR: unknown setting \(check the spelling\)/.test(e.message) &&
        /docs\/configuration\.md/.test(e.hint ?? ''),
    );
  });

  it('names every setting once: one env name, one config path, one chart value per setting', () => {
    const once = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) !== i);
    assert.deepEqual(once(settingRows.map((r) => r.env)), []);
    assert.deepEqual(once(settingRows.map((r) => r.path)), []);
    const copied = settingRows.filter((r) => r.values && !r.derived).map((r) => r.values!);
    assert.deepEqual(once(copied), []);
    for (const r of settingRows) assert.match(r.env, /^(PGOPS_[A-Z0-9_]+|PGDATA)$/);
  });

  it('describes the parsed settings as JSON Schema: numbers, booleans, enums and patterns as the code sees them', () => {
    type Node = Record<string, unknown>;
    const schema = agentConfigJsonSchema() as {
      properties: Record<string, { properties: Record<string, Node> }>;
    };
    const at = (section: string, name: string) => schema.properties[section]!.properties[name]!;
    assert.deepEqual(
      { type: at('backup', 'retentionDays').type, minimum: at('backup', 'retentionDays').minimum },
      { type: 'integer', minimum: 1 },
    );
    assert.equal(at('backup', 'retentionDays').maximum, undefined);
    assert.equal(at('backup', 'retentionDays').default, 7);
    assert.equal(at('pitr', 'enabled').type, 'boolean');
    assert.deepEqual(at('ha', 'failover').enum, ['automatic', 'manual']);
    assert.equal(at('postgresql', 'maxSlotWalKeepSize').pattern, '^$|^-1$|^[0-9]+(kB|MB|GB|TB)?$');
    assert.deepEqual(Object.keys(schema.properties), [
      'agent',
      'instance',
      'postgresql',
      'ha',
      'pitr',
      'roles',
      'connection',
      'backup',
      'restore',
      'snapshot',
      'sync',
      'migration',
    ]);
  });
});
