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
  const env = ctx.env;
  await withClient(
    {
      host: env.PGOPS_SOCKET_DIR,
      port: env.PGOPS_PORT,
      user: env.PGOPS_SUPERUSER,
      password: readSecret(env, 'PGOPS_SUPERUSER_PASSWORD') ?? '',
    },
    async (c) => {
      await createApplicationObjects(c, {
        appUser: env.PGOPS_APP_USER,
        appPassword: requireSecret(env, 'PGOPS_APP_PASSWORD', 'to create the application role'),
        appDatabase: env.PGOPS_APP_DATABASE,
      });
      // The exporter's pg_monitor role, so metrics work from the first scrape.
      await ensureMonitorRole(c, env);
    },
    60_000,
  );
  ctx.log.info('created the application role and database', {
    appUser: env.PGOPS_APP_USER,
    appDatabase: env.PGOPS_APP_DATABASE,
  });
}
