/**
 * A backup as the sync and remote restore move it: `NAME.manifest.json` next to `NAME.dump` and
 * `NAME.globals.sql`, parsed by the one manifest schema (src/core/backup/manifest.ts). Only
 * verified backups are worth copying; the manifest is uploaded last, so a remote backup is complete
 * only once its manifest exists.
 */
import type { BackupManifest } from '../backup/manifest.js';

/** When the backup finished, as epoch ms (0 if it does not parse). */
export function backupTimeMs(m: BackupManifest): number {
  return Date.parse(m.finishedAt) || 0;
}

/** The files of a backup in upload order: data, globals, then the manifest last. */
export function backupFiles(
  m: BackupManifest,
  manifestFile: string,
): { role: 'data' | 'globals' | 'manifest'; file: string; sha256?: string; sizeBytes?: number }[] {
  const files: {
    role: 'data' | 'globals' | 'manifest';
    file: string;
    sha256?: string;
    sizeBytes?: number;
  }[] = [{ role: 'data', file: m.file, sha256: m.sha256, sizeBytes: m.sizeBytes }];
  if (m.globalsFile)
    files.push({ role: 'globals', file: m.globalsFile, sha256: m.globalsSha256 ?? undefined });
  files.push({ role: 'manifest', file: manifestFile });
  return files;
}
