/**
 * `local up | down | destroy`: the same `postgres-agent instance` the chart runs, as detached
 * processes under the state folder. Up is idempotent: it starts whatever is not running (after a
 * crash, a kill or a reboot) and leaves running parts alone.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OperationFailed, OpsError, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { findPgBinDir } from '../runtime/pgbin.js';
import { PROBE_SQL } from '../ops/sql.js';
import { agentMainPath, baseEnv } from './agent.js';
import { findExporter, exporterQueriesFile } from './exporter.js';
import { asPostgres, postgresOsUser } from './os-user.js';
import { localQuery } from './pg.js';
import { freePort } from './ports.js';
import {
  postmasterPid,
  pidAlive,
  removePidFile,
  runningPid,
  spawnDetached,
  stopPid,
  tailFile,
} from './processes.js';
import {
  ensureDir,
  LOCAL_NAMESPACE,
  type LocalInstance,
  type LocalState,
  prepareStateDir,
  readSecret,
  readState,
  stateExists,
  StatePaths,
  writeState,
} from './state.js';

export const INSTANCE_MARKER = 'instance';
export const EXPORTER_PROC = 'exporter';
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 90_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server programs, or the exact line that installs them. */
export function requirePgBinDir(): string {
  try {
    return findPgBinDir();
  } catch (err) {
    if (err instanceof OpsError)
      throw new UsageError(
        'E_NO_POSTGRES',
        `${err.message}; local mode runs PostgreSQL on this machine`,
        {},
        {
          hint: 'Install them: sudo bash scripts/install-system-deps.sh (or set PGOPS_PG_BIN_DIR to their directory)',
        },
      );
    throw err;
  }
}

/** The first directory above `root` the postgres OS user cannot enter (only when running as root). */
function unreachableAncestor(root: string): { dir: string; mode: number } | undefined {
  const u = postgresOsUser();
  if (u.uid === undefined) return undefined;
  for (let dir = dirname(resolve(root)); ; dir = dirname(dir)) {
    let st;
    try {
      st = statSync(dir);
    } catch {
      st = undefined;
    }
    const ok =
      !st || (st.mode & 0o001) !== 0 || st.uid === u.uid || (st.gid === u.gid && (st.mode & 0o010) !== 0);
    if (!ok) return { dir, mode: st!.mode & 0o777 };
    if (dir === dirname(dir)) return undefined;
  }
}

/**
 * As root, the instances run as the postgres OS user, who must be able to reach the state folder:
 * a checkout under /root (mode 0700) is the usual trap. Said before anything is created.
 */
export function requireTraversable(root: string) {
  const bad = unreachableAncestor(root);
  if (bad)
    throw new UsageError(
      'E_STATE_DIR_UNREACHABLE',
      `the postgres OS user cannot enter ${bad.dir} (mode ${bad.mode.toString(8)}), so PostgreSQL could not use ${resolve(root)}`,
      { dir: bad.dir },
      {
        hint: `Use a state folder it can reach, e.g. --state-dir /var/tmp/postgres-ops, or: chmod o+x ${bad.dir}`,
      },
    );
}

/** Where the state of a checkout lives when the postgres OS user cannot reach the checkout. */
export const SHARED_STATE_PARENT = '/var/lib/postgres-ops';

/**
 * The default state folder `.postgres-ops/` of a checkout the postgres OS user cannot reach (under
 * /root): the state goes to /var/lib/postgres-ops/<checkout>-<hash> and `.postgres-ops` becomes a
 * link to it, so the folder is still found from the checkout and `local destroy` removes both.
 * Returns the folder to use (the real one).
 */
export function placeDefaultStateDir(link: string, out: Output): string {
  if (!unreachableAncestor(link)) return link;
  // A real folder there already holds state: leave it (requireTraversable then says what to do).
  if (existsSync(link) && !lstatSync(link).isSymbolicLink()) return link;
  const checkout = dirname(resolve(link));
  const slug = `${basename(checkout).replace(/[^A-Za-z0-9._-]/g, '_')}-${createHash('sha256').update(checkout).digest('hex').slice(0, 8)}`;
  const target = join(SHARED_STATE_PARENT, slug);
  mkdirSync(target, { recursive: true, mode: 0o755 });
  chmodSync(SHARED_STATE_PARENT, 0o755);
  chmodSync(target, 0o755);
  let current: string | undefined;
  try {
    current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : undefined;
  } catch {
    current = undefined;
  }
  if (current !== target) {
    if (current !== undefined) unlinkSync(link);
    symlinkSync(target, link);
  }
  out.line(
    `state folder: ${link} -> ${target} (the postgres OS user cannot enter ${unreachableAncestor(link)?.dir})`,
  );
  return target;
}

/** A link left by placeDefaultStateDir whose folder was destroyed. */
export function removeDanglingStateLink(link: string) {
  try {
    if (lstatSync(link).isSymbolicLink() && !existsSync(link)) unlinkSync(link);
  } catch {
    /* nothing there */
  }
}

export function instanceEnv(
  root: string,
  state: LocalState,
  inst: LocalInstance,
  binDir: string,
): NodeJS.ProcessEnv {
  const p = new StatePaths(root);
  const primary = state.instances.find((i) => i.name === state.primary);
  const peers = state.instances.filter((i) => i.name !== inst.name).map((i) => `127.0.0.1:${i.port}`);
  const replica = inst.role === 'replica' && primary && primary.name !== inst.name;
  return baseEnv({
    HOME: p.runDir,
    PGDATA: p.dataDir(inst.name),
    PGOPS_PG_BIN_DIR: binDir,
    PGOPS_RELEASE: state.release,
    PGOPS_NAMESPACE: LOCAL_NAMESPACE,
    PGOPS_POD_NAME: inst.name,
    PGOPS_LOG_FORMAT: 'json',
    PGOPS_ROLE: replica ? 'replica' : 'primary',
    PGOPS_PORT: String(inst.port),
    PGOPS_LISTEN_ADDRESSES: '127.0.0.1',
    PGOPS_SOCKET_DIR: p.runDir,
    PGOPS_HEALTH_PORT: String(inst.healthPort),
    PGOPS_HEALTH_ADDRESS: '127.0.0.1',
    PGOPS_HOST: '127.0.0.1',
    PGOPS_PRIMARY_HOST: replica ? '127.0.0.1' : undefined,
    PGOPS_PRIMARY_PORT: replica ? String(primary.port) : undefined,
    PGOPS_PEERS: peers.join(','),
    PGOPS_SUPERUSER_PASSWORD_FILE: p.secret('superuser-password'),
    PGOPS_REPLICATION_PASSWORD_FILE: p.secret('replication-password'),
    PGOPS_APP_PASSWORD_FILE: p.secret('app-password'),
    // As root, the agent starts as root (so it can load itself from any checkout) and switches to
    // the postgres OS user before touching data: PostgreSQL refuses root.
    PGOPS_RUN_AS_USER: postgresOsUser().uid === undefined ? undefined : 'postgres',
  });
}

export function instancePid(root: string, name: string): number | undefined {
  return runningPid(new StatePaths(root).pidFile(name), INSTANCE_MARKER);
}

/** A postmaster left behind by an agent that was killed: shut it down fast so its agent can restart it. */
async function stopOrphanPostmaster(root: string, name: string, out: Output) {
  const pm = postmasterPid(new StatePaths(root).dataDir(name));
  if (!pm) return;
  out.line(`${name}: stopping PostgreSQL (pid ${pm}) left running by a stopped agent`);
  await stopPid(pm, STOP_TIMEOUT_MS, 'SIGINT');
}

export async function startInstance(
  root: string,
  state: LocalState,
  inst: LocalInstance,
  binDir: string,
  out: Output,
) {
  const p = new StatePaths(root);
  await stopOrphanPostmaster(root, inst.name, out);
  ensureDir(join(root, 'data'), 0o755, true);
  if (!existsSync(p.dataDir(inst.name))) ensureDir(p.dataDir(inst.name), 0o700, true);
  const pid = spawnDetached({
    file: process.execPath,
    args: [agentMainPath(), INSTANCE_MARKER],
    env: instanceEnv(root, state, inst, binDir),
    logFile: p.logFile(inst.name),
    pidFile: p.pidFile(inst.name),
    cwd: p.runDir,
  });
  out.line(
    `${inst.name}: started (${inst.role}, port ${inst.port}, pid ${pid}, log ${p.logFile(inst.name)})`,
  );
  return pid;
}

/** Waits until the instance answers as the role it was started for. */
export async function waitInstanceReady(
  root: string,
  inst: LocalInstance,
  pid: number,
  timeoutMs = READY_TIMEOUT_MS,
) {
  const p = new StatePaths(root);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!pidAlive(pid))
      throw new OperationFailed(
        'E_INSTANCE_EXITED',
        `${inst.name} stopped while starting:\n${tailFile(p.logFile(inst.name))}`,
        { instance: inst.name, log: p.logFile(inst.name) },
        { hint: `Read ${p.logFile(inst.name)}, fix the cause, then run: postgres-ops local up` },
      );
    try {
      const [row] = await localQuery(root, inst.port, PROBE_SQL);
      const inRecovery = row?.in_recovery === true;
      if (inst.role === 'primary' ? !inRecovery : inRecovery) return;
      last = `answers as ${inRecovery ? 'replica' : 'primary'}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(300);
  }
  throw new OperationFailed(
    'E_INSTANCE_TIMEOUT',
    `${inst.name} was not ready as ${inst.role} after ${timeoutMs / 1000}s (${last})`,
    { instance: inst.name },
    { hint: `Read ${p.logFile(inst.name)}; then run postgres-ops local up again` },
  );
}

export interface UpOptions {
  replicas?: number;
  release: string;
}

export interface UpReport {
  stateDir: string;
  created: boolean;
  started: string[];
  alreadyRunning: string[];
  exporter: { url: string | null; note: string };
}

async function newState(release: string): Promise<LocalState> {
  const port = await freePort();
  const healthPort = await freePort([port]);
  const exporterPort = await freePort([port, healthPort]);
  return {
    version: 1,
    release,
    createdAt: new Date().toISOString(),
    primary: 'postgres-0',
    instances: [{ name: 'postgres-0', role: 'primary', port, healthPort }],
    exporterPort,
  };
}

async function addReplicas(state: LocalState, wanted: number) {
  const replicas = state.instances.filter((i) => i.role === 'replica');
  const taken = () => state.instances.flatMap((i) => [i.port, i.healthPort]).concat(state.exporterPort);
  for (let n = replicas.length; n < wanted; n++) {
    let idx = state.instances.length;
    while (state.instances.some((i) => i.name === `postgres-${idx}`)) idx++;
    const port = await freePort(taken());
    const healthPort = await freePort([...taken(), port]);
    state.instances.push({ name: `postgres-${idx}`, role: 'replica', port, healthPort });
  }
}

export async function localUp(root: string, opts: UpOptions, out: Output): Promise<UpReport> {
  if (
    opts.replicas !== undefined &&
    (!Number.isInteger(opts.replicas) || opts.replicas < 0 || opts.replicas > 5)
  )
    throw new UsageError(
      'E_USAGE',
      `--replicas must be a whole number from 0 to 5, not "${opts.replicas}"`,
      {},
      {
        hint: 'Example: postgres-ops local up --replicas 1',
      },
    );
  const binDir = requirePgBinDir();
  requireTraversable(root);
  const created = !stateExists(root);
  const state = created ? await newState(opts.release) : readState(root);
  prepareStateDir(root);
  const replicaCount = state.instances.filter((i) => i.role === 'replica').length;
  const wanted = opts.replicas ?? (created ? 1 : replicaCount);
  if (wanted < replicaCount)
    out.line(
      `keeping ${replicaCount} replicas: local up never removes one (their data stays until local destroy)`,
    );
  await addReplicas(state, wanted);
  writeState(root, state);

  const started: string[] = [];
  const alreadyRunning: string[] = [];
  const primary = state.instances.find((i) => i.name === state.primary)!;
  const ordered = [primary, ...state.instances.filter((i) => i !== primary)];
  const pending: { inst: LocalInstance; pid: number }[] = [];
  for (const inst of ordered) {
    const running = instancePid(root, inst.name);
    if (running) {
      alreadyRunning.push(inst.name);
      continue;
    }
    const pid = await startInstance(root, state, inst, binDir, out);
    started.push(inst.name);
    // Replicas clone from the primary: it must accept connections first.
    if (inst === primary) await waitInstanceReady(root, inst, pid);
    else pending.push({ inst, pid });
  }
  for (const { inst, pid } of pending) await waitInstanceReady(root, inst, pid);
  const exporter = await ensureExporter(root, state, out);
  return { stateDir: root, created, started, alreadyRunning, exporter };
}

/** postgres_exporter on the current primary, when one is installed; restarted when the primary moved. */
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
  const primary = state.instances.find((i) => i.name === state.primary)!;
  const targetFile = join(p.runDir, `${EXPORTER_PROC}.target`);
  const target = `127.0.0.1:${primary.port}/postgres?sslmode=disable`;
  const url = `http://127.0.0.1:${state.exporterPort}/metrics`;
  const running = runningPid(p.pidFile(EXPORTER_PROC), 'exporter');
  if (running) {
    const current = existsSync(targetFile) ? readFileSync(targetFile, 'utf8').trim() : '';
    if (current === target) return { url, note: 'already running' };
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
    env: baseEnv({
      DATA_SOURCE_URI: target,
      DATA_SOURCE_USER: 'postgres',
      DATA_SOURCE_PASS: readSecret(root, 'superuser-password'),
    }),
    logFile: p.logFile(EXPORTER_PROC),
    pidFile: p.pidFile(EXPORTER_PROC),
    cwd: p.runDir,
    ...asPostgres(),
  });
  writeFileSync(targetFile, target + '\n');
  out.line(`exporter: started (pid ${pid}, ${url}${queries ? ', chart queries' : ''})`);
  return { url, note: queries ? `with ${queries}` : 'standard metrics only' };
}

export interface DownReport {
  stopped: string[];
  notRunning: string[];
}

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
  const pm = postmasterPid(p.dataDir(name));
  if (pm) {
    await stopPid(pm, STOP_TIMEOUT_MS, 'SIGINT');
    stopped = true;
  }
  return stopped;
}

export async function localDown(root: string, out: Output): Promise<DownReport> {
  const state = readState(root);
  const p = new StatePaths(root);
  const stopped: string[] = [];
  const notRunning: string[] = [];
  const exp = runningPid(p.pidFile(EXPORTER_PROC), 'exporter');
  if (exp) {
    await stopPid(exp, 10_000);
    stopped.push(EXPORTER_PROC);
  }
  removePidFile(p.pidFile(EXPORTER_PROC));
  // Replicas first, so that none of them spends the primary's shutdown reconnecting.
  const ordered = [...state.instances].sort(
    (a, b) => Number(a.name === state.primary) - Number(b.name === state.primary),
  );
  for (const inst of ordered) {
    if (await stopInstance(root, inst.name, out)) stopped.push(inst.name);
    else notRunning.push(inst.name);
  }
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
