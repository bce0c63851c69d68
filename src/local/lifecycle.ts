/**
 * `local up | down | destroy`: an etcd and the same `postgres-agent instance` members the chart
 * runs (PostgreSQL under Patroni), as detached processes under the state folder, plus the exporter.
 * Up is idempotent: it starts whatever is not running (after a crash, a kill -9 or a reboot), leaves
 * running parts alone, and applies changed settings and passwords without restarting anything.
 */
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { baseEnv } from './agent.js';
import { writeFragment } from './chart-defaults.js';
import { ensureEtcd, stopEtcd } from './etcd.js';
import { findExporter, exporterQueriesFile } from './exporter.js';
import {
  findLeader,
  fragmentPath,
  instancePid,
  orphanPatroni,
  startInstance,
  stopInstance,
  waitForCluster,
  writeHaFile,
} from './members.js';
import { asPostgres } from './os-user.js';
import { resumeInterruptedRestore } from './pitr.js';
import { freePort } from './ports.js';
import { postmasterPid, removePidFile, runningPid, spawnDetached, stopPid } from './processes.js';
import {
  type HaTimings,
  type LegacyState,
  type LocalInstance,
  type LocalState,
  prepareStateDir,
  readAnyState,
  readSecret,
  stateExists,
  StatePaths,
  writeState,
} from './state.js';
import { requirePgBinDir, requireTraversable } from './state-dir.js';

export const EXPORTER_PROC = 'exporter';
const READY_TIMEOUT_MS = 240_000;

export interface UpOptions {
  replicas?: number;
  release: string;
  /** Turn synchronous replication on or off; unchanged when undefined. */
  synchronous?: boolean;
  failover?: 'automatic' | 'manual';
  failsafe?: boolean;
  /** Patroni timings for a new state (tests shorten them); unchanged when undefined. */
  ha?: HaTimings;
  /** PostgreSQL settings over the chart's defaults for a new state; unchanged when undefined. */
  settings?: LocalState['settings'];
  /** Point-in-time recovery settings for a new state (tests shorten archive_timeout); unchanged when undefined. */
  pitr?: LocalState['pitr'];
}

export interface UpReport {
  stateDir: string;
  created: boolean;
  started: string[];
  alreadyRunning: string[];
  leader: string;
  exporter: { url: string | null; note: string };
  /** What a point-in-time restore killed earlier left, and how it was settled. */
  resumedRestore: string | null;
}

async function allocatePorts(taken: number[], n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await freePort([...taken, ...out]));
  return out;
}

function takenPorts(state: Partial<LocalState> & { instances: Partial<LocalInstance>[] }): number[] {
  const ports = state.instances.flatMap((i) => [i.port, i.healthPort, i.restApiPort]);
  const all: (number | undefined)[] = [
    ...ports,
    state.exporterPort,
    state.etcd?.clientPort,
    state.etcd?.peerPort,
  ];
  return all.filter((p): p is number => typeof p === 'number');
}

async function newState(release: string): Promise<LocalState> {
  const [port, healthPort, restApiPort, exporterPort, clientPort, peerPort] = await allocatePorts([], 6);
  return {
    version: 2,
    release,
    createdAt: new Date().toISOString(),
    primary: 'postgres-0',
    instances: [
      {
        name: 'postgres-0',
        role: 'primary',
        port: port!,
        healthPort: healthPort!,
        restApiPort: restApiPort!,
      },
    ],
    exporterPort: exporterPort!,
    etcd: { clientPort: clientPort!, peerPort: peerPort! },
    failover: 'automatic',
    synchronous: false,
  };
}

/** A state folder from before Patroni: same data, ports and names; Patroni's ports and etcd added. */
async function upgradeState(old: LegacyState): Promise<LocalState> {
  const taken = takenPorts(old as unknown as LocalState);
  const ports = await allocatePorts(taken, old.instances.length + 2);
  return {
    ...old,
    version: 2,
    instances: old.instances.map((i, n) => ({ ...i, restApiPort: ports[n]! })),
    etcd: { clientPort: ports[old.instances.length]!, peerPort: ports[old.instances.length + 1]! },
    failover: 'automatic',
    synchronous: false,
  };
}

async function addReplicas(state: LocalState, wanted: number) {
  const replicas = state.instances.filter((i) => i.name !== state.primary);
  for (let n = replicas.length; n < wanted; n++) {
    let idx = state.instances.length;
    while (state.instances.some((i) => i.name === `postgres-${idx}`)) idx++;
    const [port, healthPort, restApiPort] = await allocatePorts(takenPorts(state), 3);
    state.instances.push({
      name: `postgres-${idx}`,
      role: 'replica',
      port: port!,
      healthPort: healthPort!,
      restApiPort: restApiPort!,
    });
  }
}

const hasData = (root: string, name: string) =>
  existsSync(join(new StatePaths(root).dataDir(name), 'PG_VERSION'));

export async function localUp(root: string, opts: UpOptions, out: Output): Promise<UpReport> {
  if (
    opts.replicas !== undefined &&
    (!Number.isInteger(opts.replicas) || opts.replicas < 0 || opts.replicas > 5)
  )
    throw new UsageError(
      'E_USAGE',
      `--replicas must be a whole number from 0 to 5, not "${opts.replicas}"`,
      {},
      { hint: 'Example: postgres-ops local up --replicas 1' },
    );
  const binDir = requirePgBinDir();
  requireTraversable(root);
  const created = !stateExists(root);
  const found = created ? undefined : readAnyState(root);
  if (found?.version === 1) {
    out.line('moving the members under Patroni (their data is kept): stopping them first');
    for (const i of found.instances) await stopInstance(root, i.name, out);
  }
  const state = !found
    ? await newState(opts.release)
    : found.version === 1
      ? await upgradeState(found)
      : found;
  if (opts.synchronous !== undefined) state.synchronous = opts.synchronous;
  if (opts.failover !== undefined) state.failover = opts.failover;
  if (opts.failsafe !== undefined) state.failsafe = opts.failsafe;
  if (opts.ha && created) state.ha = opts.ha;
  if (opts.settings && created) state.settings = opts.settings;
  if (opts.pitr && created) state.pitr = opts.pitr;
  prepareStateDir(root);
  writeFragment(fragmentPath(root), state.settings?.parameters);
  writeHaFile(root, state);
  const replicaCount = state.instances.length - 1;
  const wanted = opts.replicas ?? (created ? 1 : replicaCount);
  if (wanted < replicaCount)
    out.line(
      `keeping ${replicaCount} replicas: local up never removes one (their data stays until local destroy)`,
    );
  await addReplicas(state, wanted);
  writeState(root, state);
  // A point-in-time restore killed earlier is settled first: the old cluster or the new one.
  const resumed = await resumeInterruptedRestore(root, state, out);

  await ensureEtcd(root, state, out);
  const started: string[] = [];
  const alreadyRunning: string[] = [];
  const running = new Set(state.instances.filter((i) => instancePid(root, i.name)).map((i) => i.name));
  for (const i of state.instances) {
    if (running.has(i.name)) {
      alreadyRunning.push(i.name);
      continue;
    }
    // What a killed agent left behind (Patroni, PostgreSQL) is stopped; the new agent starts afresh.
    if (orphanPatroni(root, i.name) || postmasterPid(new StatePaths(root).dataDir(i.name)))
      await stopInstance(root, i.name, out);
  }
  // The member with the newest data goes first: on a new cluster it bootstraps, on an existing one
  // it leads while the others rejoin (Patroni decides; this only avoids a needless race).
  const first =
    state.instances.find((i) => i.name === state.primary && hasData(root, i.name)) ??
    state.instances.find((i) => hasData(root, i.name)) ??
    state.instances[0]!;
  const toStart = state.instances.filter((i) => !running.has(i.name));
  if (toStart.includes(first) && running.size === 0) {
    startInstance(root, state, first, binDir, out);
    started.push(first.name);
    await waitForCluster(root, { ...state, instances: [first] }, READY_TIMEOUT_MS);
  }
  for (const i of toStart) {
    if (started.includes(i.name)) continue;
    startInstance(root, state, i, binDir, out);
    started.push(i.name);
  }
  signalRunningAgents(root, state, alreadyRunning);
  const leader = await waitForCluster(root, state, READY_TIMEOUT_MS);
  recordRoles(root, state, leader);
  const exporter = await ensureExporter(root, state, out);
  return {
    stateDir: root,
    created,
    started,
    alreadyRunning,
    leader: leader.name,
    exporter,
    resumedRestore: resumed,
  };
}

/** Running agents re-read their settings and passwords (they also notice changed secret files). */
function signalRunningAgents(root: string, _state: LocalState, names: string[]) {
  for (const name of names) {
    const pid = instancePid(root, name);
    if (pid)
      try {
        process.kill(pid, 'SIGHUP');
      } catch {
        /* exited meanwhile */
      }
  }
}

/** Remembers who led, for messages and for which member starts first next time. */
export function recordRoles(root: string, state: LocalState, leader: LocalInstance) {
  state.primary = leader.name;
  for (const i of state.instances) i.role = i.name === leader.name ? 'primary' : 'replica';
  writeState(root, state);
}

/** postgres_exporter on the current leader, restarted when the leader or the password changed. */
export async function ensureExporter(
  root: string,
  state: LocalState,
  out: Output,
): Promise<UpReport['exporter']> {
  const p = new StatePaths(root);
  const bin = findExporter();
  if (!bin)
    return {
      url: null,
      note: 'postgres_exporter is not installed (Debian: apt-get install prometheus-postgres-exporter)',
    };
  const leader = (await findLeader(root, state)) ?? state.instances.find((i) => i.name === state.primary)!;
  const targetFile = join(p.runDir, `${EXPORTER_PROC}.target`);
  const password = readSecret(root, 'superuser-password');
  const target = `127.0.0.1:${leader.port}/postgres?sslmode=disable`;
  const fingerprint = `${target} ${createHash('sha256').update(password).digest('hex').slice(0, 16)}`;
  const url = `http://127.0.0.1:${state.exporterPort}/metrics`;
  const running = runningPid(p.pidFile(EXPORTER_PROC), 'exporter');
  if (running) {
    const current = existsSync(targetFile) ? readFileSync(targetFile, 'utf8').trim() : '';
    if (current === fingerprint) return { url, note: 'already running' };
    await stopPid(running, 10_000);
  }
  // The exporter runs as the postgres OS user, which may not be able to read the checkout (one
  // under /root): it reads a copy of the chart's queries kept in the state folder.
  const chartQueries = exporterQueriesFile();
  const queries = chartQueries ? join(p.runDir, 'exporter-queries.yaml') : undefined;
  if (chartQueries && queries) copyFileSync(chartQueries, queries);
  const args = [`--web.listen-address=127.0.0.1:${state.exporterPort}`];
  if (queries) args.push(`--extend.query-path=${queries}`);
  const pid = spawnDetached({
    file: bin,
    args,
    // The password goes through the environment, never argv.
    env: baseEnv({ DATA_SOURCE_URI: target, DATA_SOURCE_USER: 'postgres', DATA_SOURCE_PASS: password }),
    logFile: p.logFile(EXPORTER_PROC),
    pidFile: p.pidFile(EXPORTER_PROC),
    cwd: p.runDir,
    ...asPostgres(),
  });
  writeFileSync(targetFile, fingerprint + '\n');
  out.line(`exporter: started (pid ${pid}, ${url}${queries ? ', chart queries' : ''})`);
  return { url, note: queries ? `with ${queries}` : 'standard metrics only' };
}

export interface DownReport {
  stopped: string[];
  notRunning: string[];
}

export async function localDown(root: string, out: Output): Promise<DownReport> {
  const state = readAnyState(root);
  const p = new StatePaths(root);
  const stopped: string[] = [];
  const notRunning: string[] = [];
  const exp = runningPid(p.pidFile(EXPORTER_PROC), 'exporter');
  if (exp) {
    await stopPid(exp, 10_000);
    stopped.push(EXPORTER_PROC);
  }
  removePidFile(p.pidFile(EXPORTER_PROC));
  // Replicas first, so that no failover is attempted while the leader stops last.
  const ordered = [...state.instances].sort(
    (a, b) => Number(a.name === state.primary) - Number(b.name === state.primary),
  );
  for (const inst of ordered) {
    if (await stopInstance(root, inst.name, out)) stopped.push(inst.name);
    else notRunning.push(inst.name);
  }
  if (await stopEtcd(root)) stopped.push('etcd');
  return { stopped, notRunning };
}

/** Stops everything and deletes the state folder (only a folder that holds our state file). */
export async function localDestroy(root: string, out: Output): Promise<{ removed: string }> {
  const p = new StatePaths(root);
  if (!stateExists(root))
    throw new UsageError(
      'E_NO_LOCAL_STATE',
      `${p.root} holds no postgres-ops local state; nothing to destroy`,
      {
        stateDir: p.root,
      },
    );
  await localDown(root, out);
  rmSync(p.root, { recursive: true, force: true });
  return { removed: p.root };
}
