/**
 * Restoring a backup, all or nothing: the file is identified by its content and its checksum is
 * checked before anything is touched; the data goes into a new database `<db>__restoring`; only when
 * that fully succeeded is the target swapped in by renaming (after a safety backup of the old one).
 * A failed restore leaves the original database exactly as it was.
 */
import type { RestoreResult } from '../../core/backup/results.js';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { resolve } from 'node:path';
import type pg from 'pg';
import type { AgentEnv } from '../../core/config/schema.js';
import type { BackupFormat } from '../../core/backup/format.js';
import { planGlobalsRestore } from '../../core/backup/globals.js';
import { parseManifest, type BackupManifest } from '../../core/backup/manifest.js';
import { restoringMark } from '../../core/backup/interrupted-restore.js';
import { restoreDatabaseNames } from '../../core/backup/names.js';
import { OperationFailed, OpsError, SafetyRefusal, UsageError } from '../../core/errors.js';
import { quoteIdent, quoteLiteral } from '../../core/pg/conninfo.js';
import { isRemoteUrl } from '../../core/sync/url.js';
import { exec } from '../exec.js';
import type { Logger } from '../log.js';
import { pgBin } from '../pgbin.js';
import { startProgress, type ProgressOptions, type ProgressReporter } from '../progress.js';
import { runBackup } from './backup.js';
import { refuseMetaCommands, restrictedModeArgs, scriptGate } from './plain-script.js';
import { repairRestoreLeftovers } from './repair.js';
import { connect, type PgConnection, toolEnv, type ToolEnv } from './conn.js';
import { identifyBackupFile } from './identify.js';
import { DamagedArchive, unpackDir, unpackDump } from './packed.js';
import { resolveBackupRef, type ResolvedBackup } from './resolve.js';
import { runFromStream, sha256File, stderrTail } from './stream.js';

export interface RestoreOptions {
  conn: PgConnection;
  backupDir: string;
  /** A backup name, a file path, or an s3:// gs:// azure:// URL. */
  source: string;
  /** Database to restore into; default: the one in the manifest or archive, then `fallbackDatabase`. */
  targetDatabase?: string;
  fallbackDatabase?: string;
  /** Allow replacing an existing database. */
  replace?: boolean;
  /** Take a backup of the database being replaced (default true). */
  safetyBackup?: boolean;
  safetyBackupCompression?: number;
  /** pg_dump jobs of the safety backup (PGOPS_BACKUP_JOBS). */
  safetyBackupJobs?: number;
  /** Restore even if the checksum does not match the manifest. */
  force?: boolean;
  /** Replacing was confirmed (--yes). */
  yes?: boolean;
  /** Asks a person; absent when there is no TTY. */
  confirm?: (question: string, expected: string) => Promise<boolean>;
  jobs?: number;
  /** Keep the replaced database as <db>__before_restore_<ts> instead of dropping it. */
  keepPrevious?: boolean;
  binDir?: string;
  /** Parsed configuration for remote downloads (PGOPS_SYNC_*). */
  agentEnv?: AgentEnv;
  /** Environment for remote downloads (cloud credentials). */
  rawEnv?: NodeJS.ProcessEnv;
  /** Progress of the restore (and of the safety backup); none when absent. */
  progress?: ProgressOptions;
}

export type { RestoreResult };

interface Fetched {
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
  if (!opts.agentEnv)
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
    env: opts.agentEnv,
    rawEnv: opts.rawEnv ?? process.env,
    log,
    tmpDir: resolve(opts.backupDir),
  });
}

/** Refuses (exit 3) a file whose checksum differs from its manifest, unless forced. */
async function checkChecksum(
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
  const { sha256, bytes } = computed ?? (await sha256File(r.file));
  if (sha256 !== m.sha256 || bytes !== m.sizeBytes)
    mismatches.push(
      `backup ${m.name} (${r.file}) does not match its manifest (sha256 ${sha256}, expected ${m.sha256}; ${bytes} bytes, expected ${m.sizeBytes})`,
    );
  // The globals script is run too (its role statements): it must be the one the backup wrote.
  const globals = m.globalsFile ? resolve(r.dir, m.globalsFile) : undefined;
  if (globals && m.globalsSha256 && existsSync(globals)) {
    const g = await sha256File(globals);
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
async function archiveDbName(
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

/** pg_restore --verbose lines that mark the start of one TOC item (serial and parallel runs alike). */
const ITEM_LINE = /^pg_restore: (creating|processing data for|executing|restoring) /;
/** What pg_restore prints without --verbose: kept for error messages, the rest is progress. */
const NOT_VERBOSE = /^pg_restore: (error|warning|detail|hint|while|from TOC entry)|^(?!pg_restore: )/;

/** Counts pg_restore's items from its --verbose stderr into `progress`; `errors()` is the rest. */
export function verboseItems(progress: ProgressReporter) {
  let carry = '';
  let items = 0;
  let kept = '';
  return {
    onStderr: (chunk: string) => {
      const lines = (carry + chunk).split('\n');
      carry = lines.pop() ?? '';
      for (const l of lines) {
        if (ITEM_LINE.test(l)) progress.update(++items, { current: l.slice('pg_restore: '.length) });
        if (NOT_VERBOSE.test(l) && kept.length < 64 * 1024) kept += l + '\n';
      }
    },
    errors: () => kept + carry,
  };
}

/** A pass-through stream that reports how many bytes of the file were read. */
function countingBytes(progress: ProgressReporter): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      progress.update(bytes);
      cb(null, chunk);
    },
  });
}

function validDbName(db: string): string {
  if (!db || new TextEncoder().encode(db).length > 63 || db.includes('\0'))
    throw new UsageError(
      'E_DATABASE_NAME',
      `invalid database name "${db}"`,
      {},
      { hint: 'Use --target-database NAME (max 63 bytes).' },
    );
  return db;
}

async function dbExists(c: pg.Client, db: string): Promise<boolean> {
  const { rows } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
  return rows.length > 0;
}

async function applyGlobals(c: pg.Client, file: string, log: Logger): Promise<string[]> {
  let script: string;
  try {
    script = readFileSync(file, 'utf8');
  } catch {
    log.warn('globals file not found: roles are not restored', { file });
    return [];
  }
  const { rows } = await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles');
  const plan = planGlobalsRestore(script, new Set(rows.map((r) => r.rolname)));
  for (const stmt of plan.statements) {
    try {
      await c.query(stmt);
    } catch (err) {
      // Only the statement kind is logged: the globals file itself is never printed.
      log.warn('a role statement from the globals file failed; continuing', {
        statement: stmt.split(' ').slice(0, 3).join(' '),
        error: (err as Error).message,
      });
    }
  }
  if (plan.createdRoles.length)
    log.info('roles created from the backup (without passwords)', { roles: plan.createdRoles });
  return plan.createdRoles;
}

/**
 * pg_restore commits each item (table data, index) on its own: those commits need not wait for the
 * WAL flush. Nothing restored is visible before the swap (or the rename of a new database), whose
 * commit is synchronous and so flushes every earlier record with it; a crash before that leaves a
 * <db>__restoring that the next restore drops.
 */
export const RESTORE_SESSION_OPTIONS = '-c synchronous_commit=off';

async function restoreInto(
  db: string,
  file: string,
  format: BackupFormat,
  opts: RestoreOptions,
  tools: ToolEnv,
  log: Logger,
  tocItems: number | undefined,
  label: string,
): Promise<void> {
  const env = { ...tools.env(db), PGOPTIONS: RESTORE_SESSION_OPTIONS };
  const pgRestore = pgBin('pg_restore', opts.binDir);
  const jobs = opts.jobs ?? 1;
  let r: { code: number | null; signal: NodeJS.Signals | null; stderr: string; inputError?: Error };
  const common = ['--exit-on-error', '--no-password', '-d', db];
  const tool = format === 'plain' || format === 'plain-gzip' ? 'psql' : 'pg_restore';
  // pg_restore reports items (one --verbose line each, counted against the TOC); psql reads a
  // script, so its progress is the bytes of the file read so far.
  const progress = startProgress(
    tool === 'pg_restore' ? { label, unit: 'items', verb: 'items' } : { label, unit: 'bytes', verb: 'read' },
    opts.progress ? { ...opts.progress, log } : undefined,
    tool === 'pg_restore' ? tocItems : statSync(file).size,
  );
  const verbose = verboseItems(progress);
  const verboseOn = !!opts.progress && opts.progress.mode !== 'off';
  const pgRestoreArgs = verboseOn ? [...common, '--verbose'] : common;
  if (format === 'custom' || format === 'directory') {
    const par = jobs > 1 ? [`--jobs=${jobs}`] : ['--single-transaction'];
    log.info('pg_restore', { database: db, jobs });
    r = await exec(pgRestore, [...pgRestoreArgs, ...par, file], { env, onStderr: verbose.onStderr });
  } else if (format === 'tar') {
    r = await exec(pgRestore, [...pgRestoreArgs, '--single-transaction', file], {
      env,
      onStderr: verbose.onStderr,
    });
  } else if (format === 'custom-gzip') {
    r = await runFromStream(
      pgRestore,
      [...pgRestoreArgs, '--single-transaction'],
      env,
      [createReadStream(file), createGunzip()],
      verbose.onStderr,
    );
  } else {
    const chain = [
      createReadStream(file),
      countingBytes(progress),
      ...(format === 'plain-gzip' ? [createGunzip()] : []),
      scriptGate(file),
    ];
    r = await runFromStream(
      pgBin('psql', opts.binDir),
      [
        ...['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '--no-password', '-d', db],
        ...(await restrictedModeArgs(opts.binDir)),
        ...['-f', '-'],
      ],
      env,
      chain,
    );
  }
  if (r.code !== 0 || r.inputError) progress.abort();
  else progress.finish();
  // Without the --verbose progress lines, the stderr reads as it would without progress.
  const stderr = tool === 'pg_restore' && verboseOn ? verbose.errors() : r.stderr;
  if (r.code !== 0)
    throw new OperationFailed(
      'E_RESTORE',
      `${tool} failed: ${stderrTail(stderr) || `exit ${r.code ?? r.signal}`}`,
      { database: db },
    );
  // The tool saw end of input early (truncated gzip, a \connect refused): its "success" covers part
  // of the data only.
  if (r.inputError) {
    if (r.inputError instanceof OpsError) throw r.inputError;
    throw new OperationFailed(
      'E_RESTORE_INPUT',
      `reading ${file} failed part way (${r.inputError.message}): the file is damaged or truncated`,
      { file },
      { hint: 'Restore another backup (postgres-agent list-backups).' },
    );
  }
}

/** Stops connections to `db` and keeps new ones out (superusers included) until re-allowed. */
async function fence(c: pg.Client, db: string): Promise<void> {
  await c.query(`ALTER DATABASE ${quoteIdent(db)} ALLOW_CONNECTIONS false`);
  for (let i = 0; i < 50; i++) {
    const { rows } = await c.query<{ n: string }>(
      `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [db],
    );
    if (Number(rows[0]!.n) === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function restoreBackup(
  opts: RestoreOptions,
  deps: { log: Logger; now?: () => Date },
): Promise<RestoreResult> {
  const log = deps.log;
  const now = deps.now ?? (() => new Date());
  const started = now();
  let fetched: Fetched | undefined;
  let unpacked: { dir: string; remove: () => void } | undefined;
  try {
    let r: ResolvedBackup;
    if (isRemoteUrl(opts.source)) {
      fetched = await fetchRemote(opts.source, opts, log);
      let manifest: BackupManifest | undefined;
      if (fetched.manifestFile) {
        const p = parseManifest(readFileSync(fetched.manifestFile, 'utf8'));
        if (p.ok) manifest = p.manifest;
      }
      r = { file: fetched.file, manifest, dir: resolve(fetched.file, '..') };
    } else {
      r = resolveBackupRef(opts.source, opts.backupDir, log);
    }

    // Everything below until the safety backup only reads: a bad file changes nothing.
    const format = await identifyBackupFile(r.file);
    let checksum: RestoreResult['checksum'];
    let archived: { dbName: string | undefined; items: number } | undefined;
    /** What pg_restore reads: the file, or the directory a packed dump was unpacked into. */
    let source = r.file;
    if (format === 'directory') {
      // One read of the file checks its checksum and unpacks it (on the backup volume).
      unpacked = unpackDir(opts.backupDir);
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
    const target = validDbName(
      opts.targetDatabase ?? r.manifest?.database ?? archived?.dbName ?? opts.fallbackDatabase ?? '',
    );
    const names = restoreDatabaseNames(target, started);
    const adminDb = target === 'postgres' ? 'template1' : 'postgres';
    log.info('restoring', { file: r.file, format, database: target, checksum });

    const admin = await connect(opts.conn, adminDb, 'postgres-agent restore').catch((err: Error) => {
      throw new OperationFailed(
        'E_CONNECT',
        `cannot connect to PostgreSQL at ${opts.conn.host}:${opts.conn.port}: ${err.message}`,
        {},
        {
          hint: 'Check PGOPS_HOST, PGOPS_PORT and the superuser password.',
        },
      );
    });
    const tools = toolEnv(opts.conn);
    try {
      // An earlier restore killed part way: put its target back first (the safety backup needs it).
      await repairRestoreLeftovers(admin, log);
      // Our own unfinished copies are gone now: one still there is somebody's database.
      if (await dbExists(admin, names.restoring))
        throw new SafetyRefusal(
          'E_RESTORING_EXISTS',
          `database ${names.restoring} exists and is not a copy left by a restore of ours (it lacks our mark), so ${target} was not restored; nothing was changed`,
          { database: names.restoring },
          {
            hint: `If it is a leftover, drop it (DROP DATABASE ${quoteIdent(names.restoring)}); if it is yours, rename it. Then run the restore again.`,
          },
        );
      const exists = await dbExists(admin, target);
      if (exists) {
        if (!opts.replace)
          throw new SafetyRefusal(
            'E_TARGET_EXISTS',
            `database ${target} exists; restoring would replace it, so nothing was done`,
            { database: target },
            {
              hint: `Re-run with --replace --yes to replace it (a safety backup is taken first), or restore beside it with --target-database ${target}_restored.`,
            },
          );
        const question = `This replaces database ${target} with the contents of ${r.file}${opts.safetyBackup === false ? ' WITHOUT a safety backup' : ` (a safety backup ${names.safetyBackup} is taken first)`}.`;
        if (!opts.yes) {
          if (!opts.confirm)
            throw new SafetyRefusal(
              'E_CONFIRM',
              `${question} Refusing without confirmation (no terminal to ask).`,
              { database: target },
              {
                hint: 'Re-run with --yes to confirm.',
              },
            );
          if (!(await opts.confirm(`${question}\nType the database name to confirm: `, target)))
            throw new SafetyRefusal('E_CONFIRM', 'not confirmed; nothing was changed', { database: target });
        }
      }

      let safetyBackup: string | null = null;
      if (exists && opts.safetyBackup !== false) {
        log.info('taking a safety backup before replacing', { backup: names.safetyBackup, database: target });
        try {
          await runBackup(
            {
              conn: opts.conn,
              backupDir: opts.backupDir,
              databases: [target],
              name: names.safetyBackup,
              compression: opts.safetyBackupCompression ?? 6,
              jobs: opts.safetyBackupJobs,
              binDir: opts.binDir,
              progress: opts.progress,
            },
            { log },
          );
        } catch (err) {
          throw new OperationFailed(
            'E_SAFETY_BACKUP',
            `the safety backup of ${target} failed, so nothing was restored: ${(err as Error).message}`,
            { database: target },
            {
              hint: 'Fix the backup problem first, or re-run with --no-safety-backup if you accept losing the current data.',
            },
          );
        }
        safetyBackup = names.safetyBackup;
      }

      const rolesCreated = globalsFile ? await applyGlobals(admin, globalsFile, log) : [];

      const { rows: ownerRows } = await admin.query<{ owner: string }>(
        `SELECT coalesce((SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1),
                         (SELECT rolname FROM pg_roles WHERE rolname = $2)) AS owner`,
        [target, r.manifest?.databaseOwner ?? null],
      );
      const owner = ownerRows[0]?.owner;
      await admin.query(
        `CREATE DATABASE ${quoteIdent(names.restoring)} TEMPLATE template0${owner ? ` OWNER ${quoteIdent(owner)}` : ''}`,
      );
      // Marked as ours, so that only our unfinished copies are ever dropped by a repair.
      await admin.query(
        `COMMENT ON DATABASE ${quoteIdent(names.restoring)} IS ${quoteLiteral(restoringMark(target))}`,
      );
      try {
        await restoreInto(
          names.restoring,
          source,
          format,
          opts,
          tools,
          log,
          archived?.items,
          `restore ${target}`,
        );
      } catch (err) {
        await admin
          .query(`DROP DATABASE IF EXISTS ${quoteIdent(names.restoring)} WITH (FORCE)`)
          .catch(() => undefined);
        const e = err instanceof OpsError ? err : new OperationFailed('E_RESTORE', (err as Error).message);
        throw new OpsError(
          e.code,
          `restore of ${r.file} failed, database ${target} ${exists ? 'was not changed' : 'was not created'}: ${e.message}`,
          e.exitCode,
          e.meta,
          {
            cause: e,
            hint: e.hint ?? 'Check the error above; the original database is untouched.',
          },
        );
      }

      let previous: string | null = null;
      if (exists) {
        await fence(admin, target);
        try {
          await admin.query('BEGIN');
          await admin.query(`ALTER DATABASE ${quoteIdent(target)} RENAME TO ${quoteIdent(names.previous)}`);
          await admin.query(`ALTER DATABASE ${quoteIdent(names.restoring)} RENAME TO ${quoteIdent(target)}`);
          await admin.query(`COMMENT ON DATABASE ${quoteIdent(target)} IS NULL`);
          await admin.query('COMMIT');
        } catch (err) {
          await admin.query('ROLLBACK').catch(() => undefined);
          await admin
            .query(`ALTER DATABASE ${quoteIdent(target)} ALLOW_CONNECTIONS true`)
            .catch(() => undefined);
          await admin
            .query(`DROP DATABASE IF EXISTS ${quoteIdent(names.restoring)} WITH (FORCE)`)
            .catch(() => undefined);
          throw new OperationFailed(
            'E_SWAP',
            `could not swap the restored database in; ${target} was not changed: ${(err as Error).message}`,
            { database: target },
          );
        }
        previous = names.previous;
        if (opts.keepPrevious) {
          await admin
            .query(`ALTER DATABASE ${quoteIdent(names.previous)} ALLOW_CONNECTIONS true`)
            .catch(() => undefined);
          log.info('previous database kept', { database: names.previous });
        } else {
          await admin.query(`DROP DATABASE ${quoteIdent(names.previous)} WITH (FORCE)`).catch((err: Error) =>
            log.warn(`could not drop the replaced database ${names.previous}; drop it by hand`, {
              error: err.message,
            }),
          );
          previous = null;
        }
      } else {
        await admin.query('BEGIN');
        await admin.query(`ALTER DATABASE ${quoteIdent(names.restoring)} RENAME TO ${quoteIdent(target)}`);
        await admin.query(`COMMENT ON DATABASE ${quoteIdent(target)} IS NULL`);
        await admin.query('COMMIT');
      }
      const durationSeconds = (now().getTime() - started.getTime()) / 1000;
      log.info('restore complete', { database: target, file: r.file, durationSeconds, replaced: exists });
      return {
        database: target,
        file: r.file,
        format,
        replaced: exists,
        safetyBackup,
        previousDatabase: previous,
        rolesCreated,
        durationSeconds,
        checksum,
      };
    } finally {
      tools.dispose();
      await admin.end().catch(() => undefined);
    }
  } finally {
    unpacked?.remove();
    await fetched?.cleanup();
  }
}
