/**
 * Turning what a person typed (a name, a path, the guide's `backup_20240101_020000.sql.gz`) into a
 * file, and the manifest that describes it when there is one.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { BackupManifest } from '../../core/backup/manifest.js';
import {
  backupFileNames,
  backupNameCandidates,
  isExplicitPath,
  MANIFEST_SUFFIX,
} from '../../core/backup/names.js';
import { UsageError } from '../../core/errors.js';
import type { Logger } from '../log.js';
import { type CatalogBackup, findBackup, readManifest } from './catalog.js';

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

function resolveFile(p: string): ResolvedBackup {
  if (p.endsWith(MANIFEST_SUFFIX)) {
    const m = readManifest(p);
    if (m) return { file: join(dirname(p), m.file), manifest: m, manifestPath: p, dir: dirname(p) };
  }
  return { file: p, ...manifestFor(p), dir: dirname(p) };
}

/** A catalog backup in `dir` as a resolved reference. */
export function resolvedFromCatalog(b: CatalogBackup, dir: string): ResolvedBackup {
  return { file: b.dumpPath, manifest: b.manifest, manifestPath: b.manifestPath, dir };
}

/** The backup named by `base` (or the guide's file name for one) in `dir`. */
function byName(base: string, dir: string, ref: string, log?: Logger): ResolvedBackup | undefined {
  let b: CatalogBackup | undefined;
  try {
    b = findBackup(dir, backupNameCandidates(base));
  } catch {
    return undefined;
  }
  if (!b) return undefined;
  const name = b.manifest.name;
  if (name !== base)
    log?.info(`${ref} does not exist; using backup ${name} (${b.dumpPath}), the backup that name refers to`, {
      requested: ref,
      backup: name,
    });
  return resolvedFromCatalog(b, dir);
}

/**
 * A path (with a slash) is that file, never a backup elsewhere that shares its base name; when no
 * file is there, the guide's spelling (`/backups/postgres/NAME.sql.gz`) may name a backup NAME in
 * that same directory. A bare name is the backup of that name in `backupDir`, else a file of that
 * name in the current directory.
 */
export function resolveBackupRef(ref: string, backupDir: string, log?: Logger): ResolvedBackup {
  const dir = resolve(backupDir);
  const found = isExplicitPath(ref)
    ? isFile(resolve(ref))
      ? resolveFile(resolve(ref))
      : byName(basename(ref), dirname(resolve(ref)), ref, log)
    : isFile(resolve(dir, ref))
      ? resolveFile(resolve(dir, ref))
      : (byName(ref, dir, ref, log) ?? (isFile(resolve(ref)) ? resolveFile(resolve(ref)) : undefined));
  if (found) return found;
  throw new UsageError(
    'E_BACKUP_NOT_FOUND',
    isExplicitPath(ref)
      ? `backup file ${resolve(ref)} not found: it does not exist, and no backup in ${dirname(resolve(ref))} goes by that name`
      : `backup ${ref} not found (looked for a backup of that name in ${dir} and for a file of that name)`,
    { ref, dir },
    { hint: 'List the backups with: postgres-agent list-backups (or postgres-ops list-backups).' },
  );
}
