import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

function agent(pg: PgServer, dir: string, args: string[], extra: Record<string, string> = {}) {
  return runAgentSync(args, backupAgentEnv(pg, dir, extra));
}

const FIXTURE = `
CREATE EXTENSION pgcrypto;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE ROLE reader NOLOGIN;
CREATE ROLE writer NOLOGIN;
GRANT reader TO writer;
CREATE TABLE kinds (
  id serial PRIMARY KEY, n numeric(20,6), j jsonb, a int[], b bytea, t timestamptz, u uuid,
  m mood, r int4range, tr tstzrange, txt text
);
INSERT INTO kinds (n, j, a, b, t, u, m, r, tr, txt)
SELECT i * 1.5, jsonb_build_object('i', i, 'arr', jsonb_build_array(i, 'x')), ARRAY[i, i+1],
       digest(i::text, 'sha256'), '2024-01-01 02:00:00+00'::timestamptz + i * interval '1 hour',
       gen_random_uuid(), (ARRAY['sad','ok','happy']::mood[])[1 + i % 3], int4range(i, i + 10),
       tstzrange('2024-01-01', '2024-02-01'), repeat('é', i % 7)
  FROM generate_series(1, 500) i;
CREATE SEQUENCE counter START 100;
SELECT nextval('counter') FROM generate_series(1, 42);
CREATE SCHEMA other;
CREATE TABLE other.empty_one (x int);
GRANT SELECT ON kinds TO reader;
GRANT USAGE ON SCHEMA other TO writer;
SELECT lo_from_bytea(0, 'large object payload');
`;

async function fingerprint(pg: PgServer, db: string) {
  const q = async (sql: string) => JSON.stringify(await pg.query(sql, [], db));
  return {
    kinds: await q(`SELECT md5(string_agg(k::text, ',' ORDER BY id)) AS h, count(*) AS n FROM kinds k`),
    seq: await q(`SELECT last_value, is_called FROM counter`),
    serial: await q(`SELECT last_value FROM kinds_id_seq`),
    grants: await q(
      `SELECT grantee, table_schema, table_name, privilege_type FROM information_schema.role_table_grants
        WHERE grantee IN ('reader','writer') ORDER BY 1,2,3,4`,
    ),
    schemaAcl: await q(`SELECT nspacl::text FROM pg_namespace WHERE nspname = 'other'`),
    lo: await q(`SELECT encode(lo_get(oid), 'escape') AS v FROM pg_largeobject_metadata ORDER BY oid`),
    ext: await q(`SELECT extname FROM pg_extension ORDER BY 1`),
    empty: await q(`SELECT count(*) FROM other.empty_one`),
  };
}

describe('backup and restore round trip', () => {
  let pg: PgServer;
  let dir: string;
  before(async () => {
    pg = await startPostgres();
    dir = tempDir();
    await pg.query('CREATE DATABASE app');
    await pg.query(FIXTURE, [], 'app');
  });

  it('backs up, drops and restores a database with many types, large objects, roles and grants identically', async () => {
    const expected = await fingerprint(pg, 'app');
    const b = agent(pg, dir, ['backup', '--name', 'roundtrip', '-o', 'json']);
    assert.equal(b.code, 0, b.stderr);
    const files = readdirSync(dir).sort();
    assert.deepEqual(files, ['roundtrip.dump', 'roundtrip.globals.sql', 'roundtrip.manifest.json']);
    const m = JSON.parse(readFileSync(join(dir, 'roundtrip.manifest.json'), 'utf8'));
    assert.equal(m.kind, 'pyairtable-stack/postgres-backup');
    assert.equal(m.tableRowCounts['public.kinds'], 500);
    assert.equal(m.verified, true);
    assert.equal(m.globalsIncludePasswords, false);
    assert.doesNotMatch(readFileSync(join(dir, 'roundtrip.globals.sql'), 'utf8'), /SCRAM-SHA-256/);

    await pg.query('DROP DATABASE app');
    await pg.query('DROP ROLE writer');
    await pg.query('DROP ROLE reader');
    const r = agent(pg, dir, ['restore', 'roundtrip']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fingerprint(pg, 'app'), expected);
    const [member] = await pg.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_auth_members WHERE roleid = 'reader'::regrole AND member = 'writer'::regrole`,
    );
    assert.equal(member!.n, '1');
  });

  it('lists backups newest first, with the documented JSON fields', () => {
    const r = agent(pg, dir, ['list-backups', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    assert.equal(list[0].name, 'roundtrip');
    assert.deepEqual(Object.keys(list[0]).sort(), [
      'createdAt',
      'damaged',
      'damagedReason',
      'database',
      'deepVerifiedAt',
      'file',
      'name',
      'sha256',
      'sizeBytes',
      'verified',
      'verifiedAt',
    ]);
    assert.equal(list[0].file, join(dir, 'roundtrip.dump'));
    assert.equal(list[0].damaged, false);
    assert.equal(list[0].damagedReason, null);
  });

  it('refuses to reuse an existing backup name with exit 2', () => {
    const r = agent(pg, dir, ['backup', '--name', 'roundtrip']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /already exists/);
  });

  it('deep-verifies a backup by restoring it into a scratch database that is dropped afterwards', async () => {
    const r = agent(pg, dir, ['verify', 'roundtrip', '--deep']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(readFileSync(join(dir, 'roundtrip.manifest.json'), 'utf8'));
    assert.ok(m.deepVerifiedAt);
    const scratch = await pg.query(`SELECT datname FROM pg_database WHERE datname LIKE 'pgops_verify_%'`);
    assert.deepEqual(scratch, []);
  });

  it('refuses to replace an existing database without --yes when there is no terminal, changing nothing', async () => {
    await pg.query(`INSERT INTO kinds (txt) VALUES ('after backup')`, [], 'app');
    const r = agent(pg, dir, ['restore', 'roundtrip', '--replace']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /--yes/);
    const [row] = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM kinds`, [], 'app');
    assert.equal(row!.n, '501');
    const noReplace = agent(pg, dir, ['restore', 'roundtrip', '--yes']);
    assert.equal(noReplace.code, 3, noReplace.stderr);
    assert.match(noReplace.stderr, /--replace/);
  });

  it('replaces an existing database in use after a safety backup, with the restored data and no leftovers', async () => {
    const app = await pg.connect('app');
    const gone = new Promise<void>((res) => app.on('error', () => res()));
    const r = agent(pg, dir, ['restore', 'roundtrip', '--replace', '--yes', '--jobs', '2']);
    assert.equal(r.code, 0, r.stderr);
    await gone;
    await app.end().catch(() => undefined);
    const [row] = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM kinds`, [], 'app');
    assert.equal(row!.n, '500');
    const safety = readdirSync(dir).filter(
      (f) => f.startsWith('pre-restore-app-') && f.endsWith('.manifest.json'),
    );
    assert.equal(safety.length, 1);
    const sm = JSON.parse(readFileSync(join(dir, safety[0]!), 'utf8'));
    assert.equal(sm.tableRowCounts['public.kinds'], 501);
    const dbs = await pg.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'app\\_\\_%'`,
    );
    assert.deepEqual(dbs, []);
    const [hist] = await pg.query<{ n: string }>(
      `SELECT count(*) AS n FROM pgops.backup_history WHERE status = 'success' AND database = 'app'`,
    );
    assert.equal(hist!.n, '2');
  });

  it('restores a .sql.gz made by pg_dump | gzip, told apart by its content', async () => {
    const gz = join(dir, 'external.sql.gz');
    const dump = spawnSync(join(pg.binDir, 'pg_dump'), ['-d', 'app', '--no-owner'], { env: pg.pgEnv('app') });
    assert.equal(dump.status, 0, String(dump.stderr));
    const zipped = spawnSync('gzip', ['-c'], { input: dump.stdout });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(gz, zipped.stdout);
    const r = agent(pg, dir, ['restore', gz, '--target-database', 'app_copy']);
    assert.equal(r.code, 0, r.stderr);
    const [row] = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM kinds`, [], 'app_copy');
    assert.equal(row!.n, '500');
  });

  it("accepts the guide's /backups/postgres/NAME.sql.gz spelling for a backup named NAME", async () => {
    const r = agent(pg, dir, ['restore', join(dir, 'roundtrip.sql.gz'), '--target-database', 'app_guide']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /using backup roundtrip/);
    assert.equal(existsSync(join(dir, 'roundtrip.sql.gz')), false);
    const [row] = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM kinds`, [], 'app_guide');
    assert.equal(row!.n, '500');
  });
});
