/**
 * `postgres-agent instance` processes for tests: each member gets its own volume directory, socket
 * directory, ports and passwords, runs as the postgres OS user, and is stopped at cleanup (with any
 * postmaster a killed agent left behind).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import {
  fetchHealth,
  startAgentInstance,
  waitForHealth,
  type AgentProcess,
} from '../../src/runtime/agent-process.js';
import { findPgBinDir } from '../../src/runtime/pgbin.js';
import { onCleanup } from './cleanup.js';
import { postgresUser } from './os-user.js';
import { freePort } from './ports.js';
import {
  connectAsSuperuser,
  processExists,
  queryAsSuperuser,
  readPostmasterPid,
  TEST_PASSWORD,
} from './postgres.js';
import { type AgentRun, runAgentSync } from './run-agent.js';
import { postgresOwnedDir, tempDir } from './tmp.js';

export const REPLICATION_PASSWORD = 'test-replication-password';
export const APP_PASSWORD = 'test-app-password';

export interface InstanceOptions {
  /** Pod name (PGOPS_POD_NAME); replicas name their slot after it. */
  name: string;
  role?: 'primary' | 'replica';
  primary?: TestInstance;
  peers?: TestInstance[];
  env?: Record<string, string>;
}

export interface TestInstance {
  readonly name: string;
  readonly port: number;
  readonly healthPort: number;
  readonly volumeDir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  /** The environment of the next start; tests may change it between restarts. */
  env: Record<string, string>;
  proc: AgentProcess | undefined;
  /** Starts a new agent process (does not wait). */
  start(env?: Record<string, string>): AgentProcess;
  waitReady(timeoutMs?: number): Promise<void>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill9Agent(): Promise<void>;
  kill9Postmaster(): Promise<void>;
  postmasterPid(): number | undefined;
  connect(database?: string): Promise<pg.Client>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  status(): Promise<Record<string, unknown>>;
  /** Everything every agent process of this member printed, in order. */
  logs(): string;
  /** The agent CLI with this member's environment (e.g. promote). */
  agentCli(args: string[]): AgentRun;
}

export function memberAddress(m: TestInstance): string {
  return `127.0.0.1:${m.port}`;
}

/** Allocates ports and directories for a member; does not start it. */
export async function createInstance(opts: InstanceOptions): Promise<TestInstance> {
  const base = tempDir('pgops-inst-');
  const volumeDir = postgresOwnedDir(base, 'volume');
  const socketDir = postgresOwnedDir(base, 'run', 0o755);
  const dataDir = join(volumeDir, 'pgdata');
  const port = await freePort();
  const healthPort = await freePort();
  const env: Record<string, string> = {
    PGDATA: dataDir,
    PGOPS_POD_NAME: opts.name,
    PGOPS_ROLE: opts.role ?? 'primary',
    PGOPS_PORT: String(port),
    PGOPS_HEALTH_PORT: String(healthPort),
    PGOPS_LISTEN_ADDRESSES: '127.0.0.1',
    PGOPS_SOCKET_DIR: socketDir,
    PGOPS_SHUTDOWN_TIMEOUT_SECONDS: '20',
    PGOPS_SUPERUSER_PASSWORD: TEST_PASSWORD,
    PGOPS_REPLICATION_PASSWORD: REPLICATION_PASSWORD,
    PGOPS_APP_PASSWORD: APP_PASSWORD,
    PGOPS_MAX_SLOT_WAL_KEEP_SIZE: '256MB',
    PGOPS_PG_BIN_DIR: findPgBinDir(),
    ...(opts.primary
      ? { PGOPS_PRIMARY_HOST: '127.0.0.1', PGOPS_PRIMARY_PORT: String(opts.primary.port) }
      : {}),
    ...(opts.peers ? { PGOPS_PEERS: opts.peers.map(memberAddress).join(',') } : {}),
    ...opts.env,
  };
  const previous: AgentProcess[] = [];
  const m: TestInstance = {
    name: opts.name,
    port,
    healthPort,
    volumeDir,
    dataDir,
    socketDir,
    env,
    proc: undefined,
    start(extra) {
      if (extra) Object.assign(m.env, extra);
      if (m.proc) previous.push(m.proc);
      const p = startAgentInstance({ env: { ...m.env } });
      m.proc = p;
      return p;
    },
    async waitReady(timeoutMs = 90_000) {
      if (!m.proc) throw new Error(`${opts.name} was not started`);
      await m.proc.waitReady(timeoutMs);
    },
    async stop() {
      if (!m.proc) return { code: 0, signal: null };
      return m.proc.stop(60_000);
    },
    async kill9Agent() {
      m.proc?.kill9();
      await m.proc?.exited;
    },
    async kill9Postmaster() {
      const pid = readPostmasterPid(dataDir);
      if (pid && processExists(pid)) process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 200 && pid && processExists(pid); i++) await new Promise((r) => setTimeout(r, 50));
    },
    postmasterPid: () => readPostmasterPid(dataDir),
    connect: (database) => connectAsSuperuser(port, database),
    query: (sql, params, database) => queryAsSuperuser(port, sql, params, database),
    async status() {
      return (await fetchHealth(healthPort, '/status')).body as Record<string, unknown>;
    },
    logs: () => [...previous, ...(m.proc ? [m.proc] : [])].map((p) => p.output()).join('\n'),
    agentCli(args) {
      const u = postgresUser();
      return runAgentSync(args, { PATH: process.env.PATH, ...m.env }, { uid: u.uid, gid: u.gid });
    },
  };
  onCleanup(
    `stop instance ${opts.name}`,
    async () => {
      if (m.proc) await m.proc.stop(20_000);
      const pid = readPostmasterPid(dataDir);
      if (pid && processExists(pid)) {
        process.kill(pid, 'SIGQUIT');
        for (let i = 0; i < 100 && processExists(pid); i++) await new Promise((r) => setTimeout(r, 50));
      }
    },
    () => {
      m.proc?.kill9();
      const pid = readPostmasterPid(dataDir);
      if (pid && processExists(pid)) process.kill(pid, 'SIGQUIT');
    },
  );
  return m;
}

/** Creates, starts and waits until the member is ready. */
export async function startInstance(opts: InstanceOptions): Promise<TestInstance> {
  const m = await createInstance(opts);
  m.start();
  await m.waitReady();
  return m;
}

/** Waits until `replica` has replayed everything `primary` has written so far. */
export async function waitForReplay(primary: TestInstance, replica: TestInstance, timeoutMs = 60_000) {
  const [{ lsn }] = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')) as [
    { lsn: string },
  ];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const [row] = await replica.query<{ caught: boolean }>(
        'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught',
        [lsn],
      );
      if (row?.caught) return;
    } catch {
      /* not accepting yet */
    }
    if (Date.now() > deadline)
      throw new Error(`${replica.name} did not replay up to ${lsn} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** pg_controldata of a member's data directory, as the postgres user. */
export function controlData(m: TestInstance): Record<string, string> {
  const u = postgresUser();
  const out = execFileSync(join(findPgBinDir(), 'pg_controldata'), ['-D', m.dataDir], {
    encoding: 'utf8',
    uid: u.uid,
    gid: u.gid,
    env: { ...process.env, LC_ALL: 'C' },
  });
  return Object.fromEntries(
    out
      .split('\n')
      .map((l) => /^([^:]+):\s*(.*)$/.exec(l))
      .filter((x): x is RegExpExecArray => x !== null)
      .map((x) => [x[1]!.trim(), x[2]!.trim()]),
  );
}

export { waitForHealth };
