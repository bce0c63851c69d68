/**
 * postgres-agent migrate: applies the SQL files of one version under an advisory lock, in one
 * transaction, after a safety backup, and records the version in pgops.schema_migrations.
 */
import { hostname } from 'node:os';
import { whileDoing, OpsError } from '../../core/errors.js';
import { checkNoTransactionControl, prepareFiles } from '../../core/migrate/files.js';
import { type MigrationPlan, planMigration } from '../../core/migrate/plan.js';
import type { MigrateResult } from '../../core/migrate/result.js';
import { parseMigrationVersion } from '../../core/migrate/version.js';
import { type OutputFormat, renderTable } from '../../core/output.js';
import {
  applyPlan,
  type FileResult,
  lockMigrations,
  readApplied,
  statementsOf,
  unlockMigrations,
} from '../../runtime/migrate/apply.js';
import { connectAppDatabase } from '../../runtime/migrate/connect.js';
import { readMigrationFiles } from '../../runtime/migrate/files.js';
import { safetyBackupName, takeSafetyBackup } from '../../runtime/migrate/safety-backup.js';
import { connectionFromEnv } from '../../runtime/backup/conn.js';
import { withClusterOperation } from '../../runtime/cluster-operation.js';
import type { AgentContext } from '../context.js';

export interface MigrateOptions {
  version?: string;
  dryRun?: boolean;
  output?: OutputFormat;
}

/** What `-o json` prints (src/core/migrate/result.ts). */
export type { MigrateResult };

/** The table a person reads (postgres-ops migrate prints the same). */
export function renderMigration(r: MigrateResult): string {
  const head = {
    applied: `migration ${r.version} applied to database ${r.database} in ${r.durationMs} ms`,
    'already-applied': `migration ${r.version} is already applied to database ${r.database} (on ${r.appliedAt}, same checksum): nothing to do`,
    resumed: `migration ${r.version}: remaining no-transaction files applied to database ${r.database}`,
    'dry-run': `dry run: migration ${r.version} on database ${r.database} would ${
      r.action === 'apply'
        ? 'apply every file'
        : r.action === 'resume'
          ? 'run the no-transaction files again'
          : 'do nothing (already applied)'
    }; nothing was changed`,
  }[r.outcome];
  const table = renderTable(
    ['FILE', 'SHA256', 'TRANSACTION', 'RUN', 'STATEMENTS', 'MS'],
    r.files.map((f) => [
      f.name,
      f.sha256.slice(0, 12),
      f.noTransaction ? 'no' : 'yes',
      f.run ? 'yes' : 'no',
      f.statements,
      f.durationMs,
    ]),
  );
  const backup = r.safetyBackup ? `\nsafety backup: ${r.safetyBackup}` : '';
  return `${head}\nchecksum: ${r.checksum}${backup}\n${table}`;
}

export async function migrate(opts: MigrateOptions, ctx: AgentContext): Promise<void> {
  if (opts.dryRun) {
    await runMigrate(opts, ctx);
    return;
  }
  const { env, log } = ctx;
  const version = parseMigrationVersion(opts.version ?? env.PGOPS_MIGRATION_VERSION);
  // Wait for the primary as the migration does (a fresh install starts the Job and the primary together).
  const first = await connectAppDatabase(env, {
    applicationName: 'postgres-agent migrate',
    waitSeconds: env.PGOPS_MIGRATION_WAIT_SECONDS,
    log,
  });
  await first.end().catch(() => undefined);
  await withClusterOperation(connectionFromEnv(env), `migrate ${version}`, () => runMigrate(opts, ctx), {
    log,
    whenBusy: 'wait',
  });
}

/** The command's work, returning the result model it printed. */
export async function runMigrate(opts: MigrateOptions, ctx: AgentContext): Promise<MigrateResult> {
  const { env, log } = ctx;
  const started = Date.now();
  const version = parseMigrationVersion(opts.version ?? env.PGOPS_MIGRATION_VERSION);
  const { dir, files: raw } = readMigrationFiles(env.PGOPS_MIGRATION_DIR, version);
  const files = prepareFiles(version, raw, dir);
  checkNoTransactionControl(files, statementsOf);
  const database = env.PGOPS_APP_DATABASE;
  const mlog = log.child({ version, database });

  const client = await connectAppDatabase(env, {
    applicationName: 'postgres-agent migrate',
    waitSeconds: env.PGOPS_MIGRATION_WAIT_SECONDS,
    log: mlog,
  });
  let locked = false;
  try {
    let plan: MigrationPlan;
    if (opts.dryRun) {
      // No lock and no DDL: a dry run only reads (and to_regclass avoids creating the table).
      plan = planMigration(version, files, await readApplied(client, version));
    } else {
      await lockMigrations(client, mlog);
      locked = true;
      plan = planMigration(version, files, await readApplied(client, version));
    }
    const result: MigrateResult = {
      version,
      database,
      description: env.PGOPS_MIGRATION_DESCRIPTION,
      checksum: plan.checksum,
      outcome: 'dry-run',
      action: plan.action,
      appliedAt: plan.appliedAt,
      safetyBackup: null,
      durationMs: 0,
      files: plan.files.map((f) => ({ ...f, statements: null, durationMs: null })),
    };
    if (!opts.dryRun) {
      if (plan.action === 'none') {
        result.outcome = 'already-applied';
        mlog.info('migration already applied with the same checksum; nothing to do', {
          appliedAt: plan.appliedAt,
        });
      } else {
        if (env.PGOPS_MIGRATION_SAFETY_BACKUP) {
          result.safetyBackup = safetyBackupName(version, new Date());
          await takeSafetyBackup(result.safetyBackup, version, mlog);
        } else {
          mlog.warn('safety backup disabled (PGOPS_MIGRATION_SAFETY_BACKUP=false); migrating without one');
        }
        mlog.info('applying migration', {
          files: plan.files.filter((f) => f.run).map((f) => f.name),
          checksum: plan.checksum,
        });
        const applied: FileResult[] = await applyPlan(client, {
          plan,
          files,
          description: env.PGOPS_MIGRATION_DESCRIPTION,
          appliedBy: `postgres-agent migrate on ${hostname()} as ${env.PGOPS_SUPERUSER}`,
          log: mlog,
        });
        for (const a of applied) {
          const f = result.files.find((x) => x.name === a.name);
          if (f) Object.assign(f, { statements: a.statements, durationMs: a.durationMs });
        }
        result.outcome = plan.action === 'resume' ? 'resumed' : 'applied';
        result.appliedAt = (await readApplied(client, version))?.appliedAt ?? null;
        mlog.info('migration applied', {
          durationMs: Date.now() - started,
          safetyBackup: result.safetyBackup,
        });
      }
    }
    result.durationMs = Date.now() - started;
    ctx.out.result(result, opts.output ?? 'table', renderMigration);
    return result;
  } catch (err) {
    if (err instanceof OpsError) throw err;
    throw whileDoing(`migrating ${database} to version ${version}`, err);
  } finally {
    if (locked) await unlockMigrations(client).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
