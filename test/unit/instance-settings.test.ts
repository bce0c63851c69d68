import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { OpsError } from '../../src/core/errors.js';
import {
  defaultSlotWalKeepSize,
  hbaMethod,
  hbaRules,
  slotNameFor,
  validateExtraHba,
} from '../../src/core/instance/settings.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('WAL a replication slot may hold', () => {
  it('max_slot_wal_keep_size is sized from the volume when unset: a quarter of it, at least 64MB', () => {
    assert.equal(defaultSlotWalKeepSize(10 * GiB), '2560MB');
    assert.equal(defaultSlotWalKeepSize(1 * GiB + 3), '256MB');
    assert.equal(defaultSlotWalKeepSize(100 * MiB), '64MB');
    assert.equal(defaultSlotWalKeepSize(0), '64MB');
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
  const extraLines = [
    'host all all 192.168.0.0/16 reject',
    'hostssl pyairtable pyairtable 10.0.0.0/8 scram-sha-256',
  ];
  const rules = hbaRules({
    superuser: 'postgres',
    replicationUser: 'replicator',
    extraLines,
    peerMap: 'pgops',
    tls: false,
  });
  const hba = rules.join('\n');

  it('never generates a trust, password or md5 line', () => {
    assert.doesNotMatch(hba, /trust|md5|\bpassword\b/);
    const methods = new Set(rules.map((l) => hbaMethod(l)));
    assert.deepEqual([...methods].sort(), ['peer', 'reject', 'scram-sha-256']);
  });

  it('puts the extra lines first so they can reject or narrow before the general rules', () => {
    assert.deepEqual(rules.slice(0, 2), extraLines);
    assert.equal(rules.length, 8);
  });

  it('admits only the superuser by OS identity over the socket, and everything else with scram-sha-256 over IPv4 and IPv6', () => {
    assert.deepEqual(rules.slice(2), [
      'local all postgres peer map=pgops',
      'local all all scram-sha-256',
      'host replication replicator 0.0.0.0/0 scram-sha-256',
      'host replication replicator ::/0 scram-sha-256',
      'host all all 0.0.0.0/0 scram-sha-256',
      'host all all ::/0 scram-sha-256',
    ]);
  });

  it('with TLS on, requires it for every TCP connection except over loopback', () => {
    const tls = hbaRules({ superuser: 'postgres', replicationUser: 'replicator', extraLines: [], tls: true });
    assert.deepEqual(tls, [
      'local all all scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
      'host all all ::1/128 scram-sha-256',
      'hostssl replication replicator 0.0.0.0/0 scram-sha-256',
      'hostssl replication replicator ::/0 scram-sha-256',
      'hostssl all all 0.0.0.0/0 scram-sha-256',
      'hostssl all all ::/0 scram-sha-256',
    ]);
  });

  it('every generated line passes the same check as the extra lines', () => {
    assert.deepEqual(validateExtraHba(hba, 'generated'), rules);
  });
});
