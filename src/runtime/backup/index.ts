/**
 * Backups as functions with explicit inputs (connection, directories, options), for postgres-agent
 * and postgres-ops (local mode) alike. Nothing here reads process.env.
 */
export { runBackup, BACKUP_LOCK_KEY } from './backup.js';
export type { BackupResult } from './backup.js';
export { listBackups } from './catalog.js';
export { connectionFromConfig } from './conn.js';
export { verifyBackup } from './verify.js';
export type { VerifyResult } from './verify.js';
export { pruneBackups } from './prune.js';
export type { PruneResult } from './prune.js';
export { restoreBackup } from './restore.js';
export type { RestoreResult } from './restore.js';
