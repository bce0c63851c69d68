/**
 * What a person typed for `restore` (a backup name, a path, a URL, or the guide's
 * `backup_20240101_020000.sql.gz`) resolved against the backups that exist, before anything is
 * touched: an unknown backup is a usage error (exit 2) and nothing changes.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { BackupEntry, Mode } from './cluster-api.js';

const SUFFIXES = ['.manifest.json', '.globals.sql', '.sql.gz', '.dump.gz', '.dump', '.sql', '.gz'];

/** Names a file name could stand for: "x.sql.gz" -> ["x.sql.gz", "x.sql", "x"]. */
export function nameCandidates(ref: string): string[] {
  const base = basename(ref);
  const out = [base];
  for (const s of SUFFIXES) if (base.endsWith(s)) out.push(base.slice(0, -s.length));
  return [...new Set(out)];
}

export function isUrl(ref: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ref);
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
  const byFile = backups.find((b) => b.file === ref || (mode === 'local' && b.file === resolve(ref)));
  if (byFile) return { file: byFile.file, backup: byFile };
  for (const name of nameCandidates(ref)) {
    const b = backups.find((x) => x.name === name);
    if (b) return { file: b.file, backup: b };
  }
  if (mode === 'local') {
    const p = resolve(ref);
    if (existsSync(p) && statSync(p).isFile()) return { file: p, backup: null };
  } else if (ref.startsWith('/')) {
    // A path inside the cluster's backup volume; the restore Job checks it exists.
    return { file: ref, backup: null };
  }
  const names = backups.slice(0, 5).map((b) => b.name);
  throw new UsageError(
    'E_NO_SUCH_BACKUP',
    `no backup "${ref}": not a file${mode === 'local' ? '' : ' on the backup volume'} and no backup of that name in ${backupDir}; nothing was changed`,
    { ref },
    {
      hint: names.length
        ? `Newest backups: ${names.join(', ')}. List them all: postgres-ops list-backups`
        : 'There are no backups yet. Take one: postgres-ops backup NAME',
    },
  );
}
