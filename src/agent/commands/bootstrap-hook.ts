import { requireSecret, readSecret } from '../../runtime/secrets.js';
import { createApplicationObjects } from '../../runtime/instance/bootstrap.js';
import { ensureMonitorRole } from '../../runtime/instance/leader-duties.js';
import { withClient } from '../../runtime/instance/sql.js';
import type { AgentContext } from '../context.js';

/**
 * Patroni's post_bootstrap hook: creates the application role, the application database and the
 * pgops schema on a cluster initdb just made. Patroni appends a connection string; the hook uses the
 * member's own socket instead (the string names `localhost`, which may not be where we listen).
 */
export async function bootstrapHook(ctx: AgentContext): Promise<void> {
  const config = ctx.config;
  await withClient(
    {
      host: config.instance.socketDir,
      port: config.instance.port,
      user: config.roles.superuser,
      password: readSecret(config, 'PGOPS_SUPERUSER_PASSWORD') ?? '',
    },
    async (c) => {
      await createApplicationObjects(c, {
        appUser: config.roles.appUser,
        appPassword: requireSecret(config, 'PGOPS_APP_PASSWORD', 'to create the application role'),
        appDatabase: config.roles.appDatabase,
      });
      // The exporter's pg_monitor role, so metrics work from the first scrape.
      await ensureMonitorRole(c, config);
    },
    60_000,
  );
  ctx.log.info('created the application role and database', {
    appUser: config.roles.appUser,
    appDatabase: config.roles.appDatabase,
  });
}
