/**
 * postgres-agent migrate: applies the SQL files of one version under an advisory lock, in one
 * transaction, after a safety backup, and records the version in pgops.schema_migrations.
 */
import { type MigrateResult, renderMigration } from '../../core/migrate/result.js';
import type { OutputFormat } from '../../core/output.js';
import { runMigration } from '../../runtime/migrate/run.js';
import type { AgentContext } from '../context.js';

export interface MigrateOptions {
  version?: string;
  dryRun?: boolean;
  output?: OutputFormat;
}

export async function migrate(opts: MigrateOptions, ctx: AgentContext): Promise<MigrateResult> {
  const result = await runMigration({ version: opts.version, dryRun: opts.dryRun }, ctx);
  ctx.out.result(result, opts.output ?? 'table', renderMigration);
  return result;
}
