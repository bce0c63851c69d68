/**
 * Verifying backups: the archive's sha256 and size against the manifest, the globals file's
 * checksum, and `pg_restore --list`; `deep` restores into a scratch database and compares row
 * counts with those taken in the dump's snapshot. Results are recorded in the manifest (atomically),
 * so a backup found damaged stops counting as verified for retention.
 */
import type { VerifyResult } from '../../core/backup/results.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { compareRowCounts, type BackupManifest } from '../../core/backup/manifest.js';
import { OperationFailed, OpsError, UsageError } from '../../core/errors.js';
import { quoteIdent } from '../../core/pg/conninfo.js';
import { exec } from '../exec.js';
import type { Logger } from '../log.js';
import { pgBin } from '../pgbin.js';
import { dataEntriesMissing } from '../../core/backup/tar.js';
import { countRows } from './backup.js';
import { scanBackupDir, writeManifest } from './catalog.js';
import { type PgConnection, toolEnv, withClient } from './conn.js';
import { identifyBackupFile } from './identify.js';
import { DamagedArchive, unpackDir, unpackDump } from './packed.js';
import { resolveBackupRef, resolvedFromCatalog, type ResolvedBackup } from './resolve.js';
import { RESTORE_SESSION_OPTIONS } from './restore-into.js';
import { hashFile } from '../file-hash.js';
import { stderrTail } from './stream.js';

export interface VerifyOptions {
  backupDir: string;
  /** A backup name or file; ignored with `all`. */
  target?: string;
  all?: boolean;
  deep?: boolean;
  /** Needed for deep verification. */
  conn?: PgConnection;
  jobs?: number;
  binDir?: string;
  /** Aborting it stops a deep verification without marking the backup damaged. */
  signal?: AbortSignal;
}

export type { VerifyResult };

/** The checksum and the archive's structure; for a packed dump also unpacks it (all of it for `deep`). */
async function readArchive(
  r: ResolvedBackup,
  opts: VerifyOptions,
  problems: string[],
  unpackInto: () => string,
): Promise<{ sha256: string; bytes: number; restoreFrom: string } | undefined> {
  const format = await identifyBackupFile(r.file).catch((err: Error) => {
    problems.push(err.message);
    return undefined;
  });
  if (!format) return undefined;
  if (format !== 'directory') {
    const [sum, list] = await Promise.all([
      hashFile(r.file),
      exec(pgBin('pg_restore', opts.binDir), ['--list', r.file]),
    ]);
    if (list.code !== 0) problems.push(`pg_restore --list failed: ${stderrTail(list.stderr, 2)}`);
    return { ...sum, restoreFrom: r.file };
  }
  // One read: the checksum, every header and size, and the files pg_restore needs.
  const dir = unpackInto();
  const tocOnly = (n: string) => n === 'toc.dat' || n.endsWith('.toc');
  let u;
  try {
    u = await unpackDump(r.file, dir, opts.deep ? undefined : tocOnly);
  } catch (err) {
    if (!(err instanceof DamagedArchive)) throw err;
    problems.push(`the archive is damaged: ${err.message}`);
    return { ...(await hashFile(r.file)), restoreFrom: dir };
  }
  const list = await exec(pgBin('pg_restore', opts.binDir), ['--list', dir]);
  if (list.code !== 0) problems.push(`pg_restore --list failed: ${stderrTail(list.stderr, 2)}`);
  else
    for (const e of dataEntriesMissing(list.stdout, u.members))
      problems.push(`no data file for ${e.desc} ${e.tag} in the archive`);
  return { sha256: u.sha256, bytes: u.bytes, restoreFrom: dir };
}

async function verifyOne(r: ResolvedBackup, opts: VerifyOptions, log: Logger): Promise<VerifyResult> {
  const m = r.manifest;
  const problems: string[] = [];
  const name = m?.name ?? basename(r.file);
  if (!existsSync(r.file)) {
    problems.push(`archive ${r.file} is missing`);
    return { name, file: r.file, ok: false, deep: false, problems };
  }
  let unpacked: { dir: string; remove: () => void } | undefined;
  try {
    const read = await readArchive(r, opts, problems, () => (unpacked = unpackDir(opts.backupDir)).dir);
    if (m && read) {
      const { sha256, bytes } = read;
      if (bytes !== m.sizeBytes) problems.push(`size is ${bytes} bytes, the manifest says ${m.sizeBytes}`);
      if (sha256 !== m.sha256) problems.push(`sha256 mismatch (file ${sha256}, manifest ${m.sha256})`);
    }
    if (m?.globalsFile && m.globalsSha256) {
      try {
        const g = await hashFile(resolve(r.dir, m.globalsFile));
        if (g.sha256 !== m.globalsSha256) problems.push(`globals file ${m.globalsFile}: sha256 mismatch`);
      } catch {
        problems.push(`globals file ${m.globalsFile} is missing`);
      }
    }
    if (!m)
      log.warn('no manifest for this file: only its archive structure can be checked', { file: r.file });
    return await finishVerify(r, opts, log, problems, name, read?.restoreFrom ?? r.file);
  } finally {
    unpacked?.remove();
  }
}

async function finishVerify(
  r: ResolvedBackup,
  opts: VerifyOptions,
  log: Logger,
  problems: string[],
  name: string,
  restoreFrom: string,
): Promise<VerifyResult> {
  const m = r.manifest;
  let deepDone = false;
  if (opts.deep && problems.length === 0) {
    if (!m) problems.push('deep verification needs the manifest (row counts)');
    else {
      const diff = await deepVerify(restoreFrom, m, opts, log);
      // Stopped part way: that says nothing about the backup, so nothing is recorded.
      if (opts.signal?.aborted)
        throw new OperationFailed(
          'E_INTERRUPTED',
          `deep verification of ${name} interrupted by ${String(opts.signal.reason)}; the backup itself is complete`,
          { backup: name },
        );
      problems.push(...diff);
      deepDone = diff.length === 0;
    }
  }
  if (m && r.manifestPath) {
    const at = new Date().toISOString();
    const updated: BackupManifest =
      problems.length === 0
        ? {
            ...m,
            verified: true,
            verifiedAt: at,
            deepVerifiedAt: deepDone ? at : m.deepVerifiedAt,
            verifyFailedAt: null,
            verifyError: null,
          }
        : { ...m, verified: false, verifyFailedAt: at, verifyError: problems.join('; ').slice(0, 1000) };
    try {
      writeManifest(r.dir, updated);
    } catch (err) {
      log.warn('could not record the verification result in the manifest', { error: (err as Error).message });
    }
  }
  return { name, file: r.file, ok: problems.length === 0, deep: deepDone, problems };
}

async function deepVerify(
  file: string,
  m: BackupManifest,
  opts: VerifyOptions,
  log: Logger,
): Promise<string[]> {
  if (!opts.conn)
    throw new UsageError(
      'E_USAGE',
      'deep verification needs a database connection',
      {},
      { hint: 'Set PGOPS_HOST.' },
    );
  const conn = opts.conn;
  const scratch = `pgops_verify_${randomBytes(6).toString('hex')}`;
  const tools = toolEnv(conn);
  log.info('deep verification: restoring into a scratch database', { database: scratch, file });
  try {
    await withClient(conn, 'postgres', (c) =>
      c.query(`CREATE DATABASE ${quoteIdent(scratch)} TEMPLATE template0`),
    );
    const r = await exec(
      pgBin('pg_restore', opts.binDir),
      [
        '--exit-on-error',
        '--no-owner',
        '--no-privileges',
        `--jobs=${opts.jobs ?? 2}`,
        '--no-password',
        '-d',
        scratch,
        file,
      ],
      // A scratch database, dropped afterwards: its commits need not wait for the WAL flush.
      { env: { ...tools.env(scratch), PGOPTIONS: RESTORE_SESSION_OPTIONS }, signal: opts.signal },
    );
    if (r.code !== 0) return [`restore into a scratch database failed: ${stderrTail(r.stderr, 3)}`];
    const actual = await withClient(conn, scratch, async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      return countRows(c);
    });
    return compareRowCounts(m.tableRowCounts, actual).map(
      (d) =>
        `table ${d.table}: ${d.expected ?? 'absent'} rows in the snapshot, ${d.actual ?? 'absent'} restored`,
    );
  } finally {
    tools.dispose();
    await withClient(conn, 'postgres', (c) =>
      c.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratch)} WITH (FORCE)`),
    ).catch((err: Error) =>
      log.warn(`could not drop the scratch database ${scratch}; drop it by hand`, { error: err.message }),
    );
  }
}

/** Verifies one backup or all; throws OperationFailed (exit 1) naming every file that failed. */
export async function verifyBackup(opts: VerifyOptions, deps: { log: Logger }): Promise<VerifyResult[]> {
  let targets: ResolvedBackup[];
  if (opts.all) {
    const scan = scanBackupDir(opts.backupDir);
    targets = [...scan.backups, ...scan.damaged].map((b) => resolvedFromCatalog(b, resolve(opts.backupDir)));
  } else if (opts.target) {
    targets = [resolveBackupRef(opts.target, opts.backupDir, deps.log)];
  } else {
    const newest = scanBackupDir(opts.backupDir).backups[0];
    if (!newest)
      throw new UsageError(
        'E_NO_BACKUPS',
        `no backups in ${resolve(opts.backupDir)}`,
        {},
        { hint: 'Run a backup first.' },
      );
    targets = [resolvedFromCatalog(newest, resolve(opts.backupDir))];
  }
  const results: VerifyResult[] = [];
  for (const t of targets) {
    try {
      const r = await verifyOne(t, opts, deps.log);
      // A failure is reported once, by the error that ends the command.
      if (r.ok) deps.log.info('backup verified', { backup: r.name, file: r.file, deep: r.deep });
      results.push(r);
    } catch (err) {
      if (err instanceof UsageError || (err instanceof OpsError && err.code === 'E_INTERRUPTED')) throw err;
      const msg = err instanceof OpsError ? err.message : (err as Error).message;
      results.push({
        name: t.manifest?.name ?? basename(t.file),
        file: t.file,
        ok: false,
        deep: false,
        problems: [msg],
      });
    }
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new OperationFailed(
      'E_VERIFY',
      failed
        .map((r) => `backup ${r.name} (${r.file}) failed verification: ${r.problems.join('; ')}`)
        .join('\n'),
      { files: failed.map((r) => r.file) },
      {
        hint: 'Do not restore from it; use an older backup (postgres-agent list-backups) and take a new one.',
      },
    );
  }
  return results;
}
