import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { OpsError } from '../../src/core/errors.js';
import {
  confValue,
  defaultSlotWalKeepSize,
  hbaMethod,
  renderHba,
  renderPostgresqlConf,
  slotNameFor,
  validateExtraHba,
  type InstanceSettingsInput,
} from '../../src/core/instance/settings.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const base: InstanceSettingsInput = {
  port: 5432,
  listenAddresses: '*',
  socketDir: '/var/run/postgresql',
  maxSlotWalKeepSize: '2560MB',
};

/** The settings of a generated postgresql.conf, last one wins as PostgreSQL reads them. */
function settingsOf(conf: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of conf.split('\n')) {
    const hit = /^(\w+) = (.*)$/.exec(line);
    if (hit) m.set(hit[1]!, hit[2]!);
  }
  return m;
}
function lineIndex(conf: string, re: RegExp): number {
  return conf.split('\n').findIndex((l) => re.test(l));
}

describe('postgresql.conf', () => {
  it('max_slot_wal_keep_size is sized from the volume when unset: a quarter of it, at least 64MB', () => {
    assert.equal(defaultSlotWalKeepSize(10 * GiB), '2560MB');
    assert.equal(defaultSlotWalKeepSize(1 * GiB + 3), '256MB');
    assert.equal(defaultSlotWalKeepSize(100 * MiB), '64MB');
    assert.equal(defaultSlotWalKeepSize(0), '64MB');
    const conf = renderPostgresqlConf({ ...base, maxSlotWalKeepSize: defaultSlotWalKeepSize(20 * GiB) });
    assert.equal(settingsOf(conf).get('max_slot_wal_keep_size'), "'5120MB'");
  });

  it('writes the tunable defaults, then the mounted fragment, then the settings the agent relies on', () => {
    const conf = renderPostgresqlConf({ ...base, configFile: '/etc/pgops/postgresql.conf' });
    const include = lineIndex(conf, /^include_if_exists = '\/etc\/pgops\/postgresql\.conf'$/);
    assert.ok(include > 0, conf);
    for (const k of ['max_wal_senders', 'max_replication_slots', 'max_slot_wal_keep_size', 'wal_keep_size']) {
      const i = lineIndex(conf, new RegExp(`^${k} = `));
      assert.ok(i >= 0 && i < include, `${k} comes before the fragment so the fragment may override it`);
    }
    for (const k of [
      'port',
      'listen_addresses',
      'unix_socket_directories',
      'wal_level',
      'hot_standby',
      'password_encryption',
      'logging_collector',
      'log_destination',
      'recovery_target_timeline',
    ]) {
      assert.ok(
        lineIndex(conf, new RegExp(`^${k} = `)) > include,
        `${k} comes after the fragment, which cannot override it`,
      );
    }
  });

  it('enforces replication, scram-sha-256, logging to stderr and following the latest timeline', () => {
    const s = settingsOf(renderPostgresqlConf(base));
    assert.equal(s.get('port'), '5432');
    assert.equal(s.get('listen_addresses'), "'*'");
    assert.equal(s.get('unix_socket_directories'), "'/var/run/postgresql'");
    assert.equal(s.get('wal_level'), "'replica'");
    assert.equal(s.get('hot_standby'), 'on');
    assert.equal(s.get('password_encryption'), "'scram-sha-256'");
    assert.equal(s.get('logging_collector'), 'off');
    assert.equal(s.get('log_destination'), "'stderr'");
    assert.equal(s.get('recovery_target_timeline'), "'latest'");
    assert.equal(s.get('max_wal_senders'), '10');
    assert.equal(s.get('max_replication_slots'), '10');
    assert.equal(s.get('wal_keep_size'), "'128MB'");
  });

  it('has no include line when no configuration file is mounted', () => {
    assert.doesNotMatch(renderPostgresqlConf(base), /include/);
  });

  it('turns ssl on with tls.crt and tls.key only when a TLS directory is given', () => {
    assert.equal(settingsOf(renderPostgresqlConf(base)).has('ssl'), false);
    const s = settingsOf(renderPostgresqlConf({ ...base, tlsDir: '/etc/pgops/tls' }));
    assert.equal(s.get('ssl'), 'on');
    assert.equal(s.get('ssl_cert_file'), "'/etc/pgops/tls/tls.crt'");
    assert.equal(s.get('ssl_key_file'), "'/etc/pgops/tls/tls.key'");
  });

  it('a primary has no primary_conninfo or primary_slot_name', () => {
    const s = settingsOf(renderPostgresqlConf(base));
    assert.equal(s.has('primary_conninfo'), false);
    assert.equal(s.has('primary_slot_name'), false);
  });

  it('a standby streams through its slot with a passfile, and its conninfo never holds a password', () => {
    const conf = renderPostgresqlConf({
      ...base,
      standby: {
        host: 'pyairtable-stack-postgres',
        port: 5433,
        user: 'replicator',
        passfile: '/var/run/postgresql/.pgops-replication.pgpass',
        slot: 'postgres_replica_0',
        applicationName: 'postgres_replica_0',
      },
    });
    const s = settingsOf(conf);
    assert.equal(
      s.get('primary_conninfo'),
      "'host=pyairtable-stack-postgres port=5433 user=replicator dbname=postgres passfile=/var/run/postgresql/.pgops-replication.pgpass application_name=postgres_replica_0 connect_timeout=5'",
    );
    assert.equal(s.get('primary_slot_name'), "'postgres_replica_0'");
    assert.doesNotMatch(conf, /password\s*=/);
  });

  it('quotes strings as postgresql.conf reads them, so a quote in a path cannot end the value early', () => {
    assert.equal(confValue("/tmp/it's"), "'/tmp/it''s'");
    assert.equal(confValue('C:\\dir'), "'C:\\\\dir'");
    assert.equal(confValue(5432), '5432');
    assert.equal(confValue(true), 'on');
    assert.equal(confValue(false), 'off');
    const s = settingsOf(renderPostgresqlConf({ ...base, socketDir: "/run/pg' port = 1" }));
    assert.equal(s.get('port'), '5432');
    assert.equal(s.get('unix_socket_directories'), "'/run/pg'' port = 1'");
  });
});

describe('replication slot names', () => {
  it('derives the slot from the pod name with only the characters PostgreSQL allows', () => {
    assert.equal(slotNameFor('postgres-replica-0'), 'postgres_replica_0');
    assert.equal(slotNameFor('Postgres.Replica-1'), 'postgres_replica_1');
  });

  it('keeps a slot name within 63 characters and never empty', () => {
    assert.equal(slotNameFor('a'.repeat(80)).length, 63);
    assert.equal(slotNameFor(''), 'replica');
  });
});

describe('extra pg_hba lines (PGOPS_HBA_FILE)', () => {
  function refusal(text: string): OpsError {
    try {
      validateExtraHba(text, '/etc/pgops/pg_hba.conf');
    } catch (err) {
      assert.ok(err instanceof OpsError);
      return err;
    }
    assert.fail(`accepted: ${text}`);
  }

  it('accepts scram-sha-256, reject, cert and peer lines and returns them trimmed, without comments and blank lines', () => {
    const lines = validateExtraHba(
      [
        '# narrow the application to the cluster network',
        '  hostssl pyairtable pyairtable 10.0.0.0/8 scram-sha-256  ',
        '',
        'host all all 192.168.1.0 255.255.255.0 reject',
        'hostssl all all 0.0.0.0/0 cert clientcert=verify-full',
        'local all postgres peer',
      ].join('\n'),
      'hba',
    );
    assert.deepEqual(lines, [
      'hostssl pyairtable pyairtable 10.0.0.0/8 scram-sha-256',
      'host all all 192.168.1.0 255.255.255.0 reject',
      'hostssl all all 0.0.0.0/0 cert clientcert=verify-full',
      'local all postgres peer',
    ]);
  });

  it('rejects an extra hba line using md5 and names the line', () => {
    const err = refusal('host all all 10.0.0.0/8 scram-sha-256\nhost all all 0.0.0.0/0 md5\n');
    assert.equal(err.exitCode, 2);
    assert.equal(err.code, 'E_HBA_METHOD');
    assert.match(err.message, /^\/etc\/pgops\/pg_hba\.conf has pg_hba lines/);
    assert.match(err.message, /line 2: "host all all 0\.0\.0\.0\/0 md5" uses md5/);
    assert.doesNotMatch(err.message, /line 1/);
    assert.match(err.hint ?? '', /scram-sha-256/);
  });

  it('refuses trust and password in every connection type and lists every bad line', () => {
    const err = refusal(
      [
        'local all all trust',
        'host all all 0.0.0.0/0 password',
        'hostssl all all ::/0 trust',
        'hostnossl all all 10.1.0.0/16 TRUST',
        'hostgssenc all all samenet trust # temporary',
      ].join('\n'),
    );
    for (let n = 1; n <= 5; n++) assert.match(err.message, new RegExp(`line ${n}: `));
  });

  it('finds the method after a separate netmask, for IPv4 and IPv6, and after a host name', () => {
    refusal('host all all 10.0.0.0 255.0.0.0 trust');
    refusal('host all all fe80:: ffff:ffff:: md5');
    refusal('host all all .example.com trust');
    assert.equal(hbaMethod('host all all 10.0.0.0 255.0.0.0 trust'), 'trust');
    assert.equal(hbaMethod('host all all fe80::/10 trust'), 'trust');
    assert.equal(hbaMethod('# host all all 0.0.0.0/0 trust'), undefined);
  });

  it('a quoted name with a space does not hide a trust line', () => {
    const err = refusal('host "my db" all 10.0.0.0/8 trust');
    assert.match(err.message, /line 1: .* uses trust/);
    assert.equal(hbaMethod('host all "app user" 10.0.0.0 255.0.0.0 md5'), 'md5');
    assert.equal(hbaMethod('host "a#b" all 10.0.0.0/8 reject'), 'reject');
  });

  it('a list written with spaces after its commas does not hide a trust line', () => {
    const err = refusal('host db1, db2 all 10.0.0.0/8 trust');
    assert.match(err.message, /uses trust/);
  });

  it('a quoted method is still recognised', () => {
    assert.match(refusal('host all all 0.0.0.0/0 "trust"').message, /uses "?trust/);
  });

  it('reports a rule without an authentication method instead of dropping it', () => {
    const err = refusal('host all all 10.0.0.0/8');
    assert.match(err.message, /line 1: "host all all 10\.0\.0\.0\/8" has no authentication method/);
  });

  it('refuses include directives, whose files cannot be checked', () => {
    const err = refusal('include_if_exists /etc/extra/pg_hba.conf');
    assert.match(err.message, /line 1: .*include/);
  });

  it('refuses a rule continued on the next line, which could carry its method past the check', () => {
    const err = refusal('host all all 0.0.0.0/0 \\\ntrust');
    assert.match(err.message, /line 1: .*next line/);
  });
});

describe('pg_hba.conf', () => {
  const hba = renderHba({
    replicationUser: 'replicator',
    extraLines: [
      'host all all 192.168.0.0/16 reject',
      'hostssl pyairtable pyairtable 10.0.0.0/8 scram-sha-256',
    ],
  });
  const rules = hba.split('\n').filter((l) => hbaMethod(l) !== undefined);

  it('never generates a trust line in pg_hba', () => {
    assert.doesNotMatch(hba, /trust|md5|\bpassword\b/);
    const methods = new Set(rules.map((l) => hbaMethod(l)));
    assert.deepEqual([...methods].sort(), ['reject', 'scram-sha-256']);
  });

  it('puts the extra lines first so they can reject or narrow before the general rules', () => {
    assert.equal(rules[0], 'host all all 192.168.0.0/16 reject');
    assert.equal(rules[1], 'hostssl pyairtable pyairtable 10.0.0.0/8 scram-sha-256');
    assert.equal(rules.length, 7);
  });

  it('allows local sockets, replication by the replication user and all databases, over IPv4 and IPv6, with scram-sha-256', () => {
    const norm = rules.slice(2).map((l) => l.split(/\s+/).join(' '));
    assert.deepEqual(norm, [
      'local all all scram-sha-256',
      'host replication replicator 0.0.0.0/0 scram-sha-256',
      'host replication replicator ::/0 scram-sha-256',
      'host all all 0.0.0.0/0 scram-sha-256',
      'host all all ::/0 scram-sha-256',
    ]);
  });

  it('every generated line passes the same check as the extra lines', () => {
    assert.deepEqual(validateExtraHba(hba, 'generated'), rules);
  });
});
