/**
 * The databases a restore works on: the target's name and existence, the roles of the globals
 * script, and the swap that puts the restored copy in the target's place (the old one fenced,
 * renamed aside, then dropped or kept).
 */
import type pg from 'pg';
import { planGlobalsRestore } from '../../core/backup/globals.js';
import { readFileSync } from 'node:fs';
import type { restoreDatabaseNames } from '../../core/backup/names.js';
import { OperationFailed, UsageError } from '../../core/errors.js';
import { quoteIdent } from '../../core/pg/conninfo.js';
import type { Logger } from '../log.js';

type RestoreDatabaseNames = ReturnType<typeof restoreDatabaseNames>;

export function validDbName(db: string): string {
  if (!db || new TextEncoder().encode(db).length > 63 || db.includes('\0'))
    throw new UsageError(
      'E_DATABASE_NAME',
      `invalid database name "${db}"`,
      {},
      { hint: 'Use --target-database NAME (max 63 bytes).' },
    );
  return db;
}

export async function dbExists(c: pg.Client, db: string): Promise<boolean> {
  const { rows } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
  return rows.length > 0;
}

export async function applyGlobals(c: pg.Client, file: string, log: Logger): Promise<string[]> {
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

/** Stops connections to `db` and keeps new ones out (superusers included) until re-allowed. */
export async function fence(c: pg.Client, db: string): Promise<void> {
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

/**
 * Puts the restored copy in the target's place: the target fenced, both renamed in one
 * transaction, then the old one dropped (or kept, with --keep-previous). Returns the name the old
 * database is kept under, null when it was dropped.
 */
export async function swapIn(
  admin: pg.Client,
  target: string,
  names: RestoreDatabaseNames,
  keepPrevious: boolean | undefined,
  log: Logger,
): Promise<string | null> {
  await fence(admin, target);
  try {
    await admin.query('BEGIN');
    await admin.query(`ALTER DATABASE ${quoteIdent(target)} RENAME TO ${quoteIdent(names.previous)}`);
    await admin.query(`ALTER DATABASE ${quoteIdent(names.restoring)} RENAME TO ${quoteIdent(target)}`);
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(target)} IS NULL`);
    await admin.query('COMMIT');
  } catch (err) {
    await admin.query('ROLLBACK').catch(() => undefined);
    await admin.query(`ALTER DATABASE ${quoteIdent(target)} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin
      .query(`DROP DATABASE IF EXISTS ${quoteIdent(names.restoring)} WITH (FORCE)`)
      .catch(() => undefined);
    throw new OperationFailed(
      'E_SWAP',
      `could not swap the restored database in; ${target} was not changed: ${(err as Error).message}`,
      { database: target },
    );
  }
  if (keepPrevious) {
    await admin
      .query(`ALTER DATABASE ${quoteIdent(names.previous)} ALLOW_CONNECTIONS true`)
      .catch(() => undefined);
    log.info('previous database kept', { database: names.previous });
    return names.previous;
  }
  await admin.query(`DROP DATABASE ${quoteIdent(names.previous)} WITH (FORCE)`).catch((err: Error) =>
    log.warn(`could not drop the replaced database ${names.previous}; drop it by hand`, {
      error: err.message,
    }),
  );
  return null;
}

/** A new database: the restored copy takes the target's name. */
export async function renameIn(admin: pg.Client, target: string, names: RestoreDatabaseNames): Promise<void> {
  await admin.query('BEGIN');
  await admin.query(`ALTER DATABASE ${quoteIdent(names.restoring)} RENAME TO ${quoteIdent(target)}`);
  await admin.query(`COMMENT ON DATABASE ${quoteIdent(target)} IS NULL`);
  await admin.query('COMMIT');
}
