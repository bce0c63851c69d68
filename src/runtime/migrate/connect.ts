/**
 * The superuser connection `migrate` uses: password from PGOPS_SUPERUSER_PASSWORD_FILE (pods) or
 * PGOPS_SUPERUSER_PASSWORD (local runs), handed to the driver, never printed.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { AgentEnv } from '../../core/config/schema.js';
import { OperationFailed, UsageError } from '../../core/errors.js';
import { toClientConfig } from '../../core/pg/conninfo.js';

export function superuserPassword(env: AgentEnv): string | undefined {
  if (env.PGOPS_SUPERUSER_PASSWORD_FILE) {
    try {
      return readFileSync(env.PGOPS_SUPERUSER_PASSWORD_FILE, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(
        'E_SECRET_FILE',
        `cannot read the superuser password file ${env.PGOPS_SUPERUSER_PASSWORD_FILE}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        { file: env.PGOPS_SUPERUSER_PASSWORD_FILE },
        { hint: 'Check that the Secret is mounted and has the postgres-password key.' },
      );
    }
  }
  return env.PGOPS_SUPERUSER_PASSWORD;
}

/** Connects to the application database as the superuser. */
export async function connectAppDatabase(env: AgentEnv, applicationName: string): Promise<pg.Client> {
  const target = {
    host: env.PGOPS_HOST,
    port: env.PGOPS_PORT,
    user: env.PGOPS_SUPERUSER,
    database: env.PGOPS_APP_DATABASE,
    params: { application_name: applicationName },
  };
  const client = new pg.Client(toClientConfig(target, superuserPassword(env)));
  // A dropped connection mid-run surfaces as a query error; this keeps it from crashing the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new OperationFailed(
      'E_CONNECT',
      `cannot connect to database ${env.PGOPS_APP_DATABASE} on ${env.PGOPS_HOST}:${env.PGOPS_PORT} as ${env.PGOPS_SUPERUSER}: ${(err as Error).message}`,
      { host: env.PGOPS_HOST, port: env.PGOPS_PORT, database: env.PGOPS_APP_DATABASE },
      {
        cause: err,
        hint: 'Check that the primary is running (kubectl get pods) and PGOPS_HOST/PGOPS_PORT/PGOPS_APP_DATABASE.',
      },
    );
  }
  return client;
}
