/**
 * Running the built `postgres-agent` (dist/agent/main.js) as a subprocess against a test server:
 * the one place tests build its environment and collect its exit code and output.
 */
import { spawnSync } from 'node:child_process';
import { exec, type ExecOptions, type ExecResult } from '../../src/runtime/exec.js';
import { type PgServer, TEST_PASSWORD } from './postgres.js';
import { agentMain, repoRoot } from './tools.js';

export interface AgentRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The agent's environment for `pg`: only PATH and HOME from this process (no stray PGOPS_* of the
 * caller), the server's address and superuser password, then `overrides`; an override of
 * `undefined` removes the variable (e.g. the password when a password file is given instead).
 */
export function agentEnv(
  pg: Pick<PgServer, 'port'>,
  overrides: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PGOPS_HOST: '127.0.0.1',
    PGOPS_PORT: String(pg.port),
    PGOPS_SUPERUSER_PASSWORD: TEST_PASSWORD,
    ...overrides,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** agentEnv for the backup commands: backups in `dir`, application database `app`, text logs. */
export function backupAgentEnv(
  pg: Pick<PgServer, 'port'>,
  dir: string,
  overrides: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  return agentEnv(pg, {
    PGOPS_BACKUP_DIR: dir,
    PGOPS_APP_DATABASE: 'app',
    PGOPS_LOG_FORMAT: 'text',
    ...overrides,
  });
}

/**
 * Runs the agent to completion without blocking this process: use it whenever a server the agent
 * talks to (s3rver, a stand-in API server) lives in the test process.
 */
export function runAgent(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: Omit<ExecOptions, 'env'> = {},
): Promise<ExecResult> {
  return exec(process.execPath, [agentMain, ...args], { cwd: repoRoot, ...opts, env });
}

/** Runs the agent to completion, blocking: only for servers in other processes (PostgreSQL). */
export function runAgentSync(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { uid?: number; gid?: number } = {},
): AgentRun {
  const r = spawnSync(process.execPath, [agentMain, ...args], {
    env,
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
