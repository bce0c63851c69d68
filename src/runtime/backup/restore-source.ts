/**
 * What a restore reads before it touches anything: the backup named by the user (a name or a file
 * in the backup directory, or an object-store URL downloaded first), its checksum against its
 * manifest, and what its archive says (database name, number of items).
 */
import type { RestoreResult } from '../../core/backup/results.js';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseManifest, type BackupManifest } from '../../core/backup/manifest.js';
import type { BackupFormat } from '../../core/backup/format.js';
import { SafetyRefusal, UsageError } from '../../core/errors.js';
import { isRemoteUrl } from '../../core/sync/url.js';
import { exec } from '../exec.js';
import type { Logger } from '../log.js';
import { pgBin } from '../pgbin.js';
import { identifyBackupFile } from './identify.js';
import { DamagedArchive, unpackDir, unpackDump } from './packed.js';
import { refuseMetaCommands } from './plain-script.js';
import type { RestoreOptions } from './restore.js';
import { resolveBackupRef, type ResolvedBackup } from './resolve.js';
import { hashFile } from '../file-hash.js';
import { stderrTail } from './stream.js';

export interface Fetched {
  file: string;
  manifestFile?: string;
  cleanup: () => Promise<void> | void;
}

async function fetchRemote(url: string, opts: RestoreOptions, log: Logger): Promise<Fetched> {
  let mod: { fetchRemoteBackup: (u: string, o: unknown) => Promise<Fetched> };
  try {
    // Loaded only for a URL: the cloud SDKs stay out of every other restore.
    mod = (await import('../objectstore/fetch-remote.js')) as typeof mod;
  } catch {
    throw new UsageError(
      'E_REMOTE_UNSUPPORTED',
      `cannot download ${url}: remote backups are not supported by this build`,
      { url },
      { hint: 'Copy the file into the backup directory and restore it by name.' },
    );
  }
  if (!opts.objectStore)
    throw new UsageError(
      'E_REMOTE_CONFIG',
      `cannot download ${url}: no object store configuration was given`,
      { url },
      { hint: 'Run the restore through postgres-agent with PGOPS_SYNC_* set.' },
    );
  // The download lands in a subdirectory of the backup volume (not memory-backed /tmp); it is not
  // a backup of ours (no manifest at the top level), so it is never listed or pruned.
  mkdirSync(resolve(opts.backupDir), { recursive: true });
  return mod.fetchRemoteBackup(url, {
    config: opts.objectStore,
    rawEnv: opts.rawEnv ?? process.env,
    log,
    tmpDir: resolve(opts.backupDir),
  });
}

/** Refuses (exit 3) a file whose checksum differs from its manifest, unless forced. */
export async function checkChecksum(
  r: ResolvedBackup,
  force: boolean,
  log: Logger,
  computed?: { sha256: string; bytes: number },
): Promise<RestoreResult['checksum']> {
  if (!r.manifest) {
    log.warn('no manifest for this file: its checksum cannot be checked', { file: r.file });
    return 'no-manifest';
  }
  const m = r.manifest;
  const mismatches: string[] = [];
  const { sha256, bytes } = computed ?? (await hashFile(r.file));
  if (sha256 !== m.sha256 || bytes !== m.sizeBytes)
    mismatches.push(
      `backup ${m.name} (${r.file}) does not match its manifest (sha256 ${sha256}, expected ${m.sha256}; ${bytes} bytes, expected ${m.sizeBytes})`,
    );
  // The globals script is run too (its role statements): it must be the one the backup wrote.
  const globals = m.globalsFile ? resolve(r.dir, m.globalsFile) : undefined;
  if (globals && m.globalsSha256 && existsSync(globals)) {
    const g = await hashFile(globals);
    if (g.sha256 !== m.globalsSha256)
      mismatches.push(
        `the globals file ${globals} of backup ${m.name} does not match its manifest (sha256 ${g.sha256}, expected ${m.globalsSha256})`,
      );
  }
  if (mismatches.length === 0) return 'matched';
  const what = mismatches.join('; ');
  if (!force)
    throw new SafetyRefusal(
      'E_CHECKSUM',
      `${what}: refusing to restore a damaged backup; nothing was changed`,
      { file: r.file },
      {
        hint: 'Restore an older backup (postgres-agent list-backups), or re-run with --force to restore it anyway.',
      },
    );
  log.warn(`${what}: restoring anyway because of --force`, { file: r.file });
  return 'mismatch-forced';
}

/** The database name in a custom archive's header (`; Dbname: x`) and its number of TOC entries. */
export async function archiveDbName(
  file: string,
  binDir?: string,
): Promise<{ dbName: string | undefined; items: number }> {
  const r = await exec(pgBin('pg_restore', binDir), ['--list', file]);
  if (r.code !== 0)
    throw new UsageError(
      'E_NOT_A_BACKUP',
      `${file} is not a readable pg_dump archive: ${stderrTail(r.stderr, 2)}; nothing was changed`,
      { file },
      {
        hint: 'Pick another backup (postgres-agent list-backups).',
      },
    );
  return {
    dbName: /^;\s+Dbname:\s+(.+)$/m.exec(r.stdout)?.[1]?.trim(),
    items: r.stdout.split('\n').filter((l) => l.trim() && !l.startsWith(';')).length,
  };
}

/**
 * The backup `opts.source` names: resolved in the backup directory, or downloaded (then `held`
 * keeps the download, for the caller to remove whatever happens next).
 */
export async function locateBackup(
  opts: RestoreOptions,
  log: Logger,
  held: { fetched?: Fetched },
): Promise<ResolvedBackup> {
  if (isRemoteUrl(opts.source)) {
    const fetched = await fetchRemote(opts.source, opts, log);
    held.fetched = fetched;
    let manifest: BackupManifest | undefined;
    if (fetched.manifestFile) {
      const p = parseManifest(readFileSync(fetched.manifestFile, 'utf8'));
      if (p.ok) manifest = p.manifest;
    }
    return { file: fetched.file, manifest, dir: resolve(fetched.file, '..') };
  }
  return resolveBackupRef(opts.source, opts.backupDir, log);
}

/** What the checks found: the format, the checksum verdict, the archive's header, what to read. */
export interface InspectedBackup {
  format: BackupFormat;
  checksum: RestoreResult['checksum'];
  archived: { dbName: string | undefined; items: number } | undefined;
  /** What pg_restore reads: the file, or the directory a packed dump was unpacked into. */
  source: string;
  /** The manifest's globals script, when it names one. */
  globalsFile: string | undefined;
}

/**
 * Identifies the file, checks its checksum and reads its table of contents; refuses a damaged
 * file or a script with meta-commands. Only reads (a packed dump is unpacked into `held.unpacked`,
 * for the caller to remove): a bad file changes nothing.
 */
export async function inspectBackup(
  r: ResolvedBackup,
  opts: RestoreOptions,
  log: Logger,
  held: { unpacked?: { dir: string; remove: () => void } },
): Promise<InspectedBackup> {
  const format = await identifyBackupFile(r.file);
  let checksum: RestoreResult['checksum'];
  let archived: { dbName: string | undefined; items: number } | undefined;
  /** What pg_restore reads: the file, or the directory a packed dump was unpacked into. */
  let source = r.file;
  if (format === 'directory') {
    // One read of the file checks its checksum and unpacks it (on the backup volume).
    const unpacked = unpackDir(opts.backupDir);
    held.unpacked = unpacked;
    const u = await unpackDump(r.file, unpacked.dir).catch((err: unknown) => {
      if (err instanceof DamagedArchive) return err;
      throw err;
    });
    checksum = await checkChecksum(r, !!opts.force, log, u instanceof DamagedArchive ? undefined : u);
    if (u instanceof DamagedArchive)
      throw new UsageError(
        'E_NOT_A_BACKUP',
        `${r.file} is a damaged archive (${u.message}); nothing was changed`,
        { file: r.file },
        { hint: 'Pick another backup (postgres-agent list-backups).' },
      );
    source = unpacked.dir;
    archived = await archiveDbName(source, opts.binDir);
  } else {
    // The checksum pass and the table of contents read the file at the same time.
    [checksum, archived] = await Promise.all([
      checkChecksum(r, !!opts.force, log),
      format === 'custom' || format === 'tar' ? archiveDbName(r.file, opts.binDir) : undefined,
    ]);
    if (format === 'plain' || format === 'plain-gzip')
      await refuseMetaCommands(r.file, format === 'plain-gzip', 'plain SQL script');
  }
  const globalsFile = r.manifest?.globalsFile ? resolve(r.dir, r.manifest.globalsFile) : undefined;
  if (globalsFile && existsSync(globalsFile)) await refuseMetaCommands(globalsFile, false, 'globals file');
  return { format, checksum, archived, source, globalsFile };
}
