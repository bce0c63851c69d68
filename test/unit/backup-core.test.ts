import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { detectBackupFormat } from '../../src/core/backup/format.js';
import { planGlobalsRestore } from '../../src/core/backup/globals.js';
import {
  compareRowCounts,
  MANIFEST_KIND,
  newestFirst,
  parseManifest,
} from '../../src/core/backup/manifest.js';
import {
  backupNameCandidates,
  backupNamesFor,
  defaultBackupName,
  restoreDatabaseNames,
  validateBackupName,
} from '../../src/core/backup/names.js';
import { UsageError } from '../../src/core/errors.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const bytes = (s: string) => new TextEncoder().encode(s);

describe('backup names', () => {
  it('names a default backup backup_YYYYMMDD_HHMMSS in UTC', () => {
    assert.equal(defaultBackupName(new Date('2024-01-01T02:00:00Z')), 'backup_20240101_020000');
  });

  it('refuses names with path separators, dot-dot, a leading dot or dash, or over 100 characters', () => {
    for (const bad of [
      '../x',
      'a/b',
      '.hidden',
      '-x',
      '--force',
      'a..b',
      'x'.repeat(101),
      '',
      'sp ace',
      'a\\b',
    ]) {
      assert.throws(() => validateBackupName(bad), UsageError, bad);
    }
    assert.equal(validateBackupName('critical-point-backup'), 'critical-point-backup');
  });

  it('suggests a valid name without naming a flag (postgres-ops backup takes the name as an argument)', () => {
    assert.throws(
      () => validateBackupName('bad name'),
      (e: UsageError) => e.hint === 'A valid name: critical-point-backup',
    );
  });

  it('gives each database its own backup name when several are backed up', () => {
    assert.deepEqual(backupNamesFor('nightly', ['app']), [{ database: 'app', name: 'nightly' }]);
    assert.deepEqual(
      backupNamesFor('nightly', ['app', 'audit']).map((n) => n.name),
      ['nightly_app', 'nightly_audit'],
    );
  });

  it("maps the guide's backup_20240101_020000.sql.gz to the backup name backup_20240101_020000", () => {
    assert.ok(backupNameCandidates('backup_20240101_020000.sql.gz').includes('backup_20240101_020000'));
    assert.ok(backupNameCandidates('x.dump').includes('x'));
  });

  it('keeps restore database names within 63 bytes', () => {
    const n = restoreDatabaseNames('d'.repeat(63), new Date('2024-01-01T00:00:00Z'));
    assert.ok(n.restoring.length <= 63 && n.restoring.endsWith('__restoring'));
    assert.ok(n.previous.length <= 63 && n.previous.endsWith('__before_restore_20240101_000000'));
    assert.match(n.safetyBackup, /^pre-restore-d+-20240101-000000$/);
  });
});

describe('backup format detection', () => {
  it('tells a custom archive, gzip SQL, gzip archive, plain SQL and junk apart by content', () => {
    assert.deepEqual(detectBackupFormat(bytes('PGDMP\x01\x0e')), { ok: true, format: 'custom' });
    const sql = bytes('--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n');
    assert.deepEqual(detectBackupFormat(sql), { ok: true, format: 'plain' });
    const gz = gzipSync(sql);
    assert.deepEqual(detectBackupFormat(gz, sql), { ok: true, format: 'plain-gzip' });
    assert.deepEqual(detectBackupFormat(gzipSync('PGDMP'), bytes('PGDMP')), {
      ok: true,
      format: 'custom-gzip',
    });
    assert.equal(detectBackupFormat(new Uint8Array()).ok, false);
    assert.equal(detectBackupFormat(bytes('hello world, not a dump')).ok, false);
    assert.equal(detectBackupFormat(new Uint8Array([0, 1, 2, 3, 255])).ok, false);
    assert.equal(detectBackupFormat(gz, new Uint8Array()).ok, false);
  });
});

describe('backup manifests', () => {
  const good = {
    kind: MANIFEST_KIND,
    version: 1,
    name: 'b1',
    file: 'b1.dump',
    globalsFile: 'b1.globals.sql',
    database: 'app',
    sha256: 'ab'.repeat(32),
    sizeBytes: 10,
    startedAt: '2024-01-01T00:00:00Z',
    finishedAt: '2024-01-01T00:00:01Z',
    verified: true,
  };

  it('accepts our manifest and rejects foreign kinds, other versions and path-like file names', () => {
    assert.equal(parseManifest(JSON.stringify(good)).ok, true);
    assert.equal(parseManifest(JSON.stringify({ ...good, kind: 'someone-else' })).ok, false);
    assert.equal(parseManifest(JSON.stringify({ ...good, version: 2 })).ok, false);
    assert.equal(parseManifest(JSON.stringify({ ...good, file: '../etc/passwd' })).ok, false);
    assert.equal(parseManifest('not json').ok, false);
  });

  it('orders newest first with a stable tie-break', () => {
    const list = newestFirst([
      { name: 'a', createdAt: '2024-01-01T00:00:00Z' },
      { name: 'c', createdAt: '2024-01-02T00:00:00Z' },
      { name: 'b', createdAt: '2024-01-01T00:00:00Z' },
    ]);
    assert.deepEqual(
      list.map((e) => e.name),
      ['c', 'b', 'a'],
    );
  });

  it('reports every table whose row count differs', () => {
    assert.deepEqual(
      compareRowCounts({ 'public.a': 1, 'public.b': 2 }, { 'public.a': 1, 'public.b': 2 }),
      [],
    );
    assert.deepEqual(compareRowCounts({ 'public.a': 1, 'public.b': 2 }, { 'public.a': 0 }), [
      { table: 'public.a', expected: 1, actual: 0 },
      { table: 'public.b', expected: 2, actual: null },
    ]);
  });
});

describe('restoring roles from a globals script', () => {
  const script = [
    'SET default_transaction_read_only = off;',
    'CREATE ROLE postgres;',
    'ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;',
    'CREATE ROLE "Mixed ""Case""";',
    'ALTER ROLE "Mixed ""Case""" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;',
    'CREATE ROLE reader;',
    'ALTER ROLE reader WITH NOLOGIN;',
    'GRANT reader TO "Mixed ""Case""" GRANTED BY postgres;',
    "CREATE TABLESPACE ts OWNER postgres LOCATION '/x';",
  ].join('\n');

  it('creates only missing roles, keeps existing ones untouched, and applies memberships', () => {
    const plan = planGlobalsRestore(script, new Set(['postgres', 'reader']));
    assert.deepEqual(plan.createdRoles, ['Mixed "Case"']);
    assert.deepEqual(plan.skippedRoles.sort(), ['postgres', 'reader']);
    assert.ok(plan.statements.every((s) => !s.includes('postgres WITH') && !s.includes('TABLESPACE')));
    assert.equal(plan.statements.length, 3);
  });
});
