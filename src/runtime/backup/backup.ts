/**
 * Taking a backup: pg_dump in an exported snapshot (one custom-format archive, or with --jobs a
 * directory-format dump packed into one file) written under a hidden temp name with its sha256 and
 * table-of-contents check done while it writes (dump.ts); meanwhile a second connection counts every
 * table's rows in the same snapshot and the globals are dumped. Then fsync, rename into place, and a
 * manifest written last. The first failure stops the other parts and the cause is reported (a
 * damaged page by its table and block); an abort (SIGINT/SIGTERM) stops it all and removes the temp
 * files. Every outcome is recorded in pgops.backup_history.
 */
import { mkdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import {
  type DamagedRelation,
  findPageCorruption,
  pageCorruptionError,
  parseRelationPath,
  pickCause,
} from '../../core/backup/failure.js';
import {
  BACKUP_HISTORY_DDL,
  BACKUP_HISTORY_DATABASE,
  INSERT_BACKUP_HISTORY,
} from '../../core/backup/history-sql.js';
import { MANIFEST_KIND, type BackupManifest } from '../../core/backup/manifest.js';
import type { BackupResult } from '../../core/backup/results.js';
import {
  backupFileNames,
  backupNamesFor,
  defaultBackupName,
  validateBackupName,
} from '../../core/backup/names.js';
import { OperationFailed, OpsError, UsageError } from '../../core/errors.js';
import { quoteIdent, quoteLiteral } from '../../core/pg/conninfo.js';
import { formatBytes } from '../../core/output.js';
import { exec, execOk } from '../../runtime/exec.js';
import type { Logger } from '../../runtime/log.js';
import { pgBin } from '../../runtime/pgbin.js';
import { pollProgress, startProgress, type ProgressOptions, type ProgressReporter } from '../progress.js';
import { backupNameTaken, fsyncPath, scanBackupDir, writeManifest } from './catalog.js';
import { connect, type PgConnection, toolEnv, type ToolEnv } from './conn.js';
import { directoryDumpBytes, dumpCustom, dumpDirectory, type DumpParams } from './dump.js';
import { PartsRun } from './parts.js';

export interface BackupOptions {
  conn: PgConnection;
  backupDir: string;
  /** Databases to dump; one backup each. */
  databases: string[];
  /** Base name; default backup_YYYYMMDD_HHMMSS (UTC). Several databases get NAME_<database>. */
  name?: string;
  compression: number;
  /** Directory of the pg tools (PGOPS_PG_BIN_DIR). */
  binDir?: string;
  /** Called after each backup is complete (deep verification hooks in here). */
  afterEach?: (m: BackupManifest) => Promise<void>;
  /** Progress of each dump (bytes written); none when absent. */
  progress?: ProgressOptions;
  /**
   * Parallel pg_dump jobs. 1 (default): one custom-format archive. More: a directory-format dump
   * with --jobs N, packed into the same one file `NAME.dump` (manifest format "directory").
   */
  jobs?: number;
  /** Aborting it (SIGINT/SIGTERM) stops the run, removes its temp files and records the outcome. */
  signal?: AbortSignal;
}

export interface BackupDeps {
  log: Logger;
  now?: () => Date;
}

export type { BackupResult };

/** One advisory lock for "a backup is writing into this cluster's backup dir". */
export const BACKUP_LOCK_KEY = 7_410_215_001;

function noSpace(err: unknown, dir: string): OpsError | undefined {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new OperationFailed(
      'E_NO_SPACE',
      `no space left on device in backup directory ${dir}`,
      { dir },
      { hint: 'Free space (postgres-agent prune) or expand the backup PVC, then run the backup again.' },
    );
  return undefined;
}

/** Removes this backup's temp files and pg_dump's temp directory (after a failure or interruption). */
function removePartials(dir: string, name: string) {
  const f = backupFileNames(name);
  for (const p of [f.dumpPartial, f.dumpDirPartial, f.globalsPartial, f.manifestPartial])
    rmSync(join(dir, p), { recursive: true, force: true });
}

/** Tables pg_dump dumps data of (ordinary, not owned by an extension), as "schema.table". */
export const DUMPED_TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
   AND n.nspname NOT LIKE 'pg\\_temp%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2`;

/** Exact row counts per table, in the client's current transaction (snapshot). */
export async function countRows(client: pg.Client): Promise<Record<string, number>> {
  const { rows } = await client.query<{ schema: string; name: string }>(DUMPED_TABLES_SQL);
  const counts: Record<string, number> = {};
  for (const t of rows) {
    const r = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ONLY ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`,
    );
    counts[`${t.schema}.${t.name}`] = Number(r.rows[0]!.n);
  }
  return counts;
}

async function toolVersion(bin: string): Promise<string> {
  const r = await exec(bin, ['--version']);
  return r.stdout.trim();
}

async function recordHistory(
  historyClient: pg.Client | undefined,
  log: Logger,
  row: {
    name: string;
    database: string;
    status: 'success' | 'failure';
    startedAt: Date;
    finishedAt: Date;
    sizeBytes: number;
    verified: boolean;
    error: string | null;
  },
) {
  if (!historyClient) {
    log.warn('backup outcome not recorded in pgops.backup_history: no connection', { backup: row.name });
    return;
  }
  try {
    await historyClient.query(BACKUP_HISTORY_DDL);
    await historyClient.query(INSERT_BACKUP_HISTORY, [
      row.name,
      row.database,
      row.status,
      row.startedAt,
      row.finishedAt,
      (row.finishedAt.getTime() - row.startedAt.getTime()) / 1000,
      row.sizeBytes,
      row.verified,
      row.error,
    ]);
  } catch (err) {
    // Recording is for monitoring; it must not turn a good backup into a failure.
    log.warn('could not record the backup outcome in pgops.backup_history', {
      backup: row.name,
      error: (err as Error).message,
    });
  }
}

/**
 * Exact row counts on a second connection that imports the dump's snapshot, while pg_dump runs.
 * The exporting transaction stays untouched: a failing count cannot take the snapshot away from
 * pg_dump (whose workers import it later). No parallel query: the counts take one core at most,
 * leaving the rest to pg_dump. Warnings (a page failing its checksum) go to `notices`.
 */
async function countInSnapshot(
  conn: PgConnection,
  database: string,
  snapshotId: string,
  exporter: pg.Client,
  run: PartsRun,
  notices: string[],
): Promise<Record<string, number>> {
  const failed = (err: unknown) =>
    new OperationFailed(
      'E_ROW_COUNTS',
      `counting rows in the dump's snapshot failed: ${(err as Error).message}`,
    );
  const c = await connect(conn, database, 'postgres-agent backup (row counts)').catch((err) => {
    throw failed(err);
  });
  const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  c.on('notice', (n: { message?: string; severity?: string }) =>
    notices.push(`${n.severity ?? 'NOTICE'}:  ${n.message ?? ''}`),
  );
  const cancel = () => {
    void exporter.query('SELECT pg_cancel_backend($1)', [rows[0]!.pid]).catch(() => undefined);
  };
  run.signal.addEventListener('abort', cancel, { once: true });
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await c.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotId)}`);
    await c.query('SET LOCAL max_parallel_workers_per_gather = 0');
    const counts = await countRows(c);
    await c.query('COMMIT');
    return counts;
  } catch (err) {
    throw failed(err);
  } finally {
    run.signal.removeEventListener('abort', cancel);
    await c.end().catch(() => undefined);
  }
}

/** Roles without passwords: the file may be read and copied off-site; passwords stay in Secrets. */
async function dumpGlobals(
  binDir: string | undefined,
  tools: ToolEnv,
  path: string,
  signal: AbortSignal,
): Promise<string> {
  const globals = await execOk(
    pgBin('pg_dumpall', binDir),
    ['--globals-only', '--no-role-passwords', '--no-password'],
    { env: tools.env('postgres'), signal },
  );
  writeFileSync(path, globals.stdout, { mode: 0o600, flag: 'wx' });
  fsyncPath(path);
  return createHash('sha256').update(globals.stdout).digest('hex');
}

/** The relation a damaged file belongs to, read in the dump's own snapshot. */
async function damagedRelation(client: pg.Client, path: string): Promise<DamagedRelation | undefined> {
  const f = parseRelationPath(path);
  if (!f) return undefined;
  try {
    const { rows } = await client.query<DamagedRelation>(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
              (SELECT quote_ident(tn.nspname) || '.' || quote_ident(t.relname)
                 FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace
                WHERE t.reltoastrelid = c.oid) AS "toastOf"
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = pg_filenode_relation($1, $2)`,
      [f.tablespace, f.filenode],
    );
    return rows[0];
  } catch {
    return undefined;
  }
}

/** The error to report for a failed run: the cause, worded for a person, never a consequence. */
async function explainFailure(
  run: PartsRun,
  client: pg.Client,
  database: string,
  dir: string,
  warnings: string[],
  checksumFailuresBefore: number | null,
): Promise<OpsError> {
  const cause = pickCause(run.failures)!;
  const corruption = findPageCorruption([...run.failures.map((f) => f.message), ...warnings]);
  if (corruption && (cause.part !== 'interrupted' || findPageCorruption([cause.message]))) {
    const relation = await damagedRelation(client, corruption.path);
    let seen = false;
    if (checksumFailuresBefore !== null) {
      const { rows } = await client
        .query<{ n: string | null }>(
          'SELECT checksum_failures AS n FROM pg_stat_database WHERE datname = current_database()',
        )
        .catch(() => ({ rows: [] as { n: string | null }[] }));
      seen = Number(rows[0]?.n ?? 0) > checksumFailuresBefore;
    }
    return pageCorruptionError(corruption, relation, database, seen);
  }
  if (cause.error) return cause.error;
  // pg_dump writing its own files (parallel backups) reports a full volume in its words.
  if (/No space left on device|Disk quota exceeded/i.test(cause.message))
    return noSpace({ code: 'ENOSPC' }, dir)!;
  const code =
    cause.part === 'pg_dump'
      ? 'E_PG_DUMP'
      : cause.part === 'row counts'
        ? 'E_ROW_COUNTS'
        : cause.part === 'table of contents'
          ? 'E_VERIFY'
          : 'E_BACKUP';
  return new OperationFailed(code, cause.message, { database });
}

interface Snapshot {
  id: string;
  at: string;
  serverVersion: string;
  owner: string | null;
  encoding: string | null;
  sizeBytes: number;
  /** pg_stat_database.checksum_failures when the backup started (null: checksums off). */
  checksumFailures: number | null;
}

async function openSnapshot(client: pg.Client): Promise<Snapshot> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const { rows } = await client.query<{
    id: string;
    at: Date;
    v: string;
    owner: string | null;
    enc: string | null;
    size: string;
    cf: string | null;
  }>(
    `SELECT pg_export_snapshot() AS id, now() AS at, current_setting('server_version') AS v,
            pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS enc,
            pg_database_size(d.oid) AS size,
            (SELECT checksum_failures FROM pg_stat_database s WHERE s.datid = d.oid) AS cf
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  const r = rows[0]!;
  return {
    id: r.id,
    at: r.at.toISOString(),
    serverVersion: r.v,
    owner: r.owner,
    encoding: r.enc,
    sizeBytes: Number(r.size ?? 0),
    checksumFailures: r.cf === null ? null : Number(r.cf),
  };
}

function interruptedError(signal: AbortSignal): OpsError {
  const why = typeof signal.reason === 'string' ? signal.reason : 'a signal';
  return new OperationFailed(
    'E_INTERRUPTED',
    `interrupted by ${why}; its temporary files were removed and nothing was listed`,
    { signal: why },
    { hint: 'Earlier backups are untouched. Take the backup again when the interruption is over.' },
  );
}

/** A manifest as this version writes it: every field it always sets is there. */
type WrittenManifest = BackupManifest &
  Required<Pick<BackupManifest, 'format' | 'compression' | 'durationSeconds'>>;

async function backupOne(
  opts: BackupOptions,
  deps: BackupDeps,
  tools: ToolEnv,
  database: string,
  name: string,
): Promise<WrittenManifest> {
  const dir = resolve(opts.backupDir);
  const now = deps.now ?? (() => new Date());
  const log = deps.log.child({ backup: name, database });
  const f = backupFileNames(name);
  const jobs = opts.jobs ?? 1;
  const started = now();
  const pgDump = pgBin('pg_dump', opts.binDir);
  if (opts.signal?.aborted) throw interruptedError(opts.signal);
  const client = await connect(opts.conn, database, 'postgres-agent backup').catch((err: Error) => {
    throw new OperationFailed(
      'E_CONNECT',
      `cannot connect to database ${database} on ${opts.conn.host}:${opts.conn.port}: ${err.message}`,
      { database, host: opts.conn.host, port: opts.conn.port },
      { hint: 'Check PGOPS_HOST, PGOPS_PORT, the superuser password and that the database exists.' },
    );
  });
  const run = new PartsRun();
  const onInterrupt = () => {
    const e = interruptedError(opts.signal!);
    run.fail('interrupted', e.message, e);
  };
  opts.signal?.addEventListener('abort', onInterrupt, { once: true });
  // A long table keeps a parallel dump's archive unchanged for a while: keep our temp files fresh
  // so retention never takes them for leftovers of a killed run.
  const touch = setInterval(() => {
    const t = new Date();
    for (const p of [f.dumpPartial, f.dumpDirPartial, f.globalsPartial])
      try {
        utimesSync(join(dir, p), t, t);
      } catch {
        /* not there (yet) */
      }
  }, 60_000);
  touch.unref();
  let stopPolling = () => undefined as void;
  let progress: ProgressReporter | undefined;
  try {
    const snap = await openSnapshot(client);
    if (run.failed) throw interruptedError(opts.signal!);
    log.info('dumping', {
      snapshot: snap.id,
      file: join(dir, f.dump),
      databaseSizeBytes: snap.sizeBytes,
      ...(jobs > 1 ? { jobs } : {}),
    });
    progress = startProgress(
      {
        label: `backup ${name}`,
        unit: 'bytes',
        verb: 'written',
        note: snap.sizeBytes > 0 ? `database ${formatBytes(snap.sizeBytes)} on disk` : undefined,
      },
      opts.progress ? { ...opts.progress, log } : undefined,
    );
    const params: DumpParams = {
      pgDump,
      pgRestore: pgBin('pg_restore', opts.binDir),
      args: [`--compress=${opts.compression}`, `--snapshot=${snap.id}`, '--no-password'],
      env: tools.env(database),
      outPath: join(dir, f.dumpPartial),
      dirPath: join(dir, f.dumpDirPartial),
      jobs,
      asError: (err) => noSpace(err, dir),
    };
    // The size of what pg_dump has written so far, sampled while it grows.
    stopPolling = pollProgress(progress, opts.progress, () => {
      if (jobs > 1) return directoryDumpBytes(params);
      try {
        return statSync(params.outPath).size;
      } catch {
        return undefined;
      }
    });
    // Everything that makes the backup trustworthy runs while pg_dump writes, not after it.
    const notices: string[] = [];
    const asError = (err: unknown) => noSpace(err, dir);
    const [dump, counts, globalsSha256, pgDumpVersion] = await Promise.all([
      run.part('pg_dump', () => (jobs > 1 ? dumpDirectory(params, run) : dumpCustom(params, run)), asError),
      run.part('row counts', () => countInSnapshot(opts.conn, database, snap.id, client, run, notices)),
      run.part(
        'globals',
        () => dumpGlobals(opts.binDir, tools, join(dir, f.globalsPartial), run.signal),
        asError,
      ),
      run.part('pg_dump --version', () => toolVersion(pgDump)),
    ]);
    stopPolling();
    if (run.failed || !dump || !counts || !globalsSha256 || !pgDumpVersion) {
      progress.abort();
      throw await explainFailure(
        run,
        client,
        database,
        dir,
        [...notices, ...(dump?.warnings ?? [])],
        snap.checksumFailures,
      );
    }
    progress.finish(dump.bytes);
    await client.query('COMMIT').catch(() => undefined);
    const verifiedAt = now();

    renameSync(join(dir, f.dumpPartial), join(dir, f.dump));
    renameSync(join(dir, f.globalsPartial), join(dir, f.globals));
    fsyncPath(dir);
    const finished = now();
    const manifest: WrittenManifest = {
      kind: MANIFEST_KIND,
      version: 1,
      name,
      file: f.dump,
      globalsFile: f.globals,
      database,
      format: jobs > 1 ? 'directory' : 'custom',
      ...(jobs > 1 ? { jobs } : {}),
      compression: opts.compression,
      sizeBytes: dump.bytes,
      sha256: dump.sha256,
      globalsSha256,
      globalsIncludePasswords: false,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: (finished.getTime() - started.getTime()) / 1000,
      serverVersion: snap.serverVersion,
      pgDumpVersion,
      verified: true,
      verifiedAt: verifiedAt.toISOString(),
      deepVerifiedAt: null,
      tableRowCounts: counts,
      snapshotTimestamp: snap.at,
      snapshotId: snap.id,
      databaseOwner: snap.owner,
      databaseEncoding: snap.encoding,
    };
    writeManifest(dir, manifest);
    log.info('backup complete', {
      file: join(dir, f.dump),
      sizeBytes: manifest.sizeBytes,
      sha256: manifest.sha256,
      durationSeconds: manifest.durationSeconds,
    });
    return manifest;
  } catch (err) {
    stopPolling();
    progress?.abort();
    removePartials(dir, name);
    throw (
      noSpace(err, dir) ??
      (err instanceof OpsError ? err : new OperationFailed('E_BACKUP', (err as Error).message))
    );
  } finally {
    clearInterval(touch);
    opts.signal?.removeEventListener('abort', onInterrupt);
    await client.end().catch(() => undefined);
  }
}

/** Names the run will use; refuses (exit 2) a bad or already used name before touching anything. */
export function planBackupNames(opts: BackupOptions, at: Date): { database: string; name: string }[] {
  if (opts.databases.length === 0)
    throw new UsageError(
      'E_NO_DATABASES',
      'no database to back up',
      {},
      { hint: 'Set PGOPS_BACKUP_DATABASES.' },
    );
  const base = validateBackupName(opts.name ?? defaultBackupName(at));
  const planned = backupNamesFor(base, opts.databases);
  mkdirSync(resolve(opts.backupDir), { recursive: true });
  for (const p of planned) {
    if (backupNameTaken(opts.backupDir, p.name))
      throw new UsageError(
        'E_BACKUP_EXISTS',
        `a backup named ${p.name} already exists in ${resolve(opts.backupDir)}; backups are never overwritten`,
        { name: p.name },
        { hint: 'Choose another name, or give none to get backup_YYYYMMDD_HHMMSS.' },
      );
  }
  return planned;
}

/** Backs up every database in `opts.databases`; throws (after recording) if any failed. */
export async function runBackup(opts: BackupOptions, deps: BackupDeps): Promise<BackupResult> {
  const now = deps.now ?? (() => new Date());
  const dir = resolve(opts.backupDir);
  const planned = planBackupNames(opts, now());
  const tools = toolEnv(opts.conn);
  let history: pg.Client | undefined;
  try {
    history = await connect(opts.conn, BACKUP_HISTORY_DATABASE, 'postgres-agent backup').catch(
      (err: Error) => {
        throw new OperationFailed(
          'E_CONNECT',
          `cannot connect to PostgreSQL at ${opts.conn.host}:${opts.conn.port}: ${err.message}`,
          { host: opts.conn.host, port: opts.conn.port },
          { hint: 'Check PGOPS_HOST, PGOPS_PORT and the superuser password.' },
        );
      },
    );
    const { rows } = await history.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
      BACKUP_LOCK_KEY,
    ]);
    if (!rows[0]?.ok)
      throw new OperationFailed(
        'E_BACKUP_RUNNING',
        'another backup of this cluster is running',
        {},
        { hint: 'Wait for it to finish (kubectl get jobs -l app.kubernetes.io/component=postgres-backup).' },
      );
    // Holding the lock, no other backup is writing: temp files here are from runs that were killed.
    for (const p of scanBackupDir(dir).partials) {
      deps.log.info('removing a temporary file left by an interrupted backup', { file: p.path });
      rmSync(p.path, { recursive: true, force: true });
    }
    const result: BackupResult = { backups: [] };
    const failures: { name: string; error: OpsError }[] = [];
    for (const { database, name } of planned) {
      const startedAt = now();
      try {
        const m = await backupOne(opts, deps, tools, database, name);
        // Deep verification before recording: a backup that fails it is recorded as a failure.
        if (opts.afterEach) await opts.afterEach(m);
        await recordHistory(history, deps.log, {
          name,
          database,
          status: 'success',
          startedAt,
          finishedAt: now(),
          sizeBytes: m.sizeBytes,
          verified: m.verified,
          error: null,
        });
        result.backups.push({
          name,
          database,
          file: join(dir, m.file),
          sizeBytes: m.sizeBytes,
          sha256: m.sha256,
          durationSeconds: m.durationSeconds,
        });
      } catch (err) {
        const e = err instanceof OpsError ? err : new OperationFailed('E_BACKUP', (err as Error).message);
        await recordHistory(history, deps.log, {
          name,
          database,
          status: 'failure',
          startedAt,
          finishedAt: now(),
          sizeBytes: 0,
          verified: false,
          error: e.message.slice(0, 2000),
        });
        failures.push({ name, error: e });
      }
    }
    if (failures.length === 1) {
      const { name, error } = failures[0]!;
      throw new OpsError(
        error.code,
        `backup ${name} failed: ${error.message}`,
        error.exitCode === 2 ? 2 : 1,
        error.meta,
        {
          cause: error,
          hint:
            error.hint ??
            'Nothing was listed for it; earlier backups are untouched. Fix the cause and run the backup again.',
        },
      );
    }
    if (failures.length > 1)
      throw new OperationFailed(
        'E_BACKUP',
        `${failures.length} backups failed:\n${failures.map((f) => `${f.name}: ${f.error.message}`).join('\n')}`,
        { failed: failures.map((f) => f.name) },
        { hint: 'Nothing was listed for them; earlier backups are untouched.' },
      );
    return result;
  } finally {
    tools.dispose();
    await history?.end().catch(() => undefined);
  }
}
