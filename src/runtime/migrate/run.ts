/**
 * A schema migration (postgres-agent migrate): applies the SQL files of one version under an
 * advisory lock, in one transaction, after a safety backup, and records the version in
 * pgops.schema_migrations. A dry run only reads and plans.
 */
import { hostname } from 'node:os';
import { whileDoing, OpsError } from '../../core/errors.js';
import { checkNoTransactionControl, prepareFiles } from '../../core/migrate/files.js';
import { type MigrationPlan, planMigration } from '../../core/migrate/plan.js';
import { parseMigrationVersion } from '../../core/migrate/version.js';
import type { AgentConfig } from '../../core/config/schema.js';
import type { MigrateResult } from '../../core/migrate/result.js';
import {
  applyPlan,
  type FileResult,
  lockMigrations,
  readApplied,
  statementsOf,
  unlockMigrations,
} from './apply.js';
import { connectAppDatabase } from './connect.js';
import { readMigrationFiles } from './files.js';
import { safetyBackupName, takeSafetyBackup } from './safety-backup.js';
import { connectionFromConfig } from '../backup/conn.js';
import { withClusterOperation } from '../cluster-operation.js';
import type { Logger } from '../log.js';

export interface MigrationOptions {
  /** The version to apply (default: PGOPS_MIGRATION_VERSION). */
  version?: string;
  /** Only read and plan: no lock, no DDL, no safety backup. */
  dryRun?: boolean;
}

export interface MigrationDeps {
  config: Pick<AgentConfig, 'migration' | 'connection' | 'instance' | 'roles' | 'ha'>;
  log: Logger;
}

/**
 * Applies (or with dryRun plans) a version, one operation at a time on the cluster: it waits for
 * the primary and for any backup, restore or promotion in progress, then runs.
 */
export async function runMigration(opts: MigrationOptions, deps: MigrationDeps): Promise<MigrateResult> {
  if (opts.dryRun) return applyOrPlan(opts, deps);
  const { config, log } = deps;
  const version = parseMigrationVersion(opts.version ?? config.migration.version);
  // Wait for the primary as the migration does (a fresh install starts the Job and the primary together).
  const first = await connectAppDatabase(config, {
    applicationName: 'postgres-agent migrate',
    waitSeconds: config.migration.waitSeconds,
    log,
  });
  await first.end().catch(() => undefined);
  return withClusterOperation(
    connectionFromConfig(config),
    `migrate ${version}`,
    () => applyOrPlan(opts, deps),
    {
      log,
      whenBusy: 'wait',
    },
  );
}

/** Plans the version and, unless a dry run, applies it (the caller holds the cluster operation lock). */
async function applyOrPlan(opts: MigrationOptions, deps: MigrationDeps): Promise<MigrateResult> {
  const { config, log } = deps;
  const started = Date.now();
  const version = parseMigrationVersion(opts.version ?? config.migration.version);
  const { dir, files: raw } = readMigrationFiles(config.migration.dir, version);
  const files = prepareFiles(version, raw, dir);
  checkNoTransactionControl(files, statementsOf);
  const database = config.roles.appDatabase;
  const mlog = log.child({ version, database });

  const client = await connectAppDatabase(config, {
    applicationName: 'postgres-agent migrate',
    waitSeconds: config.migration.waitSeconds,
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
      description: config.migration.description,
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
        if (config.migration.safetyBackup) {
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
          description: config.migration.description,
          appliedBy: `postgres-agent migrate on ${hostname()} as ${config.roles.superuser}`,
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
    return result;
  } catch (err) {
    if (err instanceof OpsError) throw err;
    throw whileDoing(`migrating ${database} to version ${version}`, err);
  } finally {
    if (locked) await unlockMigrations(client).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
