import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/core/errors.js';
import { parseQuantity } from '../../src/kube/volumes.js';
import { jobName } from '../../src/kube/jobs.js';
import { nameCandidates, resolveBackupRef } from '../../src/ops/backup-ref.js';
import type { BackupEntry } from '../../src/core/cluster/cluster-api.js';
import { sampleFrom } from '../../src/ops/monitor-model.js';
import { cleanupAll } from '../support/cleanup.js';
import { backupListEntry } from '../support/manifests.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

const entry = (name: string): BackupEntry => backupListEntry(name);

describe('restore input', () => {
  it("resolves the guide's .sql.gz file names to the backup of that name", () => {
    assert.deepEqual(nameCandidates('/backups/postgres/backup_20240101_020000.sql.gz').sort(), [
      'backup_20240101_020000',
      'backup_20240101_020000.sql',
      'backup_20240101_020000.sql.gz',
    ]);
    const r = resolveBackupRef(
      '/backups/postgres/backup_20240101_020000.sql.gz',
      [entry('backup_20240101_020000')],
      'kubernetes',
      '/backups/postgres',
    );
    assert.equal(r.file, '/b/backup_20240101_020000.dump');
  });

  it('takes an explicit path for that file, never for the backup that shares its base name', () => {
    const elsewhere = tempDir();
    const copy = join(elsewhere, 'critical.dump');
    writeFileSync(copy, 'a copy');
    const catalog = [{ ...entry('critical'), file: '/b/critical.dump' }];
    const local = resolveBackupRef(copy, catalog, 'local', '/b');
    assert.deepEqual(local, { file: copy, backup: null });
    const rel = relative(process.cwd(), copy);
    assert.deepEqual(resolveBackupRef(rel.includes('/') ? rel : `./${rel}`, catalog, 'local', '/b'), {
      file: copy,
      backup: null,
    });
    assert.deepEqual(resolveBackupRef('/other/critical.dump', catalog, 'kubernetes', '/b'), {
      file: '/other/critical.dump',
      backup: null,
    });
    // The catalog's own file, named by its path, is that backup.
    assert.equal(resolveBackupRef('/b/critical.dump', catalog, 'kubernetes', '/b').backup?.name, 'critical');
    // A bare name is the catalog entry.
    assert.equal(resolveBackupRef('critical.dump', catalog, 'local', '/b').file, '/b/critical.dump');
  });

  it('refuses a path where no file is (exit 2) rather than restoring a backup of that name from elsewhere', () => {
    const catalog = [{ ...entry('critical'), file: '/b/critical.dump' }];
    const missing = join(tempDir(), 'critical.dump');
    assert.throws(
      () => resolveBackupRef(missing, catalog, 'local', '/b'),
      (e: unknown) =>
        e instanceof UsageError && e.exitCode === 2 && /no backup ".*critical\.dump"/.test(e.message),
    );
    assert.throws(
      () => resolveBackupRef('./critical.dump', catalog, 'kubernetes', '/b'),
      (e: unknown) =>
        e instanceof UsageError && /on this workstation/.test(e.message) && /kubectl cp/.test(e.hint ?? ''),
    );
  });

  it('passes URLs through untouched', () => {
    assert.equal(resolveBackupRef('s3://bucket/x.dump', [], 'local', '/b').file, 's3://bucket/x.dump');
  });

  it('rejects an unknown name with exit 2 and the newest names as a hint', () => {
    assert.throws(
      () => resolveBackupRef('nope', [entry('a'), entry('b')], 'local', '/b'),
      (e: unknown) =>
        e instanceof UsageError && e.exitCode === 2 && /Newest backups: a, b/.test(e.hint ?? ''),
    );
  });
});

describe('Kubernetes naming', () => {
  it('makes Job names that are DNS labels of at most 63 characters', () => {
    const n = jobName(
      'pyairtable-stack-postgres-backup',
      'Critical Point Backup (before the 2.0 migration of everything)',
    );
    assert.ok(n.length <= 63, n);
    assert.match(n, /^pyairtable-stack-postgres-backup-critical-point-backup-[a-z0-9-]*[a-z0-9]$/);
  });
  it('reads storage quantities', () => {
    assert.equal(parseQuantity('10Gi'), 10 * 2 ** 30);
    assert.equal(parseQuantity('500M'), 500e6);
    assert.equal(parseQuantity(undefined), null);
  });
});

describe('monitor sample', () => {
  const reading = (at: number, commits: number) => ({
    connections: 5,
    max_connections: 100,
    xact_commit: commits,
    xact_rollback: 0,
    blks_hit: 990,
    blks_read: 10,
    deadlocks: 0,
    locks: 3,
    locks_waiting: 1,
    database_bytes: 1000,
    at,
  });
  it('computes TPS from the commit delta over the time between readings', () => {
    const s = sampleFrom('p', reading(100, 1000), reading(102, 1500), [], []);
    assert.equal(s.tps, 250);
    assert.equal(s.cacheHitPercent, 99);
    assert.equal(s.connectionPercent, 5);
  });
  it('has no TPS without a previous reading', () => {
    assert.equal(sampleFrom('p', null, reading(1, 5), [], []).tps, null);
  });
});
