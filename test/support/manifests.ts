/**
 * Backup manifests as postgres-agent writes them (src/runtime/backup/backup.ts), for tests that need
 * one on disk or in memory without running a backup.
 */
import { MANIFEST_KIND, type BackupListEntry, type BackupManifest } from '../../src/core/backup/manifest.js';

/** A complete, verified manifest of backup `name` of the current version; `over` replaces fields. */
export function backupManifest(name: string, over: Partial<BackupManifest> = {}): BackupManifest {
  const finishedAt = over.finishedAt ?? '2026-01-01T02:00:05.000Z';
  return {
    kind: MANIFEST_KIND,
    version: 1,
    name,
    file: `${name}.dump`,
    globalsFile: `${name}.globals.sql`,
    database: 'pyairtable',
    format: 'custom',
    compression: 6,
    sizeBytes: 10,
    sha256: 'a'.repeat(64),
    globalsSha256: 'b'.repeat(64),
    globalsIncludePasswords: false,
    startedAt: new Date(Date.parse(finishedAt) - 5000 || 0).toISOString(),
    finishedAt,
    durationSeconds: 5,
    serverVersion: '15.10',
    pgDumpVersion: 'pg_dump (PostgreSQL) 15.10',
    verified: true,
    verifiedAt: finishedAt,
    deepVerifiedAt: null,
    tableRowCounts: {},
    snapshotTimestamp: finishedAt,
    snapshotId: '00000003-00000002-1',
    databaseOwner: 'pyairtable',
    databaseEncoding: 'UTF8',
    ...over,
  };
}

/** One `list-backups -o json` row of an intact, verified backup; `over` replaces fields. */
export function backupListEntry(name: string, over: Partial<BackupListEntry> = {}): BackupListEntry {
  return {
    name,
    file: `/b/${name}.dump`,
    sizeBytes: 1,
    createdAt: '2026-01-01T00:00:00Z',
    sha256: 'a'.repeat(64),
    verified: true,
    verifiedAt: null,
    deepVerifiedAt: null,
    database: 'pyairtable',
    damaged: false,
    damagedReason: null,
    ...over,
  };
}
