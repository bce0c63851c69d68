/**
 * Turning what a person typed (a name, a path, the guide's `backup_20240101_020000.sql.gz`) into a
 * file, and the manifest that describes it when there is one.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { BackupManifest } from '../../core/backup/manifest.js';
import { backupFileNames, backupNameCandidates, MANIFEST_SUFFIX } from '../../core/backup/names.js';
import { UsageError } from '../../core/errors.js';
import type { Logger } from '../log.js';
import { findBackup, readManifest } from './catalog.js';

export interface ResolvedBackup {
  /** Absolute path of the archive or script. */
  file: string;
  manifest?: BackupManifest;
  manifestPath?: string;
  /** Directory the manifest lives in (where verify records results). */
  dir: string;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The manifest next to `file` that names it, if any. */
function manifestFor(file: string): { manifest: BackupManifest; manifestPath: string } | undefined {
  const dir = dirname(file);
  const base = basename(file);
  for (const name of backupNameCandidates(base)) {
    const manifestPath = join(dir, backupFileNames(name).manifest);
    const m = existsSync(manifestPath) ? readManifest(manifestPath) : undefined;
    if (m && m.file === base) return { manifest: m, manifestPath };
  }
  return undefined;
}

export function resolveBackupRef(ref: string, backupDir: string, log?: Logger): ResolvedBackup {
  const dir = resolve(backupDir);
  const looksLikePath = ref.includes('/') || isAbsolute(ref);
  const candidates = looksLikePath ? [resolve(ref)] : [resolve(dir, ref), resolve(ref)];
  for (const p of candidates) {
    if (!isFile(p)) continue;
    if (p.endsWith(MANIFEST_SUFFIX)) {
      const m = readManifest(p);
      if (m) return { file: join(dirname(p), m.file), manifest: m, manifestPath: p, dir: dirname(p) };
    }
    const found = manifestFor(p);
    return { file: p, ...found, dir: dirname(p) };
  }
  // A backup name, or the guide's file name for one (backup_20240101_020000.sql.gz -> backup_20240101_020000).
  const base = basename(ref);
  const lookIn = looksLikePath ? [dirname(resolve(ref)), dir] : [dir];
  for (const d of [...new Set(lookIn)]) {
    for (const name of backupNameCandidates(base)) {
      let b;
      try {
        b = findBackup(d, name);
      } catch {
        b = undefined;
      }
      if (b) {
        if (name !== base)
          log?.info(
            `${ref} does not exist; using backup ${name} (${b.dumpPath}), the backup that name refers to`,
            {
              requested: ref,
              backup: name,
            },
          );
        return { file: b.dumpPath, manifest: b.manifest, manifestPath: b.manifestPath, dir: d };
      }
    }
  }
  throw new UsageError(
    'E_BACKUP_NOT_FOUND',
    `backup ${ref} not found (looked for a file of that name and for a backup named so in ${dir})`,
    { ref, dir },
    { hint: 'List the backups with: postgres-agent list-backups (or postgres-ops list-backups).' },
  );
}
