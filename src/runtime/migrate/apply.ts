/**
 * Running a migration plan against PostgreSQL: the advisory lock, the history table and the
 * statements, one transaction for the version's files, rollback on the first error.
 */
import type pg from 'pg';
import { OperationFailed } from '../../core/errors.js';
import type { PlannedFile } from '../../core/migrate/files.js';
import {
  COMPLETE_VERSION_SQL,
  CREATE_HISTORY_SQL,
  HISTORY_EXISTS_SQL,
  INSERT_VERSION_SQL,
  MIGRATION_LOCK_KEY,
  SELECT_VERSION_SQL,
} from '../../core/migrate/history-sql.js';
import type { AppliedVersion, MigrationPlan } from '../../core/migrate/plan.js';
import { errorLocation, lineColumnAt, splitStatements } from '../../core/migrate/sql-text.js';
import type { Logger } from '../log.js';

/** The history row of `version`, or undefined; creates nothing (to_regclass first). */
export async function readApplied(client: pg.Client, version: string): Promise<AppliedVersion | undefined> {
  const [exists] = (await client.query<{ present: boolean }>(HISTORY_EXISTS_SQL)).rows;
  if (!exists?.present) return undefined;
  const [row] = (
    await client.query<{
      version: string;
      checksum: string;
      files: { name: string; sha256: string; noTransaction?: boolean }[];
      state: 'applied' | 'partial';
      applied_at: string;
    }>(SELECT_VERSION_SQL, [version])
  ).rows;
  if (!row) return undefined;
  return {
    version: row.version,
    checksum: row.checksum,
    files: row.files,
    state: row.state,
    appliedAt: row.applied_at,
  };
}

/** Takes the migration lock, waiting (and saying so) while another run holds it. */
export async function lockMigrations(client: pg.Client, log: Logger): Promise<void> {
  const [got] = (
    await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [MIGRATION_LOCK_KEY])
  ).rows;
  if (got?.ok) return;
  log.info('another migration is running; waiting for it to finish', { lockKey: MIGRATION_LOCK_KEY });
  await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
}

export async function unlockMigrations(client: pg.Client): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
}

export interface FileResult {
  name: string;
  statements: number;
  durationMs: number;
  noTransaction: boolean;
}

interface PgError extends Error {
  code?: string;
  position?: string;
  detail?: string;
  hint?: string;
  where?: string;
}

/**
 * Statements of a file. psql splits files the same way; a file with a BEGIN ATOMIC body (bare
 * semicolons inside) is sent whole, since splitting it would cut the function apart.
 */
export function statementsOf(f: { text: string }): { text: string; offset: number }[] {
  if (/\bbegin\s+atomic\b/i.test(f.text)) return f.text.trim() ? [{ text: f.text, offset: 0 }] : [];
  return splitStatements(f.text);
}

async function runFile(
  client: pg.Client,
  f: PlannedFile,
  version: string,
  inTransaction: boolean,
  log: Logger,
) {
  const started = Date.now();
  const statements = statementsOf(f);
  for (const s of statements) {
    try {
      await client.query(s.text);
    } catch (err) {
      throw statementError(err as PgError, f, s, version, inTransaction);
    }
  }
  const result: FileResult = {
    name: f.name,
    statements: statements.length,
    durationMs: Date.now() - started,
    noTransaction: f.noTransaction,
  };
  log.info('applied migration file', {
    version,
    file: f.name,
    statements: result.statements,
    durationMs: result.durationMs,
    ...(f.noTransaction ? { transaction: false } : {}),
  });
  return result;
}

function statementError(
  err: PgError,
  f: PlannedFile,
  s: { text: string; offset: number },
  version: string,
  inTransaction: boolean,
): OperationFailed {
  const pos = Number(err.position);
  const { line, column } =
    Number.isInteger(pos) && pos > 0 ? errorLocation(f.text, pos, s.offset) : lineColumnAt(f.text, s.offset);
  const where =
    Number.isInteger(pos) && pos > 0
      ? ` at line ${line}, column ${column}`
      : `, statement starting at line ${line}`;
  const extra = [err.detail && `detail: ${err.detail}`, err.where && `context: ${err.where}`].filter(Boolean);
  const outcome = inTransaction
    ? `rolled back: nothing from version ${version} was applied`
    : `the transactional files of ${version} are committed; it is recorded as partial`;
  const hint = inTransaction
    ? `Fix ${f.name} at line ${line} and run the migration again (the version was not recorded, so the same version can be shipped again).`
    : `Fix ${f.name} at line ${line} and run the same version again: only its no-transaction files run again, so write them to be re-runnable (CREATE INDEX CONCURRENTLY IF NOT EXISTS; drop an INVALID index first).`;
  return new OperationFailed(
    'E_MIGRATION_STATEMENT',
    `migration ${version} failed in ${f.name}${where}: ${err.message}${err.code ? ` (SQLSTATE ${err.code})` : ''}${extra.length ? `; ${extra.join('; ')}` : ''}; ${outcome}`,
    { version, file: f.name, line, column, sqlstate: err.code ?? null },
    { cause: err, hint: err.hint ? `${hint} PostgreSQL hint: ${err.hint}` : hint },
  );
}

export interface ApplyInput {
  plan: MigrationPlan;
  files: PlannedFile[];
  description: string;
  appliedBy: string;
  log: Logger;
}

/**
 * Applies a plan whose action is 'apply' or 'resume'. The caller holds the migration lock. The
 * history table is created in the same transaction, so a failed first migration leaves no trace.
 */
export async function applyPlan(client: pg.Client, input: ApplyInput): Promise<FileResult[]> {
  const { plan, files, log } = input;
  const version = plan.version;
  const started = Date.now();
  const inside = files.filter((f) => !f.noTransaction);
  const outside = files.filter((f) => f.noTransaction);
  const results: FileResult[] = [];
  const filesJson = JSON.stringify(
    files.map((f) => ({ name: f.name, sha256: f.sha256, noTransaction: f.noTransaction })),
  );
  if (plan.action === 'apply') {
    await client.query('BEGIN');
    try {
      await client.query(CREATE_HISTORY_SQL);
      for (const f of inside) results.push(await runFile(client, f, version, true, log));
      await client.query(INSERT_VERSION_SQL, [
        version,
        input.description,
        plan.checksum,
        filesJson,
        Date.now() - started,
        input.appliedBy,
        outside.length ? 'partial' : 'applied',
      ]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
  if (outside.length || plan.action === 'resume') {
    const outsideStarted = Date.now();
    for (const f of outside) results.push(await runFile(client, f, version, false, log));
    await client.query(COMPLETE_VERSION_SQL, [
      version,
      Date.now() - outsideStarted,
      plan.checksum,
      filesJson,
    ]);
  }
  return results;
}
