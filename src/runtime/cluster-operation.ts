/**
 * withClusterOperation: run one backup, restore, migration, promotion or repair while holding the
 * cluster's operation lock on the primary (see src/core/cluster-operation.ts), or refuse (exit 3)
 * naming the operation that holds it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import {
  busyRefusal,
  CLEAR_CLUSTER_OPERATIONS,
  CLUSTER_OPERATION_DATABASE,
  CLUSTER_OPERATION_DDL,
  CLUSTER_OPERATION_HOLDER_SQL,
  CLUSTER_OPERATION_LOCK_KEY,
  CLUSTER_OPERATION_RECORD_SQL,
  describeOperation,
  FORGET_CLUSTER_OPERATION,
  type HolderRow,
  operationAppName,
  RECORD_CLUSTER_OPERATION,
  type RecordRow,
  type RunningOperation,
  runningOperation,
} from '../core/cluster-operation.js';
import { OperationFailed } from '../core/errors.js';
import { toClientConfig } from '../core/pg/conninfo.js';
import type { AgentConfig } from '../core/config/schema.js';
import { PatroniApi } from './ha/patroni-api.js';
import type { Logger } from './log.js';
import { readSecret } from './secrets.js';

/** Set for the agent commands an operation starts itself; they run within it. */
export const OPERATION_TOKEN_ENV = 'PGOPS_OPERATION_TOKEN';

/** Where the primary is and how to log in as the superuser (the password is never printed). */
export interface PrimaryLogin {
  host: string;
  port: number;
  user: string;
  password?: string;
}

/**
 * The current primary (Patroni's leader, asked on this member's REST API) as the superuser reaches
 * it: where a promotion takes the operation lock. Undefined when there is no leader (nothing runs
 * on a primary that is gone) or Patroni does not answer.
 */
export async function leaderLogin(
  config: Pick<AgentConfig, 'ha' | 'instance' | 'roles'>,
): Promise<PrimaryLogin | undefined> {
  const cluster = await new PatroniApi(`http://127.0.0.1:${config.ha.restApiPort}`)
    .cluster()
    .catch(() => undefined);
  const leader = cluster?.members.find((m) => m.role === 'leader');
  if (!leader?.host) return undefined;
  return {
    host: leader.host,
    port: leader.port ?? config.instance.port,
    user: config.roles.superuser,
    password: readSecret(config, 'PGOPS_SUPERUSER_PASSWORD'),
  };
}

export interface ClusterOperationOptions {
  log?: Logger;
  /**
   * When the primary does not answer: `fail` (default: the operation needs it anyway) or `proceed`
   * (promotion: a primary that is down runs nothing, and promoting is how to get a new one).
   */
  whenUnreachable?: 'fail' | 'proceed';
  connectTimeoutMs?: number;
  /**
   * While another operation runs: `refuse` (default, exit 3 naming it) or `wait` for it, saying
   * which (a migration Job, like its own migration lock, waits rather than fail a deployment).
   */
  whenBusy?: 'refuse' | 'wait';
}

/** The operation holding the lock, read on `client` (connected to the `postgres` database). */
export async function readRunningOperation(client: pg.Client): Promise<RunningOperation | undefined> {
  const [holder] = (await client.query<HolderRow & { recorded: boolean }>(CLUSTER_OPERATION_HOLDER_SQL)).rows;
  if (!holder) return undefined;
  const records = holder.recorded
    ? (await client.query<RecordRow>(CLUSTER_OPERATION_RECORD_SQL).catch(() => ({ rows: [] }))).rows
    : [];
  return runningOperation(holder, records);
}

/** The holder ended between our try and our look: it was an operation, we cannot say which. */
function unknownOperation(): RunningOperation {
  return {
    operation: 'another operation',
    startedAt: null,
    host: null,
    pid: null,
    backendPid: 0,
    clientAddr: null,
  };
}

/**
 * Runs `fn` holding the cluster's operation lock; `operation` says what it is ("backup nightly").
 * Refuses (SafetyRefusal, exit 3) while another operation holds it, naming that one. A child of
 * the holder (a migration's safety backup, run as `postgres-agent backup`) runs within it.
 */
export async function withClusterOperation<T>(
  primary: PrimaryLogin,
  operation: string,
  fn: () => Promise<T>,
  opts: ClusterOperationOptions = {},
): Promise<T> {
  const client = new pg.Client({
    ...toClientConfig(
      {
        host: primary.host,
        port: primary.port,
        user: primary.user,
        database: CLUSTER_OPERATION_DATABASE,
        params: { application_name: operationAppName(operation) },
      },
      primary.password,
    ),
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 30_000,
    keepAlive: true,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    if (opts.whenUnreachable === 'proceed') {
      opts.log?.info(
        `the primary at ${primary.host}:${primary.port} does not answer, so nothing runs on it: going on without the operation lock`,
        { operation, reason: (err as Error).message },
      );
      return fn();
    }
    throw new OperationFailed(
      'E_CONNECT',
      `cannot connect to PostgreSQL at ${primary.host}:${primary.port} to start ${operation}: ${(err as Error).message}`,
      { host: primary.host, port: primary.port },
      {
        hint: 'Check that the primary is running (postgres-ops status), PGOPS_HOST, PGOPS_PORT and the superuser password.',
      },
    );
  }
  let locked = false;
  const token = randomBytes(12).toString('hex');
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
      CLUSTER_OPERATION_LOCK_KEY,
    ]);
    locked = rows[0]?.ok === true;
    if (!locked) {
      const running = await readRunningOperation(client);
      const within = process.env[OPERATION_TOKEN_ENV];
      if (running?.token && within === running.token) {
        opts.log?.info(`running within ${running.operation}, which started it`, { operation });
        return await fn();
      }
      if (opts.whenBusy !== 'wait') throw busyRefusal(operation, running ?? unknownOperation());
      opts.log?.info(`waiting for ${describeOperation(running ?? unknownOperation())} to finish`, {
        operation,
      });
      await client.query('SELECT pg_advisory_lock($1)', [CLUSTER_OPERATION_LOCK_KEY]);
      locked = true;
    }
    try {
      await client.query(CLUSTER_OPERATION_DDL);
      await client.query(CLEAR_CLUSTER_OPERATIONS);
      await client.query(RECORD_CLUSTER_OPERATION, [operation, hostname(), process.pid, token]);
    } catch (err) {
      // The lock is what excludes; the record only names the operation in a refusal.
      opts.log?.warn('could not record the running operation (a refusal will name it less precisely)', {
        error: (err as Error).message,
      });
    }
    // Agent commands this operation starts itself (a migration's safety backup) run within it.
    const previous = process.env[OPERATION_TOKEN_ENV];
    process.env[OPERATION_TOKEN_ENV] = token;
    try {
      return await fn();
    } finally {
      if (previous === undefined) delete process.env[OPERATION_TOKEN_ENV];
      else process.env[OPERATION_TOKEN_ENV] = previous;
    }
  } finally {
    if (locked) {
      await client.query(FORGET_CLUSTER_OPERATION).catch(() => undefined);
      await client
        .query('SELECT pg_advisory_unlock($1)', [CLUSTER_OPERATION_LOCK_KEY])
        .catch(() => undefined);
    }
    await client.end().catch(() => undefined);
  }
}
