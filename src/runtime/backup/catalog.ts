/**
 * The backup directory as a catalog: a backup is ours when it has our manifest. It is intact when
 * its archive (and globals file) exist with the recorded size and no verification found it
 * damaged; otherwise it is damaged: still listed (flagged, with the reason), never "the newest"
 * backup, never restored without --force. Temporary files (`.NAME.*.partial`) are never listed.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import {
  type BackupListEntry,
  type BackupManifest,
  type ManifestCheck,
  newestFirst,
  parseManifest,
  toListEntry,
} from '../../core/backup/manifest.js';
import { backupFileNames, isPartialFile, MANIFEST_SUFFIX } from '../../core/backup/names.js';

export interface CatalogBackup {
  manifest: BackupManifest;
  manifestPath: string;
  dumpPath: string;
  globalsPath: string | null;
  entry: BackupListEntry;
}

export interface DamagedBackup extends CatalogBackup {
  reason: string;
}

export interface CatalogScan {
  /** Intact backups, newest first. */
  backups: CatalogBackup[];
  /** Backups whose files do not match their manifest (missing, truncated, failed verification). */
  damaged: DamagedBackup[];
  /** Manifests of ours that name another backup (a copied or renamed manifest): not a backup here. */
  incomplete: { name: string; reason: string }[];
  /** `*.manifest.json` files that are not manifests of ours (another kind, unreadable, invalid), with why. */
  foreign: { file: string; reason: string }[];
  partials: { file: string; path: string; modifiedAt: string }[];
}

function readDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new UsageError(
        'E_BACKUP_DIR',
        `backup directory ${dir} does not exist`,
        { dir },
        { hint: 'Check PGOPS_BACKUP_DIR and that the backup volume is mounted.' },
      );
    throw err;
  }
}

/** Reads one manifest: why it is not one of ours when it is not. */
function checkManifest(path: string): ManifestCheck {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, reason: `cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  return parseManifest(text);
}

/** Reads one manifest; undefined when it is missing or not ours. */
export function readManifest(path: string): BackupManifest | undefined {
  const r = checkManifest(path);
  return r.ok ? r.manifest : undefined;
}

/** When a temp file, or a temp directory (pg_dump's, of a parallel backup) or anything in it, last changed. */
function lastModified(path: string): string {
  const st = statSync(path);
  let t = st.mtimeMs;
  if (st.isDirectory())
    for (const n of readdirSync(path)) {
      try {
        t = Math.max(t, statSync(join(path, n)).mtimeMs);
      } catch {
        /* removed meanwhile */
      }
    }
  return new Date(t).toISOString();
}

export function scanBackupDir(dir: string): CatalogScan {
  const abs = resolve(dir);
  const names = readDir(abs);
  const scan: CatalogScan = { backups: [], damaged: [], incomplete: [], foreign: [], partials: [] };
  for (const f of names) {
    if (isPartialFile(f)) {
      try {
        scan.partials.push({ file: f, path: join(abs, f), modifiedAt: lastModified(join(abs, f)) });
      } catch {
        /* removed meanwhile */
      }
      continue;
    }
    if (f.startsWith('.') || !f.endsWith(MANIFEST_SUFFIX)) continue;
    const manifestPath = join(abs, f);
    const checked = checkManifest(manifestPath);
    if (!checked.ok) {
      scan.foreign.push({ file: f, reason: checked.reason });
      continue;
    }
    const m = checked.manifest;
    const expectedName = f.slice(0, -MANIFEST_SUFFIX.length);
    if (m.name !== expectedName) {
      scan.incomplete.push({ name: expectedName, reason: `manifest names "${m.name}"` });
      continue;
    }
    const dumpPath = join(abs, m.file);
    const b: CatalogBackup = {
      manifest: m,
      manifestPath,
      dumpPath,
      globalsPath: m.globalsFile ? join(abs, m.globalsFile) : null,
      entry: toListEntry(m, dumpPath),
    };
    const reason = damageOf(b);
    if (reason) {
      b.entry = { ...b.entry, verified: false, damaged: true, damagedReason: reason };
      scan.damaged.push({ ...b, reason });
    } else scan.backups.push(b);
  }
  const order = <T extends CatalogBackup>(list: T[]) =>
    newestFirst(list.map((b) => ({ ...b, name: b.entry.name, createdAt: b.entry.createdAt })));
  scan.backups = order(scan.backups);
  scan.damaged = order(scan.damaged);
  return scan;
}

/** Why a backup's files do not match its manifest, or undefined when they do (as far as stat tells). */
function damageOf(b: CatalogBackup): string | undefined {
  const m = b.manifest;
  let size: number;
  try {
    size = statSync(b.dumpPath).size;
  } catch {
    return `archive ${m.file} is missing`;
  }
  if (size !== m.sizeBytes)
    return `archive ${m.file} is ${size} bytes, the manifest says ${m.sizeBytes}${size < m.sizeBytes ? ' (truncated)' : ''}`;
  if (b.globalsPath) {
    try {
      statSync(b.globalsPath);
    } catch {
      return `globals file ${m.globalsFile} is missing`;
    }
  }
  if (!m.verified && m.verifyFailedAt)
    return `verification failed at ${m.verifyFailedAt}${m.verifyError ? `: ${m.verifyError}` : ''}`;
  return undefined;
}

/**
 * Our backups in `dir`, newest first, damaged ones flagged (the `list-backups -o json` model). A
 * directory that does not exist yet (no backup has run) holds no backups.
 */
export function listBackups(dir: string): BackupListEntry[] {
  try {
    const scan = scanBackupDir(dir);
    return newestFirst([...scan.backups, ...scan.damaged].map((b) => b.entry));
  } catch (err) {
    if (err instanceof UsageError && err.code === 'E_BACKUP_DIR') return [];
    throw err;
  }
}

/**
 * The backup in `dir` called by the first of `names` that one is called, if any (one scan of the
 * directory): a damaged one too, so that restoring it is refused for what it is (its checksum)
 * rather than reported unknown.
 */
export function findBackup(dir: string, names: readonly string[]): CatalogBackup | undefined {
  const scan = scanBackupDir(dir);
  const all = [...scan.backups, ...scan.damaged];
  for (const name of names) {
    const b = all.find((x) => x.manifest.name === name);
    if (b) return b;
  }
  return undefined;
}

/** Whether any file of backup `name` exists already (complete or not): names are never reused. */
export function backupNameTaken(dir: string, name: string): boolean {
  const f = backupFileNames(name);
  const present = new Set(readDir(resolve(dir)));
  return present.has(f.dump) || present.has(f.manifest) || present.has(f.globals);
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `text` to `path` atomically: a hidden temp file, fsync, rename, fsync the directory. */
export function writeFileAtomic(dir: string, basename: string, text: string): void {
  const tmp = join(dir, `.${basename}.partial`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, basename));
  fsyncPath(dir);
}

export function writeManifest(dir: string, m: BackupManifest): void {
  writeFileAtomic(dir, backupFileNames(m.name).manifest, JSON.stringify(m, null, 2) + '\n');
}
