/**
 * Restoring a backup, all or nothing: the file is identified by its content and its checksum is
 * checked before anything is touched (restore-source.ts); the data goes into a new database
 * `<db>__restoring` (restore-into.ts); only when that fully succeeded is the target swapped in by
 * renaming (restore-target.ts), after a safety backup of the old one. A failed restore leaves the
 * original database exactly as it was.
 */
import type { RestoreResult } from '../../core/backup/results.js';
import type pg from 'pg';
import type { AgentConfig } from '../../core/config/schema.js';
import { restoringMark } from '../../core/backup/interrupted-restore.js';
import { restoreDatabaseNames } from '../../core/backup/names.js';
import { OperationFailed, OpsError, SafetyRefusal } from '../../core/errors.js';
import { quoteIdent, quoteLiteral } from '../../core/pg/conninfo.js';
import type { Logger } from '../log.js';
import type { ProgressOptions } from '../progress.js';
import { runBackup } from './backup.js';
import { repairRestoreLeftovers } from './repair.js';
import { connect, type PgConnection, toolEnv, type ToolEnv } from './conn.js';
import type { ResolvedBackup } from './resolve.js';
import { restoreInto } from './restore-into.js';
import { type Fetched, inspectBackup, type InspectedBackup, locateBackup } from './restore-source.js';
import { applyGlobals, dbExists, renameIn, swapIn, validDbName } from './restore-target.js';

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
  /** The object store settings for remote downloads (config.sync). */
  objectStore?: Pick<AgentConfig, 'sync' | 'agent'>;
  /** Environment for remote downloads (cloud credentials). */
  rawEnv?: NodeJS.ProcessEnv;
  /** Progress of the restore (and of the safety backup); none when absent. */
  progress?: ProgressOptions;
}

export type { RestoreResult };

type RestoreDatabaseNames = ReturnType<typeof restoreDatabaseNames>;

export async function restoreBackup(
  opts: RestoreOptions,
  deps: { log: Logger; now?: () => Date },
): Promise<RestoreResult> {
  const log = deps.log;
  const now = deps.now ?? (() => new Date());
  const started = now();
  const held: { fetched?: Fetched; unpacked?: { dir: string; remove: () => void } } = {};
  try {
    const r = await locateBackup(opts, log, held);
    // Everything below until the safety backup only reads: a bad file changes nothing.
    const inspected = await inspectBackup(r, opts, log, held);
    const { format, checksum, archived, globalsFile } = inspected;
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
      if (exists) await confirmReplacing(opts, target, r.file, names);
      const safetyBackup =
        exists && opts.safetyBackup !== false ? await takeSafetyBackup(opts, target, names, log) : null;
      const rolesCreated = globalsFile ? await applyGlobals(admin, globalsFile, log) : [];
      await fillRestoringCopy(admin, r, inspected, target, names, exists, opts, tools, log);
      let previous: string | null = null;
      if (exists) previous = await swapIn(admin, target, names, opts.keepPrevious, log);
      else await renameIn(admin, target, names);
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
    held.unpacked?.remove();
    await held.fetched?.cleanup();
  }
}

/** Replacing a database needs --replace, then --yes or a person typing its name. */
async function confirmReplacing(
  opts: RestoreOptions,
  target: string,
  file: string,
  names: RestoreDatabaseNames,
): Promise<void> {
  if (!opts.replace)
    throw new SafetyRefusal(
      'E_TARGET_EXISTS',
      `database ${target} exists; restoring would replace it, so nothing was done`,
      { database: target },
      {
        hint: `Re-run with --replace --yes to replace it (a safety backup is taken first), or restore beside it with --target-database ${target}_restored.`,
      },
    );
  const question = `This replaces database ${target} with the contents of ${file}${opts.safetyBackup === false ? ' WITHOUT a safety backup' : ` (a safety backup ${names.safetyBackup} is taken first)`}.`;
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

/** A backup of the database about to be replaced; its name. Nothing is restored when it fails. */
async function takeSafetyBackup(
  opts: RestoreOptions,
  target: string,
  names: RestoreDatabaseNames,
  log: Logger,
): Promise<string> {
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
  return names.safetyBackup;
}

/**
 * Creates `<db>__restoring` (owned as the target is, marked as ours) and loads the backup into it;
 * when loading fails the copy is dropped and the error says the target was not changed.
 */
async function fillRestoringCopy(
  admin: pg.Client,
  r: ResolvedBackup,
  { source, format, archived }: InspectedBackup,
  target: string,
  names: RestoreDatabaseNames,
  exists: boolean,
  opts: RestoreOptions,
  tools: ToolEnv,
  log: Logger,
): Promise<void> {
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
}
