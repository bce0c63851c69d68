/**
 * Parallel backups (pg_dump --format=directory --jobs N) are one file, NAME.dump, that every command
 * treats exactly like a custom-format backup: listed, verified (also deeply), restored by name, by
 * path and by the guide's .sql.gz name, refused when damaged, pruned; and unpacked by hand with tar.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { startS3 } from '../support/objectstores.js';
import { backupAgentEnv, runAgent, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

const FIXTURE = `
CREATE ROLE par_reader NOLOGIN;
CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(12,2), at timestamptz);
INSERT INTO orders SELECT i, 'customer ' || (i % 500), i * 1.25, '2024-01-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 30000) i;
CREATE TABLE events (id bigserial PRIMARY KEY, payload jsonb);
INSERT INTO events (payload) SELECT jsonb_build_object('n', i, 'tag', md5(i::text)) FROM generate_series(1, 20000) i;
CREATE SCHEMA archive;
CREATE TABLE archive.notes (id int, body text);
INSERT INTO archive.notes SELECT i, repeat('note ', i % 50) FROM generate_series(1, 5000) i;
CREATE TABLE empty_one (x int);
CREATE INDEX orders_customer ON orders (customer);
GRANT SELECT ON orders TO par_reader;
SELECT lo_from_bytea(0, 'large object payload');
`;

async function fingerprint(pg: PgServer, db: string) {
  const q = async (sql: string) => JSON.stringify(await pg.query(sql, [], db));
  return {
    orders: await q(`SELECT md5(string_agg(o::text, ',' ORDER BY id)) AS h, count(*) AS n FROM orders o`),
    events: await q(`SELECT md5(string_agg(e::text, ',' ORDER BY id)) AS h FROM events e`),
    notes: await q(`SELECT count(*) AS n, sum(length(body)) AS l FROM archive.notes`),
    seq: await q(`SELECT last_value FROM events_id_seq`),
    index: await q(`SELECT indexname FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1`),
    grant: await q(`SELECT has_table_privilege('par_reader', 'orders', 'SELECT') AS ok`),
    lo: await q(`SELECT encode(lo_get(oid), 'escape') AS v FROM pg_largeobject_metadata ORDER BY oid`),
  };
}

describe('parallel backups', () => {
  let pg: PgServer;
  let dir: string;
  let expected: Awaited<ReturnType<typeof fingerprint>>;
  const agent = (args: string[], extra: Record<string, string> = {}) =>
    runAgentSync(args, backupAgentEnv(pg, dir, extra));

  before(async () => {
    pg = await startPostgres();
    dir = tempDir();
    await pg.query('CREATE DATABASE app');
    await pg.query(FIXTURE, [], 'app');
    expected = await fingerprint(pg, 'app');
  });

  it('writes one file NAME.dump with its globals and manifest, listed and verified like any backup', () => {
    const r = agent(['backup', '--name', 'nightly', '--jobs', '2', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), [
      'nightly.dump',
      'nightly.globals.sql',
      'nightly.manifest.json',
    ]);
    const m = JSON.parse(readFileSync(join(dir, 'nightly.manifest.json'), 'utf8'));
    assert.equal(m.format, 'directory');
    assert.equal(m.jobs, 2);
    assert.equal(m.file, 'nightly.dump');
    assert.deepEqual(m.tableRowCounts, {
      'archive.notes': 5000,
      'public.empty_one': 0,
      'public.events': 20000,
      'public.orders': 30000,
    });
    const list = JSON.parse(agent(['list-backups', '-o', 'json']).stdout);
    assert.deepEqual(
      list.map((b: { name: string; verified: boolean; sizeBytes: number }) => [b.name, b.verified]),
      [['nightly', true]],
    );
    assert.equal(list[0].sha256, m.sha256);
    const v = agent(['verify', 'nightly', '--deep', '-o', 'json']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(JSON.parse(v.stdout)[0].deep, true);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.')),
      [],
      'verification leaves nothing unpacked behind',
    );
  });

  it('is a plain tar of a pg_dump directory that pg_restore reads once unpacked by hand', () => {
    const out = tempDir();
    mkdirSync(join(out, 'x'));
    const tar = spawnSync('tar', ['-xf', join(dir, 'nightly.dump'), '-C', join(out, 'x')], {
      encoding: 'utf8',
    });
    assert.equal(tar.status, 0, tar.stderr);
    assert.ok(readdirSync(join(out, 'x')).includes('toc.dat'));
    const list = spawnSync(join(pg.binDir, 'pg_restore'), ['--list', join(out, 'x')], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /TABLE DATA public orders/);
  });

  it("restores it by name after the database is dropped, and by the guide's .sql.gz name replacing it with a parallel safety backup", async () => {
    await pg.query('DROP DATABASE app');
    await pg.query('DROP ROLE par_reader');
    const r = agent(['restore', 'nightly']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fingerprint(pg, 'app'), expected);

    await pg.query('DELETE FROM orders WHERE id > 100', [], 'app');
    const g = agent(['restore', join(dir, 'nightly.sql.gz'), '--replace', '--yes'], {
      PGOPS_BACKUP_JOBS: '2',
    });
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stderr, /does not exist; using backup nightly/);
    assert.deepEqual(await fingerprint(pg, 'app'), expected);
    const safety = readdirSync(dir).find((f) => /^pre-restore-app-.*\.manifest\.json$/.test(f))!;
    assert.equal(JSON.parse(readFileSync(join(dir, safety), 'utf8')).format, 'directory');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.')),
      [],
      'the restore leaves nothing unpacked behind',
    );
  });

  it('fails verification and refuses to restore (exit 3) when one byte of it is flipped', async () => {
    assert.equal(agent(['backup', '--name', 'flipped', '--jobs', '2']).code, 0);
    const file = join(dir, 'flipped.dump');
    const data = readFileSync(file);
    const at = Math.floor(data.length / 2);
    data[at] = data[at]! ^ 0xff;
    writeFileSync(file, data);
    const v = agent(['verify', 'flipped']);
    assert.equal(v.code, 1, v.stderr);
    assert.match(v.stderr, new RegExp(`${file}.*sha256 mismatch`));
    const r = agent(['restore', 'flipped', '--target-database', 'app_flipped']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /does not match its manifest/);
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_database WHERE datname LIKE 'app\\_flipped%'`), []);
  });

  it('is pruned by retention like any backup, manifest first, and never while it is the newest verified', () => {
    const d = tempDir();
    const env = { PGOPS_BACKUP_DIR: d, PGOPS_BACKUP_RETENTION_DAYS: '7' };
    for (const n of ['old', 'new']) assert.equal(agent(['backup', '--name', n, '--jobs', '2'], env).code, 0);
    for (const [n, days] of [
      ['old', 40],
      ['new', 30],
    ] as const) {
      const p = join(d, `${n}.manifest.json`);
      const m = JSON.parse(readFileSync(p, 'utf8'));
      const at = new Date(Date.now() - days * 86_400_000).toISOString();
      writeFileSync(p, JSON.stringify({ ...m, startedAt: at, finishedAt: at }));
    }
    const r = agent(['prune'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(d).sort(), ['new.dump', 'new.globals.sql', 'new.manifest.json']);
  });

  it('is copied off-site by sync and restored from its s3:// URL', async () => {
    const s3 = await startS3();
    const d = tempDir();
    // Async runs: s3rver answers from this process.
    const env = backupAgentEnv(pg, d, {
      PGOPS_SYNC_PROVIDER: 's3',
      PGOPS_SYNC_BUCKET: s3.bucket,
      PGOPS_SYNC_ENDPOINT: s3.endpoint,
      PGOPS_SYNC_REGION: 'us-east-1',
      ...s3.env,
    });
    assert.equal((await runAgent(['backup', '--name', 'offsite', '--jobs', '2'], env)).code, 0);
    const sync = await runAgent(['sync', '-o', 'json'], env);
    assert.equal(sync.code, 0, sync.stderr);
    assert.deepEqual(
      JSON.parse(sync.stdout).backups.map((b: { name: string; status: string }) => [b.name, b.status]),
      [['offsite', 'uploaded']],
    );
    const r = await runAgent(
      ['restore', `s3://${s3.bucket}/postgres/offsite.dump`, '--target-database', 'app_offsite'],
      { ...env, PGOPS_BACKUP_DIR: tempDir() },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fingerprint(pg, 'app_offsite'), expected);
  });
});
