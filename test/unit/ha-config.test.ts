import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  dynamicConfig,
  dynamicConfigPatch,
  parseConfFragment,
  patroniConfig,
  splitParameters,
  type PatroniInputs,
} from '../../src/core/ha/patroni-config.js';
import { planPromotion, type PromotionInput } from '../../src/core/ha/promotion.js';
import { haView } from '../../src/core/ha/view.js';
import { scramMatches, scramVerifier } from '../../src/core/instance/scram.js';
import { cleanupAll } from '../support/cleanup.js';
import { initdbFlags } from '../support/postgres.js';

after(cleanupAll);

const dynamic = {
  ttl: 30,
  loopWait: 10,
  retryTimeout: 10,
  maximumLagOnFailover: 1048576,
  synchronous: false,
  failsafe: true,
  parameters: { max_connections: 200, wal_keep_size: '128MB' },
};

const inputs: PatroniInputs = {
  scope: 'pyairtable-stack-postgres',
  name: 'pyairtable-stack-postgres-1',
  dcs: {
    kind: 'kubernetes',
    namespace: 'pyairtable',
    labels: { app: 'pg' },
    roleLabel: 'pyairtable-stack/role',
    scopeLabel: 'cluster-name',
    podIp: '10.0.0.7',
    port: 5432,
  },
  restApi: {
    listen: '0.0.0.0:8008',
    connectAddress: '10.0.0.7:8008',
    auth: { username: 'patroni', password: 'r' },
  },
  postgres: {
    listen: '*:5432',
    connectAddress: '10.0.0.7:5432',
    dataDir: '/var/lib/postgresql/data/pgdata',
    binDir: '/usr/lib/postgresql/15/bin',
    pgpass: '/var/run/postgresql/pgops/patroni.pgpass',
    superuser: { username: 'postgres', password: 's' },
    replication: { username: 'replicator', password: 'p' },
    parameters: { log_checkpoints: 'on', max_slot_wal_keep_size: '2560MB' },
    hba: ['local all all scram-sha-256'],
    ident: [],
  },
  postBootstrap: '/usr/bin/node /app/dist/agent/main.js bootstrap-hook',
  dynamic,
  noFailover: false,
};

describe("Patroni's configuration from our settings", () => {
  const doc = patroniConfig(inputs) as Record<string, Record<string, unknown>>;

  it('keeps the leader lock on the Endpoints named after the scope, pointed at this pod', () => {
    assert.deepEqual(doc.kubernetes, {
      namespace: 'pyairtable',
      labels: { app: 'pg' },
      role_label: 'pyairtable-stack/role',
      scope_label: 'cluster-name',
      use_endpoints: true,
      pod_ip: '10.0.0.7',
      ports: [{ name: 'postgresql', port: 5432 }],
    });
    assert.equal(doc.scope, 'pyairtable-stack-postgres');
  });

  it('bootstraps with checksums and SCRAM, rewinds, manages slots, and re-clones rather than keeping a diverged member', () => {
    const bootstrap = doc.bootstrap as { initdb: unknown[]; dcs: { postgresql: Record<string, unknown> } };
    assert.deepEqual(bootstrap.initdb, [
      'data-checksums',
      { encoding: 'UTF8' },
      { locale: 'C.UTF-8' },
      { auth: 'scram-sha-256' },
    ]);
    assert.equal(bootstrap.dcs.postgresql.use_pg_rewind, true);
    assert.equal(bootstrap.dcs.postgresql.use_slots, true);
    assert.equal(doc.postgresql!.remove_data_directory_on_diverged_timelines, true);
    assert.equal(doc.postgresql!.remove_data_directory_on_rewind_failure, true);
    assert.deepEqual(doc.postgresql!.basebackup, [{ checkpoint: 'fast' }]);
    assert.deepEqual(initdbFlags(), [
      '--data-checksums',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--auth=scram-sha-256',
    ]);
  });

  it('fences a member with nofailover when failover is manual', () => {
    assert.equal(
      (patroniConfig({ ...inputs, noFailover: true }).tags as { nofailover: boolean }).nofailover,
      true,
    );
    assert.equal((doc.tags as { nofailover: boolean }).nofailover, false);
  });

  it('uses etcd3 (never the v2 etcd section) in local mode', () => {
    const local = patroniConfig({ ...inputs, dcs: { kind: 'etcd3', hosts: ['127.0.0.1:2379'] } });
    assert.deepEqual(local.etcd3, { hosts: '127.0.0.1:2379' });
    assert.equal('etcd' in local, false);
    assert.equal('kubernetes' in local, false);
  });
});

describe('chart parameters', () => {
  it('sends the settings every member must share to the cluster-wide configuration, and drops those Patroni sets', () => {
    const r = splitParameters({
      max_connections: 200,
      MAX_WAL_SENDERS: 10,
      work_mem: '16MB',
      port: 6432,
      listen_addresses: '*',
    });
    assert.deepEqual(r.clusterWide, { max_connections: 200, max_wal_senders: 10 });
    assert.deepEqual(r.local, { work_mem: '16MB' });
    assert.deepEqual(r.ignored.sort(), ['listen_addresses', 'port']);
  });

  it('drops and reports what the agent owns, whether PostgreSQL reads it per member or cluster-wide', () => {
    const fragment = {
      archive_mode: 'off',
      archive_command: 'cp %p /tmp/%f',
      archive_timeout: '0',
      restore_command: 'false',
      WAL_LEVEL: 'minimal',
      ssl: 'off',
      ssl_cert_file: '/tmp/cert',
      ssl_key_file: '/tmp/key',
      max_slot_wal_keep_size: '-1',
      password_encryption: 'md5',
      unix_socket_directories: '/tmp',
      logging_collector: 'on',
      log_destination: 'csvlog',
      work_mem: '16MB',
      max_connections: '200',
    };
    const r = splitParameters(fragment);
    assert.deepEqual(r.local, { work_mem: '16MB' });
    assert.deepEqual(r.clusterWide, { max_connections: '200' });
    assert.deepEqual(
      r.ignored.sort(),
      Object.keys(fragment)
        .filter((k) => !['work_mem', 'max_connections'].includes(k))
        .sort(),
    );
  });

  it('lets a fragment raise the WAL senders and slots replicas and backups need, never lower them', () => {
    const raised = splitParameters({ max_wal_senders: '20', max_replication_slots: 16 });
    assert.deepEqual(raised.clusterWide, { max_wal_senders: '20', max_replication_slots: 16 });
    assert.deepEqual(raised.ignored, []);
    const lowered = splitParameters({
      max_wal_senders: '0',
      max_replication_slots: '2',
      MAX_WAL_SENDERS: 'many',
    });
    assert.deepEqual(lowered.clusterWide, {});
    assert.deepEqual(lowered.ignored.sort(), ['MAX_WAL_SENDERS', 'max_replication_slots', 'max_wal_senders']);
  });

  it("reads the chart's rendered fragment as PostgreSQL would", () => {
    const r = parseConfFragment(
      "# comment\nmax_connections = '200'\nwal_compression = 'on'  # trailing\nsearch_path = '\"$user\", public'\nlog_line_prefix = 'it''s %m # not a comment'\n\n",
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.parameters, {
      max_connections: '200',
      wal_compression: 'on',
      search_path: '"$user", public',
      log_line_prefix: "it's %m # not a comment",
    });
  });

  it('refuses a line that is not a setting, and include directives, naming the line', () => {
    const r = parseConfFragment("shared_buffers = '1GB'\nthis is not a setting\ninclude 'other.conf'\n");
    assert.equal(r.errors.length, 2);
    assert.match(r.errors[0]!, /^line 2/);
    assert.match(r.errors[1]!, /^line 3: include/);
  });
});

describe("keeping Patroni's cluster-wide configuration in step", () => {
  const wanted = dynamicConfig(dynamic);
  const stored = JSON.parse(JSON.stringify(wanted)) as Record<string, unknown>;

  it('changes nothing when the stored configuration matches, numbers and strings alike', () => {
    const asStrings = JSON.parse(
      JSON.stringify(stored).replace('"max_connections":200', '"max_connections":"200"'),
    );
    assert.equal(dynamicConfigPatch(asStrings, wanted), undefined);
  });

  it('patches only what changed, and removes parameters no longer set', () => {
    const current = JSON.parse(JSON.stringify(stored)) as {
      postgresql: { parameters: Record<string, unknown> };
    };
    current.postgresql.parameters.max_prepared_transactions = 10;
    const patch = dynamicConfigPatch(
      current,
      dynamicConfig({
        ...dynamic,
        synchronous: true,
        parameters: { ...dynamic.parameters, max_connections: 300 },
      }),
    );
    assert.deepEqual(patch, {
      synchronous_mode: true,
      postgresql: { parameters: { max_connections: 300, max_prepared_transactions: null } },
    });
  });
});

describe('promotion rules', () => {
  const base: PromotionInput = {
    candidate: {
      name: 'postgres-1',
      answers: true,
      inRecovery: true,
      walReceiver: 'streaming',
      missingBytes: 0,
      isSyncStandby: false,
    },
    leader: 'postgres-0',
    leaderHealthy: true,
    synchronous: false,
    maxLagBytes: 1048576,
    force: false,
    aheadOfCandidate: [],
  };

  it('switches over to a streaming, caught-up replica while the primary is healthy', () => {
    assert.deepEqual(planPromotion(base), {
      action: 'switchover',
      from: 'postgres-0',
      to: 'postgres-1',
      missingBytes: 0,
      warnings: [],
    });
  });

  it('refuses a candidate that does not receive new WAL, saying how many bytes it lacks', () => {
    const p = planPromotion({ ...base, candidate: { ...base.candidate, missingBytes: 359192 } });
    assert.equal(p.action, 'refuse');
    assert.match((p as { reason: string }).reason, /lacks 359192 bytes/);
  });

  it('refuses a switchover to a replica that is not the synchronous standby in synchronous mode', () => {
    const p = planPromotion({ ...base, synchronous: true });
    assert.equal(p.action, 'refuse');
    assert.match((p as { reason: string }).reason, /not the synchronous standby/);
    assert.equal(
      planPromotion({ ...base, synchronous: true, candidate: { ...base.candidate, isSyncStandby: true } })
        .action,
      'switchover',
    );
  });

  it('fails over when the primary is gone, within the bound, naming a replica that has more WAL', () => {
    const p = planPromotion({
      ...base,
      leaderHealthy: false,
      candidate: { ...base.candidate, walReceiver: null, missingBytes: 1000 },
      aheadOfCandidate: [{ name: 'postgres-2', bytes: 1000 }],
    });
    assert.equal(p.action, 'failover');
    assert.match((p as { warnings: string[] }).warnings[0]!, /postgres-2 has 1000 bytes of WAL more/);
  });

  it('refuses a failover beyond the bound or with an unknown lag, unless forced', () => {
    const far = { ...base, leaderHealthy: false, candidate: { ...base.candidate, missingBytes: 5_000_000 } };
    assert.equal(planPromotion(far).action, 'refuse');
    const forced = planPromotion({ ...far, force: true });
    assert.equal(forced.action, 'failover');
    assert.match((forced as { warnings: string[] }).warnings[0]!, /^forced: .*5000000 bytes/);
    assert.equal(
      planPromotion({ ...far, candidate: { ...far.candidate, missingBytes: null } }).action,
      'refuse',
    );
  });

  it('does nothing for the member that already leads, and refuses one whose PostgreSQL does not answer', () => {
    assert.equal(
      planPromotion({ ...base, leader: 'postgres-1', candidate: { ...base.candidate, inRecovery: false } })
        .action,
      'none',
    );
    assert.equal(
      planPromotion({ ...base, candidate: { ...base.candidate, answers: false } }).action,
      'refuse',
    );
  });
});

describe("Patroni's view of the cluster", () => {
  it('names the leader, the synchronous standby and each member state', () => {
    const v = haView(
      {
        members: [
          {
            name: 'postgres-0',
            role: 'leader',
            state: 'running',
            timeline: 3,
            host: '127.0.0.1',
            port: 5432,
          },
          {
            name: 'postgres-1',
            role: 'sync_standby',
            state: 'running',
            timeline: 3,
            lag: 0,
            pending_restart: true,
          },
          {
            name: 'postgres-2',
            role: 'replica',
            state: 'stopped',
            lag: 'unknown',
            tags: { nofailover: true },
          },
        ],
      },
      { synchronous_mode: true },
      'manual',
    );
    assert.equal(v.leader, 'postgres-0');
    assert.deepEqual(v.synchronousStandby, ['postgres-1']);
    assert.equal(v.synchronous, true);
    assert.equal(v.failover, 'manual');
    assert.deepEqual(
      v.members.map((m) => [m.name, m.role, m.patroniState, m.lagBytes, m.pendingRestart, m.noFailover]),
      [
        ['postgres-0', 'primary', 'running', 0, false, false],
        ['postgres-1', 'replica', 'running', 0, true, false],
        ['postgres-2', 'replica', 'stopped', null, false, true],
      ],
    );
  });
});

describe('password rotation check', () => {
  it('recognises the password a stored SCRAM verifier was made from, and only that one', () => {
    const v = scramVerifier('s3cret');
    assert.equal(scramMatches(v, 's3cret'), true);
    assert.equal(scramMatches(v, 's3cret2'), false);
    assert.equal(scramMatches('md5abcdef', 's3cret'), false);
    assert.equal(scramMatches(null, 's3cret'), false);
  });
});
