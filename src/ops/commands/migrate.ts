import { join } from 'node:path';
import { renderMigration, type MigrateResult } from '../../core/migrate/result.js';
import { UsageError } from '../../core/errors.js';
import { migrationJobName, parseMigrationVersion } from '../../core/migrate/version.js';
import { packageRoot } from '../../local/state.js';
import type { ClusterApi } from '../../core/cluster/cluster-api.js';
import type { OpsDeps } from '../deps.js';
import type { ArgsOf, OptionsOf } from '../program.js';

type MigrateFlags = OptionsOf<'migrate'>;

/** The chart's own migrations, which its migration Job mounts: files/migrations/<version>/. */
export function chartMigrationsDir(): string {
  return join(packageRoot(), 'helm', 'pyairtable-stack', 'files', 'migrations');
}

/**
 * On Kubernetes a migration is the chart's migration Job: a Helm hook whose SQL files come from the
 * chart (or a ConfigMap it names) and whose outcome helm waits for. Starting it from here would run
 * files the release does not ship and hide it from helm, so the command says what to type instead.
 */
function kubernetesRefusal(cluster: ClusterApi, version: string, flags: MigrateFlags): UsageError {
  const ns = cluster.namespace;
  const job = migrationJobName(`${cluster.release}-postgres`, version);
  const upgrade =
    `helm upgrade ${cluster.release} ./helm/pyairtable-stack -n ${ns} --reuse-values ` +
    `--set databases.postgres.migration.enabled=true --set databases.postgres.migration.version="${version}"` +
    (flags.description ? ` --set databases.postgres.migration.description="${flags.description}"` : '') +
    ' --timeout 30m';
  return new UsageError(
    'E_NOT_SUPPORTED',
    `on Kubernetes, migration ${version} runs as the chart's migration Job (a Helm hook with the chart's SQL files); postgres-ops does not start it. Nothing was changed`,
    { version, job },
    {
      hint: flags.dryRun
        ? `For the plan, follow "Check the plan first" in docs/migrations.md (postgres-agent migrate --version ${version} --dry-run through a port-forward). To apply: ${upgrade}`
        : `Run: ${upgrade}; then follow it: kubectl logs -n ${ns} -f job/${job} (docs/migrations.md)`,
    },
  );
}

/**
 * Applies the SQL files of VERSION with the engine of the chart's migration Job (lock, one
 * transaction, history, a verified safety backup listed by list-backups); --dry-run prints the plan.
 */
export async function migrate(
  [version]: ArgsOf<'migrate'>,
  flags: MigrateFlags,
  deps: OpsDeps,
): Promise<MigrateResult> {
  const v = parseMigrationVersion(version);
  const { cluster } = deps;
  if (!cluster.migrate) throw kubernetesRefusal(cluster, v, flags);
  const dir = flags.dir ?? chartMigrationsDir();
  deps.out.line(`${flags.dryRun ? 'planning' : 'applying'} migration ${v} from ${join(dir, v)}…`);
  const result = await cluster.migrate(
    { version: v, dir, description: flags.description, dryRun: flags.dryRun },
    deps.out,
  );
  deps.out.result(result, deps.opts.output, renderMigration);
  return result;
}
