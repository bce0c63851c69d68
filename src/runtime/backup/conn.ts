/**
 * How the backup commands reach PostgreSQL: a host, port, superuser and password. The password goes
 * to the `pg` driver directly and to the pg tools through a 0600 passfile in a private temp dir
 * (PGPASSFILE), never through argv, a URI or a log line.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AgentConfig } from '../../core/config/schema.js';
import { toClientConfig } from '../../core/pg/conninfo.js';
import { readSecret } from '../secrets.js';
import { pidAlive } from '../pid.js';
import { writePassfile } from '../passfile.js';

export interface PgConnection {
  host: string;
  port: number;
  user: string;
  /** Never logged. */
  password?: string;
  /** libpq sslmode (PGOPS_SSLMODE); unset keeps libpq's and the driver's defaults. */
  sslmode?: 'disable' | 'prefer' | 'require';
}

/** What a job's connection to the primary is made of. */
export type ConnectionSettings = Pick<AgentConfig, 'connection' | 'instance' | 'roles' | 'ha'>;

/** The superuser connection of a job (reads PGOPS_SUPERUSER_PASSWORD_FILE). */
export function connectionFromConfig(config: ConnectionSettings): PgConnection {
  const password = readSecret(config, 'PGOPS_SUPERUSER_PASSWORD');
  return {
    host: config.connection.host,
    port: config.instance.port,
    user: config.roles.superuser,
    password,
    sslmode: config.connection.sslmode,
  };
}

export async function connect(
  c: PgConnection,
  database: string,
  appName = 'postgres-agent',
): Promise<pg.Client> {
  const client = new pg.Client(
    toClientConfig(
      {
        host: c.host,
        port: c.port,
        user: c.user,
        database,
        params: { application_name: appName, ...(c.sslmode ? { sslmode: c.sslmode } : {}) },
      },
      c.password,
    ),
  );
  // An error event on an idle client (server shut down) must not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function withClient<T>(
  c: PgConnection,
  database: string,
  fn: (cl: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await connect(c, database);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Environment for libpq tools; the password is in a passfile that `dispose` removes. */
export interface ToolEnv {
  env: (database: string) => NodeJS.ProcessEnv;
  dispose: () => void;
}

const PASS_DIR_PREFIX = 'pgops-pass-';

/**
 * Removes passfile dirs left by a process that was killed before it could clean up (SIGKILL, OOM),
 * so a password never lingers in the temp dir longer than the next run. Dirs carry their pid.
 */
function sweepAbandonedPassDirs(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${PASS_DIR_PREFIX}(\\d+)-`).exec(name);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

export function toolEnv(c: PgConnection, base: NodeJS.ProcessEnv = process.env): ToolEnv {
  sweepAbandonedPassDirs();
  const dir = mkdtempSync(join(tmpdir(), `${PASS_DIR_PREFIX}${process.pid}-`));
  const passfile = join(dir, 'pgpass');
  if (c.password) writePassfile(passfile, c.user, c.password);
  else writeFileSync(passfile, '', { mode: 0o600 });
  const clean: NodeJS.ProcessEnv = {};
  // libpq reads PG* variables; only ours may apply.
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('PG')) clean[k] = v;
  return {
    env: (database) => ({
      ...clean,
      PGHOST: c.host,
      PGPORT: String(c.port),
      PGUSER: c.user,
      PGDATABASE: database,
      PGPASSFILE: passfile,
      PGAPPNAME: 'postgres-agent',
      PGCONNECT_TIMEOUT: '15',
      ...(c.sslmode ? { PGSSLMODE: c.sslmode } : {}),
    }),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
