/**
 * What a person typed for `restore` (a backup name, a path, a URL, or the guide's
 * `backup_20240101_020000.sql.gz`) resolved against the backups that exist, before anything is
 * touched: an unknown backup is a usage error (exit 2) and nothing changes.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { backupFileNames, backupNameCandidates, isExplicitPath } from '../core/backup/names.js';
import { UsageError } from '../core/errors.js';
import { isUrl } from '../core/sync/url.js';
import type { BackupEntry, Mode } from '../core/cluster/cluster-api.js';

const SUFFIXES = ['.manifest.json', '.globals.sql', '.sql.gz', '.dump.gz', '.dump', '.sql', '.gz'];

/** Names a file name could stand for: "x.sql.gz" -> ["x.sql.gz", "x.sql", "x"]. */
export function nameCandidates(ref: string): string[] {
  const base = basename(ref);
  const out = [base];
  for (const s of SUFFIXES) if (base.endsWith(s)) out.push(base.slice(0, -s.length));
  return [...new Set(out)];
}

export interface ResolvedRef {
  /** What the agent is given: an absolute path or a URL. */
  file: string;
  /** The catalog entry, when it is one of ours. */
  backup: BackupEntry | null;
}

export function resolveBackupRef(
  ref: string,
  backups: BackupEntry[],
  mode: Mode,
  backupDir: string,
): ResolvedRef {
  if (!ref.trim())
    throw new UsageError(
      'E_USAGE',
      'restore needs a backup name, file or URL',
      {},
      {
        hint: 'See the backups: postgres-ops list-backups',
      },
    );
  if (isUrl(ref)) return { file: ref, backup: null };
  if (isExplicitPath(ref)) {
    const found = resolvePath(ref, backups, mode, backupDir);
    if (found) return found;
  } else {
    for (const name of nameCandidates(ref)) {
      const b = backups.find((x) => x.name === name);
      if (b) return { file: b.file, backup: b };
    }
    // Not a backup: a file of that name in the current directory (local mode).
    if (mode === 'local' && isFile(resolve(ref))) return { file: resolve(ref), backup: null };
  }
  const names = backups.slice(0, 5).map((b) => b.name);
  const workstation = mode === 'kubernetes' && isExplicitPath(ref) && !ref.startsWith('/');
  throw new UsageError(
    'E_NO_SUCH_BACKUP',
    workstation
      ? `"${ref}" is a file on this workstation, not on the backup volume; nothing was changed`
      : `no backup "${ref}": not a file${mode === 'local' ? '' : ' on the backup volume'} and no backup of that name in ${backupDir}; nothing was changed`,
    { ref },
    {
      hint: workstation
        ? `Copy it to the backup volume first (kubectl cp ${ref} <namespace>/<release>-postgres-0:${backupDir}/ -c postgres), then restore it by name; or give a gs://, s3:// or azure:// URL.`
        : names.length
          ? `Newest backups: ${names.join(', ')}. List them all: postgres-ops list-backups`
          : 'There are no backups yet. Take one: postgres-ops backup NAME',
    },
  );
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * An explicit path is that file, never a catalog backup that shares its base name. When no file is
 * there, the guide's spelling (`/backups/postgres/NAME.sql.gz`) may still name a backup NAME in
 * that same directory; never one elsewhere.
 */
function resolvePath(ref: string, backups: BackupEntry[], mode: Mode, backupDir: string) {
  const p = mode === 'local' ? resolve(ref) : ref;
  const byFile = backups.find((b) => b.file === p);
  if (byFile) return { file: byFile.file, backup: byFile };
  if (mode === 'local' && isFile(p)) return { file: p, backup: null };
  if (mode === 'kubernetes' && !ref.startsWith('/')) return undefined;
  const dir = dirname(p);
  if (dir === (mode === 'local' ? resolve(backupDir) : backupDir)) {
    for (const name of nameCandidates(ref)) {
      const b = backups.find((x) => x.name === name);
      if (b) return { file: b.file, backup: b };
    }
    return undefined;
  }
  // Elsewhere on Kubernetes the restore Job looks on the volume; locally, a manifest must be there.
  if (mode === 'kubernetes') return { file: p, backup: null };
  for (const name of backupNameCandidates(basename(p)))
    if (existsSync(join(dir, backupFileNames(name).manifest))) return { file: p, backup: null };
  return undefined;
}
