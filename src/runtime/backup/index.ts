/**
 * Backups as functions with explicit inputs (connection, directories, options), for postgres-agent
 * and postgres-ops (local mode) alike. Nothing here reads process.env.
 */
export { runBackup, planBackupNames, countRows, BACKUP_LOCK_KEY } from './backup.js';
export type { BackupOptions, BackupDeps, BackupResult } from './backup.js';
export { listBackups, scanBackupDir, findBackup, readManifest, writeManifest } from './catalog.js';
export type { CatalogBackup, CatalogScan } from './catalog.js';
export { connectionFromEnv, toolEnv } from './conn.js';
export type { PgConnection } from './conn.js';
export { verifyBackup } from './verify.js';
export type { VerifyOptions, VerifyResult } from './verify.js';
export { pruneBackups } from './prune.js';
export type { PruneOptions, PruneResult } from './prune.js';
export { restoreBackup } from './restore.js';
export type { RestoreOptions, RestoreResult } from './restore.js';
export { resolveBackupRef } from './resolve.js';
export type { BackupListEntry, BackupManifest } from '../../core/backup/manifest.js';
