/**
 * Taking a backup: pg_dump (custom format) in an exported snapshot whose per-table row counts are
 * recorded, streamed through sha256 into a hidden temp file, fsynced, checked with
 * `pg_restore --list`, renamed into place, and described by a manifest written last. Every outcome
 * is recorded in pgops.backup_history.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { renameSync } from 'node:fs';
import type pg from 'pg';
import {
  BACKUP_HISTORY_DDL,
  BACKUP_HISTORY_DATABASE,
  INSERT_BACKUP_HISTORY,
} from '../../core/backup/history-sql.js';
import { MANIFEST_KIND, type BackupManifest } from '../../core/backup/manifest.js';
import {
  backupFileNames,
  backupNamesFor,
  defaultBackupName,
  validateBackupName,
} from '../../core/backup/names.js';
import { OperationFailed, OpsError, UsageError } from '../../core/errors.js';
import { quoteIdent } from '../../core/pg/conninfo.js';
import { formatBytes } from '../../core/output.js';
import { exec, execOk } from '../../runtime/exec.js';
import type { Logger } from '../../runtime/log.js';
import { pgBin } from '../../runtime/pgbin.js';
import { pollProgress, startProgress, type ProgressOptions } from '../progress.js';
import { backupNameTaken, fsyncPath, scanBackupDir, writeManifest } from './catalog.js';
import { connect, type PgConnection, toolEnv, type ToolEnv } from './conn.js';
import { runToFile, stderrTail } from './stream.js';

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
}

export interface BackupDeps {
  log: Logger;
  now?: () => Date;
}

export interface BackupResult {
  backups: {
    name: string;
    database: string;
    file: string;
    sizeBytes: number;
    sha256: string;
    durationSeconds: number;
  }[];
}

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

/** Removes this backup's temp files (after a failure, or ones a killed run left behind). */
function removePartials(dir: string, name: string) {
  const f = backupFileNames(name);
  for (const p of [f.dumpPartial, f.globalsPartial, f.manifestPartial]) rmSync(join(dir, p), { force: true });
}

interface Snapshot {
  id: string;
  at: string;
  serverVersion: string;
  owner: string | null;
  encoding: string | null;
}

async function openSnapshot(client: pg.Client): Promise<Snapshot> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const { rows } = await client.query<{
    id: string;
    at: Date;
    v: string;
    owner: string | null;
    enc: string | null;
  }>(
    `SELECT pg_export_snapshot() AS id, now() AS at, current_setting('server_version') AS v,
            pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS enc
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  const r = rows[0]!;
  return { id: r.id, at: r.at.toISOString(), serverVersion: r.v, owner: r.owner, encoding: r.enc };
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

async function backupOne(
  opts: BackupOptions,
  deps: BackupDeps,
  tools: ToolEnv,
  database: string,
  name: string,
): Promise<BackupManifest> {
  const dir = resolve(opts.backupDir);
  const now = deps.now ?? (() => new Date());
  const log = deps.log.child({ backup: name, database });
  const f = backupFileNames(name);
  const started = now();
  const pgDump = pgBin('pg_dump', opts.binDir);
  const client = await connect(opts.conn, database, 'postgres-agent backup').catch((err: Error) => {
    throw new OperationFailed(
      'E_CONNECT',
      `cannot connect to database ${database} on ${opts.conn.host}:${opts.conn.port}: ${err.message}`,
      { database, host: opts.conn.host, port: opts.conn.port },
      { hint: 'Check PGOPS_HOST, PGOPS_PORT, the superuser password and that the database exists.' },
    );
  });
  try {
    const snap = await openSnapshot(client);
    // On-disk size for context only: the compressed dump is usually far smaller, so it is no total.
    const { rows: sizeRows } = await client.query<{ size: string }>(
      'SELECT pg_database_size(current_database()) AS size',
    );
    const dbSize = Number(sizeRows[0]?.size ?? 0);
    log.info('dumping', { snapshot: snap.id, file: join(dir, f.dump), databaseSizeBytes: dbSize });
    const progress = startProgress(
      {
        label: `backup ${name}`,
        unit: 'bytes',
        verb: 'written',
        note: dbSize > 0 ? `database ${formatBytes(dbSize)} on disk` : undefined,
      },
      opts.progress ? { ...opts.progress, log } : undefined,
    );
    // The size of the temp file pg_dump's stream is written to, sampled while it grows.
    const stopPolling = pollProgress(progress, opts.progress, () => {
      try {
        return statSync(join(dir, f.dumpPartial)).size;
      } catch {
        return undefined;
      }
    });
    const dumpArgs = [
      '--format=custom',
      `--compress=${opts.compression}`,
      `--snapshot=${snap.id}`,
      '--no-password',
    ];
    // Row counts run in the same snapshot while pg_dump streams, so they cost no extra wall time.
    const [dump, counts] = await Promise.all([
      runToFile(pgDump, dumpArgs, tools.env(database), join(dir, f.dumpPartial)).finally(stopPolling),
      countRows(client).then(
        (c) => ({ ok: true as const, c }),
        (err: Error) => ({ ok: false as const, err }),
      ),
    ]).catch((err: unknown) => {
      progress.abort();
      throw err;
    });
    if (dump.code === 0) progress.finish(dump.bytes);
    else progress.abort();
    await client.query('COMMIT').catch(() => undefined);
    if (dump.code !== 0)
      throw new OperationFailed(
        'E_PG_DUMP',
        `pg_dump failed: ${stderrTail(dump.stderr) || `exit ${dump.code ?? dump.signal}`}`,
        {
          database,
        },
      );
    if (!counts.ok) throw whileCounting(counts.err);
    fsyncPath(join(dir, f.dumpPartial));

    // Roles, without passwords: the file may be read and copied off-site; passwords stay in Secrets.
    const globals = await execOk(
      pgBin('pg_dumpall', opts.binDir),
      ['--globals-only', '--no-role-passwords', '--no-password'],
      { env: tools.env('postgres') },
    );
    writeFileSync(join(dir, f.globalsPartial), globals.stdout, { mode: 0o600, flag: 'wx' });
    fsyncPath(join(dir, f.globalsPartial));
    const globalsSha256 = createHash('sha256').update(globals.stdout).digest('hex');

    // pg_restore reads the archive's whole table of contents: a truncated or garbled header fails here.
    const list = await exec(pgBin('pg_restore', opts.binDir), ['--list', join(dir, f.dumpPartial)], {
      env: tools.env(database),
    });
    if (list.code !== 0)
      throw new OperationFailed(
        'E_VERIFY',
        `the new archive failed verification: ${stderrTail(list.stderr)}`,
        {
          database,
        },
      );
    const verifiedAt = now();

    renameSync(join(dir, f.dumpPartial), join(dir, f.dump));
    renameSync(join(dir, f.globalsPartial), join(dir, f.globals));
    fsyncPath(dir);
    const finished = now();
    const manifest: BackupManifest = {
      kind: MANIFEST_KIND,
      version: 1,
      name,
      file: f.dump,
      globalsFile: f.globals,
      database,
      format: 'custom',
      compression: opts.compression,
      sizeBytes: dump.bytes,
      sha256: dump.sha256,
      globalsSha256,
      globalsIncludePasswords: false,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: (finished.getTime() - started.getTime()) / 1000,
      serverVersion: snap.serverVersion,
      pgDumpVersion: await toolVersion(pgDump),
      verified: true,
      verifiedAt: verifiedAt.toISOString(),
      deepVerifiedAt: null,
      tableRowCounts: counts.c,
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
    removePartials(dir, name);
    throw (
      noSpace(err, dir) ??
      (err instanceof OpsError ? err : new OperationFailed('E_BACKUP', (err as Error).message))
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

function whileCounting(err: Error): OpsError {
  return new OperationFailed('E_ROW_COUNTS', `counting rows in the dump's snapshot failed: ${err.message}`);
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
      rmSync(p.path, { force: true });
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
