/**
 * `postgres-ops migrate VERSION` in local mode: the same `postgres-agent migrate` the chart's
 * migration Job runs (advisory lock, one transaction, history, a verified safety backup in the
 * local backups folder), with the SQL files read from a directory instead of a ConfigMap.
 */
import { resolve } from 'node:path';
import { migrateResultSchema, type MigrateResult } from '../core/migrate/result.js';
import type { MigrateRequest } from '../core/cluster/cluster-api.js';
import { runAgentJson } from './agent.js';

export async function localMigrate(
  jobEnv: NodeJS.ProcessEnv,
  req: MigrateRequest,
  onLog: (chunk: string) => void,
): Promise<MigrateResult> {
  return runAgentJson(
    {
      args: ['migrate', '--version', req.version, ...(req.dryRun ? ['--dry-run'] : [])],
      env: {
        ...jobEnv,
        PGOPS_MIGRATION_DIR: resolve(req.dir),
        PGOPS_MIGRATION_DESCRIPTION: req.description,
        // The local primary is up or it is not: no reason to wait minutes as a fresh install's Job does.
        PGOPS_MIGRATION_WAIT_SECONDS: '5',
      },
      onLog,
    },
    migrateResultSchema,
  );
}
