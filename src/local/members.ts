/**
 * The local members: `postgres-agent instance` processes (PostgreSQL under Patroni) with the
 * environment the chart gives a pod, pointed at the local etcd. Who leads is Patroni's answer, read
 * from its REST API; nothing here decides a role.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { PatroniApi, type PatroniCluster } from '../runtime/ha/patroni-api.js';
import { agentMainPath, baseEnv } from './agent.js';
import { etcdHosts } from './etcd.js';
import { postgresOsUser } from './os-user.js';
import { pitrEnv } from './pitr-env.js';
import { stopAsyncWorkers } from '../runtime/pitr/member-archive.js';
import { localQuery } from './pg.js';
import { postmasterPid, removePidFile, runningPid, spawnDetached, stopPid, tailFile } from './processes.js';
import {
  ensureDir,
  LOCAL_NAMESPACE,
  type LocalInstance,
  type LocalState,
  readSecret,
  StatePaths,
} from './state.js';

export const INSTANCE_MARKER = 'instance';
const STOP_TIMEOUT_MS = 90_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function scopeOfState(state: LocalState): string {
  return `${state.release}-postgres`;
}

/** Failover mode and synchronous replication, re-read by running members (written by local up). */
export function haFilePath(root: string): string {
  return join(new StatePaths(root).runDir, 'ha.json');
}

export function writeHaFile(root: string, state: LocalState) {
  writeFileSync(
    haFilePath(root),
    JSON.stringify({
      failover: state.failover,
      synchronous: state.synchronous,
      failsafe: state.failsafe ?? true,
    }) + '\n',
    { mode: 0o644 },
  );
}

/** The chart's default PostgreSQL settings, as local mode runs them (written by local up). */
export function fragmentPath(root: string): string {
  return join(new StatePaths(root).runDir, 'postgresql.conf');
}

export function instanceEnv(
  root: string,
  state: LocalState,
  inst: LocalInstance,
  binDir: string,
): NodeJS.ProcessEnv {
  const p = new StatePaths(root);
  const ha = state.ha;
  return baseEnv({
    HOME: p.runDir,
    PGDATA: p.dataDir(inst.name),
    PGOPS_PG_BIN_DIR: binDir,
    PGOPS_RELEASE: state.release,
    PGOPS_NAMESPACE: LOCAL_NAMESPACE,
    PGOPS_POD_NAME: inst.name,
    PGOPS_LOG_FORMAT: 'text',
    PGOPS_PORT: String(inst.port),
    PGOPS_LISTEN_ADDRESSES: '127.0.0.1',
    PGOPS_CONNECT_HOST: '127.0.0.1',
    PGOPS_SOCKET_DIR: p.instanceRunDir(inst.name),
    PGOPS_HEALTH_PORT: String(inst.healthPort),
    PGOPS_HEALTH_ADDRESS: '127.0.0.1',
    PGOPS_HOST: '127.0.0.1',
    PGOPS_DCS: 'etcd3',
    PGOPS_ETCD_HOSTS: etcdHosts(state),
    PGOPS_SCOPE: scopeOfState(state),
    PGOPS_RESTAPI_PORT: String(inst.restApiPort),
    PGOPS_HA_FILE: haFilePath(root),
    PGOPS_HA_TTL: ha ? String(ha.ttl) : undefined,
    PGOPS_HA_LOOP_WAIT: ha ? String(ha.loopWait) : undefined,
    PGOPS_HA_RETRY_TIMEOUT: ha ? String(ha.retryTimeout) : undefined,
    PGOPS_MAX_SLOT_WAL_KEEP_SIZE: state.settings?.maxSlotWalKeepSize,
    PGOPS_CONFIG_FILE: existsSync(fragmentPath(root)) ? fragmentPath(root) : undefined,
    PGOPS_SUPERUSER_PASSWORD_FILE: p.secret('superuser-password'),
    PGOPS_REPLICATION_PASSWORD_FILE: p.secret('replication-password'),
    PGOPS_APP_PASSWORD_FILE: p.secret('app-password'),
    PGOPS_RESTAPI_PASSWORD_FILE: p.secret('restapi-password'),
    // As root, the agent starts as root (so it can load itself from any checkout) and switches to
    // the postgres OS user before touching data: PostgreSQL refuses root.
    PGOPS_RUN_AS_USER: postgresOsUser().uid === undefined ? undefined : 'postgres',
    // Continuous WAL archive into <state>/pgbackrest (and repo2 when set).
    ...pitrEnv(root, state),
  });
}

export function instancePid(root: string, name: string): number | undefined {
  return runningPid(new StatePaths(root).pidFile(name), INSTANCE_MARKER);
}

export function startInstance(
  root: string,
  state: LocalState,
  inst: LocalInstance,
  binDir: string,
  out: Output,
) {
  const p = new StatePaths(root);
  ensureDir(join(root, 'data'), 0o755, true);
  ensureDir(p.instanceRunDir(inst.name), 0o755, true);
  const pid = spawnDetached({
    file: process.execPath,
    args: [agentMainPath(), INSTANCE_MARKER],
    env: instanceEnv(root, state, inst, binDir),
    logFile: p.logFile(inst.name),
    pidFile: p.pidFile(inst.name),
    cwd: p.runDir,
  });
  out.line(
    `${inst.name}: started (port ${inst.port}, Patroni API ${inst.restApiPort}, pid ${pid}, log ${p.logFile(inst.name)})`,
  );
  return pid;
}

/**
 * Stops a member's agent (which stops Patroni, which stops PostgreSQL and hands the lead over),
 * then whatever a killed agent left behind: a Patroni, a postmaster.
 */
export async function stopInstance(root: string, name: string, out: Output): Promise<boolean> {
  const p = new StatePaths(root);
  const pid = instancePid(root, name);
  let stopped = false;
  if (pid) {
    out.line(`${name}: stopping (pid ${pid})`);
    await stopPid(pid, STOP_TIMEOUT_MS);
    stopped = true;
  }
  removePidFile(p.pidFile(name));
  const orphan = orphanPatroni(root, name);
  if (orphan) {
    await stopPid(orphan, STOP_TIMEOUT_MS);
    stopped = true;
  }
  const pm = postmasterPid(p.dataDir(name));
  if (pm) {
    await stopPid(pm, STOP_TIMEOUT_MS, 'SIGINT');
    stopped = true;
  }
  // pgBackRest's asynchronous archive workers of a member whose agent was killed.
  stopAsyncWorkers(join(p.instanceRunDir(name), 'pgops', 'pgbackrest.conf'));
  return stopped;
}

/** A Patroni still running with this member's configuration although its agent is gone. */
export function orphanPatroni(root: string, name: string): number | undefined {
  const yaml = join(new StatePaths(root).instanceRunDir(name), 'pgops', 'patroni.yml');
  return processWithArg(yaml);
}

function processWithArg(arg: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (args.includes(arg)) return Number(d);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

export function memberApi(root: string, inst: LocalInstance): PatroniApi {
  return new PatroniApi(`http://127.0.0.1:${inst.restApiPort}`, {
    username: 'patroni',
    password: readSecret(root, 'restapi-password'),
  });
}

/** Patroni's view of the cluster, from the first member that answers. */
export async function readCluster(
  root: string,
  state: LocalState,
): Promise<{ cluster: PatroniCluster; config: Record<string, unknown> } | undefined> {
  for (const inst of state.instances) {
    const api = memberApi(root, inst);
    try {
      const [cluster, config] = await Promise.all([api.cluster(), api.config().catch(() => ({}))]);
      return { cluster, config };
    } catch {
      /* next member */
    }
  }
  return undefined;
}

/** The member Patroni has as leader, or, without an answer from Patroni, the one that accepts writes. */
export async function findLeader(root: string, state: LocalState): Promise<LocalInstance | undefined> {
  const view = await readCluster(root, state);
  const name = view?.cluster.members.find((m) => m.role === 'leader')?.name;
  if (name) return state.instances.find((i) => i.name === name);
  for (const inst of state.instances) {
    const row = await localQuery(root, inst.port, 'SELECT pg_is_in_recovery() AS r')
      .then((r) => r[0])
      .catch(() => undefined);
    if (row && row.r === false) return inst;
  }
  return undefined;
}

/**
 * Waits until a leader accepts writes and every running member streams from it. Fails early, with
 * the member's log, when one of the agents exits.
 */
export async function waitForCluster(
  root: string,
  state: LocalState,
  timeoutMs: number,
): Promise<LocalInstance> {
  const p = new StatePaths(root);
  const deadline = Date.now() + timeoutMs;
  const started = Date.now();
  // With failover: manual nobody takes the lead of a cluster whose primary is gone: say so rather
  // than wait (a former primary that comes back takes its lead back within two leases).
  const manualGiveUp = ((state.ha?.ttl ?? 30) * 2 + 15) * 1000;
  let last = 'no member answered yet';
  while (Date.now() < deadline) {
    for (const inst of state.instances)
      if (!instancePid(root, inst.name))
        throw new OperationFailed(
          'E_INSTANCE_EXITED',
          `${inst.name} stopped while starting:\n${tailFile(p.logFile(inst.name))}`,
          { instance: inst.name, log: p.logFile(inst.name) },
          { hint: `Read ${p.logFile(inst.name)}, fix the cause, then run: postgres-ops local up` },
        );
    const leader = await findLeader(root, state);
    if (leader) {
      const pending: string[] = [];
      for (const inst of state.instances) {
        if (inst === leader) continue;
        const row = await localQuery(
          root,
          inst.port,
          'SELECT pg_is_in_recovery() AS r, (SELECT status FROM pg_stat_wal_receiver) AS s',
        )
          .then((r) => r[0])
          .catch(() => undefined);
        if (!row || row.r !== true || row.s !== 'streaming') pending.push(inst.name);
      }
      // Writable, and past Patroni's post-bootstrap hook (it creates the pgops tables last).
      const writable = await localQuery(
        root,
        leader.port,
        "SELECT pg_is_in_recovery() AS r, to_regclass('pgops.drill_history') IS NOT NULL AS boot",
      )
        .then((r) => r[0]?.r === false && r[0]?.boot === true)
        .catch(() => false);
      if (writable && pending.length === 0) return leader;
      last = writable
        ? `waiting for ${pending.join(', ')} to stream from ${leader.name}`
        : `${leader.name} does not accept writes yet`;
    } else if (state.failover === 'manual' && Date.now() - started > manualGiveUp) {
      const names = state.instances.map((i) => i.name);
      throw new OperationFailed(
        'E_NO_LEADER',
        'no member leads and failover is manual: the members run as replicas and wait for a person to promote one',
        { members: names },
        {
          hint: `See which has the most WAL (postgres-ops status), then: postgres-ops promote ${names.find((n) => n !== state.primary) ?? names[0]}`,
        },
      );
    }
    await sleep(500);
  }
  throw new OperationFailed(
    'E_INSTANCE_TIMEOUT',
    `the members were not ready after ${timeoutMs / 1000}s (${last})`,
    {},
    { hint: `Read the logs in ${p.logsDir}; then run postgres-ops local up again` },
  );
}
