/**
 * Backup names and the files a backup is made of. A name becomes part of file names in a directory
 * other backups share, so it is validated strictly: no path separators, no hidden files.
 */
import { UsageError } from '../errors.js';

export const MAX_BACKUP_NAME = 100;
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** Throws a UsageError (exit 2) unless `name` is a valid backup name. */
export function validateBackupName(name: string): string {
  if (!name || name.length > MAX_BACKUP_NAME || !NAME_RE.test(name) || name.includes('..')) {
    throw new UsageError(
      'E_BACKUP_NAME',
      `invalid backup name "${name.slice(0, 120)}": use letters, digits, ".", "_" and "-" (max ${MAX_BACKUP_NAME}, not starting with "." or "-")`,
      {},
      { hint: 'A valid name: critical-point-backup' },
    );
  }
  return name;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** UTC stamp YYYYMMDD_HHMMSS, as in the guide's backup_20240101_020000. */
export function utcStamp(d: Date): string {
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}_` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`
  );
}

export function defaultBackupName(d: Date): string {
  return `backup_${utcStamp(d)}`;
}

/**
 * One backup per database: a single database keeps NAME as given; several get NAME_<database> so
 * each has its own manifest and retention.
 */
export function backupNamesFor(name: string, databases: string[]): { database: string; name: string }[] {
  if (databases.length === 1) return [{ database: databases[0]!, name }];
  return databases.map((database) => ({ database, name: validateBackupName(`${name}_${database}`) }));
}

export interface BackupFileNames {
  dump: string;
  globals: string;
  manifest: string;
  dumpPartial: string;
  /** pg_dump's directory while a parallel backup runs; packed into `dumpPartial` as it fills. */
  dumpDirPartial: string;
  globalsPartial: string;
  manifestPartial: string;
}

/** Basenames of a backup's files; the partial names are hidden (leading dot) and never listed. */
export function backupFileNames(name: string): BackupFileNames {
  return {
    dump: `${name}.dump`,
    globals: `${name}.globals.sql`,
    manifest: `${name}.manifest.json`,
    dumpPartial: `.${name}.dump.partial`,
    dumpDirPartial: `.${name}.dump.d.partial`,
    globalsPartial: `.${name}.globals.sql.partial`,
    manifestPartial: `.${name}.manifest.json.partial`,
  };
}

export const MANIFEST_SUFFIX = '.manifest.json';
export const PARTIAL_SUFFIX = '.partial';

/** True for our temporary files (`.NAME.dump.partial` ...). */
export function isPartialFile(basename: string): boolean {
  return basename.startsWith('.') && basename.endsWith(PARTIAL_SUFFIX);
}

/** A restore argument with a slash (./x.dump, /backups/x.dump) is a path: it means that file. */
export function isExplicitPath(ref: string): boolean {
  return ref.includes('/');
}

/**
 * The backup name a restore argument may mean: `backup_20240101_020000`, `backup_20240101_020000.dump`,
 * or the guide's `backup_20240101_020000.sql.gz` (older scripts named backups that way).
 */
export function backupNameCandidates(basename: string): string[] {
  const out = new Set<string>();
  const strip = [
    '.manifest.json',
    '.globals.sql',
    '.dump',
    '.sql.gz',
    '.dump.gz',
    '.sql',
    '.gz',
    '.backup',
    '.pgdump',
  ];
  for (const s of strip) {
    if (basename.endsWith(s) && basename.length > s.length) out.add(basename.slice(0, -s.length));
  }
  out.add(basename);
  return [...out].filter((n) => NAME_RE.test(n) && n.length <= MAX_BACKUP_NAME && !n.includes('..'));
}

/** A PostgreSQL identifier of at most 63 bytes: `prefix` shortened so that `suffix` fits. */
export function fitIdent(prefix: string, suffix: string): string {
  const room = 63 - utf8Length(suffix);
  let p = prefix;
  while (utf8Length(p) > room) p = p.slice(0, -1);
  return p + suffix;
}

/** Database names a restore uses around the target `db`. */
export function restoreDatabaseNames(db: string, at: Date) {
  const ts = utcStamp(at);
  return {
    restoring: fitIdent(db, '__restoring'),
    previous: fitIdent(db, `__before_restore_${ts}`),
    safetyBackup: validateBackupName(`pre-restore-${db.slice(0, 60)}-${ts.replace('_', '-')}`),
  };
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}
