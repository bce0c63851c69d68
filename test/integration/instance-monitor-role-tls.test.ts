/**
 * Two things the primary's agent keeps true on a running server, against a real PostgreSQL: the
 * metrics exporter's role (pg_monitor, read access to the backup history, nothing more, its password
 * following the secret), and TLS: hostssl enforced for remote clients, jobs connecting with
 * sslmode=require, and a renewed certificate served after a reload without a restart.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { TLSSocket } from 'node:tls';
import { BACKUP_HISTORY_DDL } from '../../src/core/backup/history-sql.js';
import { loadAgentConfig } from '../../src/core/config/load.js';
import { hbaRules } from '../../src/core/instance/settings.js';
import { toClientConfig } from '../../src/core/pg/conninfo.js';
import { ensureMonitorRole } from '../../src/runtime/instance/leader-duties.js';
import { TlsReloader } from '../../src/runtime/instance/tls-files.js';
import { cleanupAll } from '../support/cleanup.js';
import { chownToPostgres } from '../support/os-user.js';
import { startPostgres, TEST_PASSWORD, type PgServer } from '../support/postgres.js';
import { postgresOwnedDir, tempDir } from '../support/tmp.js';

after(cleanupAll);

async function loginAs(
  server: PgServer,
  user: string,
  password: string,
  extra: Partial<pg.ClientConfig> = {},
) {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user,
    password,
    database: 'postgres',
    ...extra,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function withSuperuser<T>(server: PgServer, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await server.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe("the exporter's monitoring role", () => {
  let server: PgServer;
  const env = (password: string) => loadAgentConfig({ PGOPS_MONITOR_PASSWORD: password });

  before(async () => {
    server = await startPostgres({ name: 'monitor-role' });
  });

  it('is created as a pg_monitor member that reads the backup history and cannot write anything', async () => {
    const changes = await withSuperuser(server, (c) => ensureMonitorRole(c, env('first-password')));
    assert.ok(
      changes.some((c) => /created role pgops_monitor/.test(c)),
      changes.join('\n'),
    );
    const m = await loginAs(server, 'pgops_monitor', 'first-password');
    try {
      const r = await m.query<{ super: boolean; monitor: boolean }>(
        "SELECT rolsuper AS super, pg_has_role('pg_monitor', 'MEMBER') AS monitor FROM pg_roles WHERE rolname = current_user",
      );
      assert.deepEqual(r.rows[0], { super: false, monitor: true });
      assert.equal((await m.query('SELECT count(*)::int AS n FROM pgops.backup_history')).rows[0].n, 0);
      assert.equal((await m.query('SELECT count(*)::int AS n FROM pgops.drill_history')).rows[0].n, 0);
      await assert.rejects(
        m.query(
          "INSERT INTO pgops.backup_history (name, database, status, started_at, finished_at, duration_seconds) VALUES ('x', 'd', 'success', now(), now(), 1)",
        ),
        /permission denied/,
      );
      await assert.rejects(m.query('CREATE TABLE public.t (i int)'), /permission denied/);
    } finally {
      await m.end();
    }
  });

  it('changes nothing when the role already matches, and applies a changed password', async () => {
    assert.deepEqual(await withSuperuser(server, (c) => ensureMonitorRole(c, env('first-password'))), []);
    const changes = await withSuperuser(server, (c) => ensureMonitorRole(c, env('second-password')));
    assert.deepEqual(changes, ['applied the new password of role pgops_monitor']);
    await (await loginAs(server, 'pgops_monitor', 'second-password')).end();
    await assert.rejects(
      loginAs(server, 'pgops_monitor', 'first-password'),
      /password authentication failed/,
    );
  });

  it('gives a role that exists without them its login, pg_monitor and read access (a cluster from before)', async () => {
    await withSuperuser(server, async (c) => {
      await c.query('DROP OWNED BY pgops_monitor');
      await c.query('DROP ROLE pgops_monitor');
      await c.query('CREATE ROLE pgops_monitor NOLOGIN');
    });
    const changes = await withSuperuser(server, (c) => ensureMonitorRole(c, env('third-password')));
    assert.deepEqual(changes, [
      'applied the new password of role pgops_monitor',
      'granted pg_monitor to pgops_monitor',
      'granted pgops_monitor read access to pgops.backup_history, pgops.physical_backup_history, pgops.recoverability, pgops.drill_history',
    ]);
    const m = await loginAs(server, 'pgops_monitor', 'third-password');
    for (const t of ['backup_history', 'physical_backup_history', 'recoverability', 'drill_history'])
      await m.query(`SELECT count(*) FROM pgops.${t}`);
    await m.end();
  });

  it('does nothing without a monitoring password (local runs that do not use the exporter)', async () => {
    assert.deepEqual(await withSuperuser(server, (c) => ensureMonitorRole(c, loadAgentConfig({}))), []);
  });

  it('creates the tables the exporter reads when the cluster has none yet', async () => {
    await withSuperuser(server, (c) => c.query('DROP SCHEMA pgops CASCADE'));
    await withSuperuser(server, (c) => ensureMonitorRole(c, env('third-password')));
    const m = await loginAs(server, 'pgops_monitor', 'third-password');
    assert.equal((await m.query('SELECT count(*)::int AS n FROM pgops.backup_history')).rows[0].n, 0);
    assert.equal((await m.query('SELECT count(*)::int AS n FROM pgops.drill_history')).rows[0].n, 0);
    await m.end();
    // Kept idempotent: the DDL is there once, the grant too.
    await withSuperuser(server, (c) => c.query(BACKUP_HISTORY_DDL));
  });
});

/** A self-signed certificate and key for CN=<cn>, written as tls.crt/tls.key into `dir`. */
function certificate(dir: string, cn: string) {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      join(dir, 'tls.key'),
      '-out',
      join(dir, 'tls.crt'),
    ],
    { stdio: 'ignore' },
  );
}

function remoteAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

async function servedCommonName(server: PgServer, host = '127.0.0.1'): Promise<string> {
  const c = new pg.Client(
    toClientConfig(
      { host, port: server.port, user: 'postgres', database: 'postgres', params: { sslmode: 'require' } },
      TEST_PASSWORD,
    ),
  );
  await c.connect();
  try {
    const stream = (c as unknown as { connection: { stream: TLSSocket } }).connection.stream;
    return String(stream.getPeerCertificate().subject.CN);
  } finally {
    await c.end();
  }
}

describe('TLS on a member', () => {
  let server: PgServer;
  let tlsDir: string;
  const remote = remoteAddress();

  before(async () => {
    const base = tempDir();
    tlsDir = postgresOwnedDir(base, 'tls');
    certificate(tlsDir, 'first-certificate');
    for (const f of ['tls.crt', 'tls.key']) chownToPostgres(join(tlsDir, f));
    server = await startPostgres({
      name: 'tls',
      baseDir: base,
      settings: {
        listen_addresses: remote ? `127.0.0.1,${remote}` : '127.0.0.1',
        ssl: 'on',
        ssl_cert_file: join(tlsDir, 'tls.crt'),
        ssl_key_file: join(tlsDir, 'tls.key'),
      },
    });
    // The member's own rules with TLS on: hostssl for every non-loopback address.
    const hba = hbaRules({ superuser: 'postgres', replicationUser: 'replicator', extraLines: [], tls: true });
    writeFileSync(join(server.dataDir, 'pg_hba.conf'), hba.join('\n') + '\n');
    await server.query('SELECT pg_reload_conf()');
  });

  it('refuses a remote client without TLS and admits a job connecting with sslmode=require', async (t) => {
    if (!remote) return t.skip('this machine has no non-loopback IPv4 address');
    const plain = new pg.Client(
      toClientConfig(
        { host: remote, port: server.port, user: 'postgres', database: 'postgres' },
        TEST_PASSWORD,
      ),
    );
    plain.on('error', () => undefined);
    await assert.rejects(plain.connect(), /no pg_hba\.conf entry .*no encryption/);
    assert.equal(await servedCommonName(server, remote), 'first-certificate');
  });

  it('lets libpq tools in with PGSSLMODE=require, as the backup job runs pg_dump', (t) => {
    if (!remote) return t.skip('this machine has no non-loopback IPv4 address');
    const passfile = join(tempDir(), 'pgpass');
    writeFileSync(passfile, `*:*:*:postgres:${TEST_PASSWORD}\n`, { mode: 0o600 });
    const run = (sslmode: string) =>
      execFileSync(
        join(server.binDir, 'psql'),
        ['-XAtc', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            PATH: process.env.PATH,
            PGHOST: remote,
            PGPORT: String(server.port),
            PGUSER: 'postgres',
            PGDATABASE: 'postgres',
            PGPASSFILE: passfile,
            PGSSLMODE: sslmode,
          },
        },
      );
    assert.equal(run('require').trim(), 't');
    assert.throws(() => run('disable'), /no encryption/);
  });

  it('serves a renewed certificate after the reloader sees the files change, without a restart', async () => {
    const pid = server.postmasterPid();
    const reloader = new TlsReloader(tlsDir);
    const client = await server.connect();
    try {
      assert.equal(await reloader.check(client), false, 'nothing changed yet');
      // As the kubelet does: the new files appear in place of the old ones.
      const staging = postgresOwnedDir(tempDir(), 'next');
      certificate(staging, 'renewed-certificate');
      for (const f of ['tls.crt', 'tls.key']) {
        copyFileSync(join(staging, f), join(tlsDir, `${f}.new`));
        chownToPostgres(join(tlsDir, `${f}.new`));
      }
      renameSync(join(tlsDir, 'tls.key.new'), join(tlsDir, 'tls.key'));
      renameSync(join(tlsDir, 'tls.crt.new'), join(tlsDir, 'tls.crt'));
      assert.equal(await reloader.check(client), true);
      assert.equal(await reloader.check(client), false, 'one reload per change');
    } finally {
      await client.end();
    }
    assert.equal(await servedCommonName(server), 'renewed-certificate');
    assert.equal(server.postmasterPid(), pid, 'the server was not restarted');
  });
});
