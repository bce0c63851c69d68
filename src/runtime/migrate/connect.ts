/**
 * The superuser connection `migrate` uses: password from PGOPS_SUPERUSER_PASSWORD_FILE (pods) or
 * PGOPS_SUPERUSER_PASSWORD (local runs), handed to the driver, never printed.
 */
import pg from 'pg';
import type { ConnectionSettings } from '../backup/conn.js';
import { OperationFailed } from '../../core/errors.js';
import { readSecret } from '../secrets.js';
import { toClientConfig } from '../../core/pg/conninfo.js';
import type { Logger } from '../log.js';

/**
 * Errors worth waiting out: the primary is not up yet (a fresh install starts the Job and the
 * StatefulSet together), is starting or recovering, or has not created the application database yet.
 */
function retryable(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code))
    return true;
  // 57P03 cannot_connect_now (starting up, recovering), 3D000 the database does not exist yet.
  if (code === '57P03' || code === '3D000') return true;
  return /timeout|terminated unexpectedly/i.test((err as Error).message ?? '');
}

export interface ConnectOptions {
  applicationName: string;
  /** How long to wait for the server to accept connections (0: one attempt). */
  waitSeconds: number;
  log: Logger;
  /** Pause between attempts (tests shorten it). */
  retryMs?: number;
}

/** Connects to the application database as the superuser, waiting while the primary comes up. */
export async function connectAppDatabase(
  config: ConnectionSettings,
  opts: ConnectOptions,
): Promise<pg.Client> {
  const target = {
    host: config.connection.host,
    port: config.instance.port,
    user: config.roles.superuser,
    database: config.roles.appDatabase,
    params: { application_name: opts.applicationName, sslmode: config.connection.sslmode },
  };
  const password = readSecret(config, 'PGOPS_SUPERUSER_PASSWORD');
  const deadline = Date.now() + opts.waitSeconds * 1000;
  let lastSaid = 0;
  for (;;) {
    const client = new pg.Client(toClientConfig(target, password));
    // A dropped connection mid-run surfaces as a query error; this keeps it from crashing the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      const where = `database ${config.roles.appDatabase} on ${config.connection.host}:${config.instance.port}`;
      if (retryable(err) && Date.now() < deadline) {
        if (Date.now() - lastSaid >= 10_000) {
          opts.log.info(`waiting for ${where} to accept connections`, {
            reason: (err as Error).message,
            waitSeconds: opts.waitSeconds,
          });
          lastSaid = Date.now();
        }
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 1000));
        continue;
      }
      const waited = retryable(err) && opts.waitSeconds > 0 ? ` (waited ${opts.waitSeconds}s)` : '';
      throw new OperationFailed(
        'E_CONNECT',
        `cannot connect to ${where} as ${config.roles.superuser}${waited}: ${(err as Error).message}`,
        { host: config.connection.host, port: config.instance.port, database: config.roles.appDatabase },
        {
          cause: err,
          hint: 'Check that the primary is running and ready (kubectl get pods; kubectl logs <release>-postgres-0) and PGOPS_HOST/PGOPS_PORT/PGOPS_APP_DATABASE; PGOPS_MIGRATION_WAIT_SECONDS sets how long to wait.',
        },
      );
    }
  }
}
