import { OperationFailed } from '../../core/errors.js';
import { Supervisor } from '../../runtime/instance/supervisor.js';
import type { AgentContext } from '../context.js';

/**
 * PID 1 of the primary and replica containers: bring the data directory up (initdb, clone or
 * rewind), run PostgreSQL, answer the probes, shut down cleanly on SIGTERM. Exits 0 after a clean
 * shutdown, non-zero when PostgreSQL stopped on its own so that Kubernetes restarts the container.
 */
export async function instance(ctx: AgentContext): Promise<void> {
  const supervisor = new Supervisor(ctx.env, ctx.log);
  const code = await supervisor.run();
  if (code !== 0) {
    throw new OperationFailed(
      'E_POSTGRES_STOPPED',
      supervisor.failure ?? 'PostgreSQL did not shut down cleanly',
      {},
      {
        hint: 'Read the PostgreSQL log lines above; the container restarts and PostgreSQL runs crash recovery.',
      },
    );
  }
}
