/**
 * ClusterApi over the local mode's plain processes: the same agent commands the chart's Jobs run,
 * as subprocesses with an environment pointing at the local instances.
 */
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { existsSync, lstatSync, readdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { toUri } from '../core/pg/conninfo.js';
import type {
  BackupEntry,
  BackupRequest,
  ClusterApi,
  Member,
  PromoteOutcome,
  RestoreRequest,
  Row,
  SnapshotEntry,
  VolumeUsage,
} from '../ops/cluster-api.js';
import { agentBackupArgs, agentRestoreArgs, agentVerifyArgs } from '../ops/agent-args.js';
import { PROBE_SQL } from '../ops/sql.js';
import { baseEnv, runAgentJson } from './agent.js';
import {
  ensureExporter,
  instanceEnv,
  instancePid,
  localDown,
  localUp,
  requirePgBinDir,
  startInstance,
  stopInstance,
  waitInstanceReady,
} from './lifecycle.js';
import { listLocalSnapshots, restoreLocalSnapshot } from './snapshots.js';
import { withStateLock } from './lock.js';
import { localQuery } from './pg.js';
import { LOCAL_NAMESPACE, type LocalState, readState, StatePaths, SUPERUSER, writeState } from './state.js';
import { listSnapshotEntries, takeSnapshot } from './snapshot-bridge.js';

function dirBytes(path: string): number {
  let total = 0;
  const walk = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(join(p, n));
    } else total += st.size;
  };
  walk(path);
  return total;
}

/** Agent progress goes to stderr as it happens, so stdout stays one result. */
const forwardLog = (chunk: string) => process.stderr.write(chunk);

export class LocalCluster implements ClusterApi {
  readonly mode = 'local' as const;
  readonly namespace = LOCAL_NAMESPACE;
  readonly release: string;
  readonly paths: StatePaths;

  constructor(readonly root: string) {
    this.paths = new StatePaths(root);
    this.release = readState(root).release;
  }

  state(): LocalState {
    return readState(this.root);
  }

  uriFor(port: number, database = 'postgres'): string {
    return toUri({ host: '127.0.0.1', port, user: SUPERUSER, database, passfile: this.paths.passfile });
  }

  async members(): Promise<Member[]> {
    const s = this.state();
    return Promise.all(
      s.instances.map(async (i) => {
        const running = instancePid(this.root, i.name) !== undefined;
        // The agent says why it is not ready (full disk, waiting for its primary, ...).
        const health = running ? await agentStatus(i.healthPort) : undefined;
        return {
          name: i.name,
          expectedRole: i.name === s.primary ? 'primary' : 'replica',
          running,
          restarts: null,
          uri: this.uriFor(i.port),
          note: health && health.ready === false && health.reason ? String(health.reason) : null,
        } satisfies Member;
      }),
    );
  }

  private instance(name: string) {
    const s = this.state();
    const inst = s.instances.find((i) => i.name === name);
    if (!inst)
      throw new UsageError(
        'E_NO_SUCH_INSTANCE',
        `there is no local instance named "${name}"`,
        { instance: name },
        {
          hint: `Instances: ${s.instances.map((i) => i.name).join(', ')}`,
        },
      );
    return inst;
  }

  async query(member: string, sql: string, database = 'postgres'): Promise<Row[]> {
    return localQuery(this.root, this.instance(member).port, sql, database);
  }

  async volumes(): Promise<VolumeUsage[]> {
    const s = this.state();
    const dirs = [
      ...s.instances.map((i) => ({ member: i.name, dir: this.paths.dataDir(i.name) })),
      { member: 'backups', dir: this.paths.backupsDir },
    ];
    return dirs.map(({ member, dir }) => {
      let capacityBytes: number | null = null;
      let usedBytes: number | null = null;
      try {
        const fs = statfsSync(dir);
        capacityBytes = fs.blocks * fs.bsize;
        usedBytes = (fs.blocks - fs.bfree) * fs.bsize;
      } catch {
        /* not created yet */
      }
      return {
        name: dir,
        member,
        dataBytes: dirBytes(dir),
        capacityBytes,
        usedBytes,
        usedPercent:
          capacityBytes && usedBytes !== null ? Math.round((usedBytes / capacityBytes) * 1000) / 10 : null,
      };
    });
  }

  /** Environment of an agent job against the current primary (what the backup CronJob gets). */
  jobEnv(): NodeJS.ProcessEnv {
    const s = this.state();
    const primary = s.instances.find((i) => i.name === s.primary)!;
    return baseEnv({
      HOME: this.paths.runDir,
      PGDATA: this.paths.dataDir(primary.name),
      PGOPS_PG_BIN_DIR: requirePgBinDir(),
      PGOPS_RELEASE: s.release,
      PGOPS_NAMESPACE: LOCAL_NAMESPACE,
      PGOPS_POD_NAME: primary.name,
      PGOPS_LOG_FORMAT: 'text',
      // The agent's stderr is a pipe to this process: tell it whether a person watches ours.
      PGOPS_PROGRESS: process.stderr.isTTY ? 'tty' : undefined,
      PGOPS_HOST: '127.0.0.1',
      PGOPS_PORT: String(primary.port),
      PGOPS_SOCKET_DIR: this.paths.runDir,
      PGOPS_BACKUP_DIR: this.paths.backupsDir,
      PGOPS_SUPERUSER_PASSWORD_FILE: this.paths.secret('superuser-password'),
    });
  }

  backupLocation(): string {
    return this.paths.backupsDir;
  }

  async listBackups(): Promise<BackupEntry[]> {
    const r = await runAgentJson<BackupEntry[]>({ args: ['list-backups'], env: this.jobEnv() });
    return Array.isArray(r) ? r : [];
  }

  async backup(name: string | undefined, _out: Output, req: BackupRequest = {}): Promise<void> {
    await runAgentJson({
      args: agentBackupArgs(name, req),
      env: this.jobEnv(),
      onLog: forwardLog,
      // Ctrl-C reaches the agent too: wait for it to clean up and report, instead of leaving it.
      forwardSignals: true,
    });
  }

  async verify(file: string | undefined, opts: { deep?: boolean; all?: boolean }, _out: Output) {
    return runAgentJson({
      args: agentVerifyArgs(file, opts),
      env: this.jobEnv(),
      onLog: forwardLog,
    });
  }

  async restore(req: RestoreRequest, _out: Output) {
    return runAgentJson({
      args: agentRestoreArgs(req),
      env: this.jobEnv(),
      onLog: forwardLog,
    });
  }

  async listSnapshots(): Promise<SnapshotEntry[]> {
    return listSnapshotEntries(this.root);
  }

  async snapshot(name: string | undefined, out: Output): Promise<SnapshotEntry | undefined> {
    const s = this.state();
    const primary = s.instances.find((i) => i.name === s.primary)!;
    if (!instancePid(this.root, primary.name))
      throw new OperationFailed(
        'E_NOT_RUNNING',
        `the primary ${primary.name} is not running`,
        {},
        {
          hint: 'Start it: postgres-ops local up',
        },
      );
    const snap = await takeSnapshot(this.root, primary.port, name, s.release, requirePgBinDir());
    out.line(`snapshot ${snap.name} taken from ${primary.name}`);
    return snap;
  }

  /**
   * Replaces every data directory with the snapshot: the primary's from the copy, the replicas
   * cloned again. The old directories are moved aside, never deleted.
   */
  async restoreSnapshot(name: string, out: Output): Promise<{ snapshot: string; keptAside: string[] }> {
    return withStateLock(this.root, `restore --snapshot ${name}`, () =>
      this.restoreSnapshotLocked(name, out),
    );
  }

  private async restoreSnapshotLocked(
    name: string,
    out: Output,
  ): Promise<{ snapshot: string; keptAside: string[] }> {
    const snap = listLocalSnapshots(this.root).find((x) => x.name === name);
    if (!snap) throw unknownSnapshot(name, this.root);
    const s = this.state();
    requirePgBinDir();
    await localDown(this.root, out);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const keptAside: string[] = [];
    for (const i of s.instances) {
      const dir = this.paths.dataDir(i.name);
      if (!existsSync(dir)) continue;
      const aside = `${dir}.before-restore-${stamp}`;
      renameSync(dir, aside);
      keptAside.push(aside);
    }
    try {
      await restoreLocalSnapshot({ stateDir: this.root, name, targetDataDir: this.paths.dataDir(s.primary) });
    } catch (err) {
      // Put the old data back so that nothing is lost when the copy fails.
      for (const aside of keptAside) {
        const dir = aside.slice(0, aside.lastIndexOf('.before-restore-'));
        rmSync(dir, { recursive: true, force: true });
        renameSync(aside, dir);
      }
      throw err;
    }
    out.line(`restored snapshot ${name} into ${this.paths.dataDir(s.primary)}; the replicas clone again`);
    await localUp(this.root, { release: s.release }, out);
    return { snapshot: name, keptAside };
  }

  async connect(member: Member): Promise<number> {
    const psql = join(requirePgBinDir(), 'psql');
    return new Promise((resolve, reject) => {
      const child = spawn(psql, [member.uri], { stdio: 'inherit', env: { ...process.env } });
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? 1));
    });
  }

  async promote(replica: string, out: Output): Promise<PromoteOutcome> {
    return withStateLock(this.root, `promote ${replica}`, () => this.promoteLocked(replica, out));
  }

  private async promoteLocked(replica: string, out: Output): Promise<PromoteOutcome> {
    const binDir = requirePgBinDir();
    const state = this.state();
    const target = this.instance(replica);
    if (state.primary === target.name)
      throw new UsageError(
        'E_ALREADY_PRIMARY',
        `${target.name} is already the primary`,
        { instance: target.name },
        {
          hint: 'See the members: postgres-ops status',
        },
      );
    if (!instancePid(this.root, target.name))
      throw new OperationFailed(
        'E_NOT_RUNNING',
        `${target.name} is not running; nothing was changed`,
        {},
        {
          hint: 'Start it first: postgres-ops local up',
        },
      );
    const [probe] = await this.query(target.name, PROBE_SQL);
    if (probe?.in_recovery !== true)
      throw new UsageError(
        'E_NOT_A_REPLICA',
        `${target.name} is not a replica (it accepts writes)`,
        {},
        {
          hint: 'See the members: postgres-ops status',
        },
      );
    const old = state.instances.find((i) => i.name === state.primary)!;
    const steps: string[] = [];
    // Fence first: the old primary must not accept a write once the replica is promoted.
    await stopInstance(this.root, old.name, out);
    steps.push(`stopped the old primary ${old.name} (fenced)`);
    out.line(`${old.name}: stopped (fenced)`);
    let result: { promoted?: boolean; timeline?: number; lsn?: string } | undefined;
    try {
      result = await runAgentJson({
        args: ['promote'],
        env: instanceEnv(this.root, state, target, binDir),
        onLog: forwardLog,
      });
    } catch (err) {
      out.line(`promotion failed; restarting ${old.name} as the primary`);
      const pid = await startInstance(this.root, state, old, binDir, out);
      await waitInstanceReady(this.root, old, pid);
      throw err;
    }
    steps.push(`promoted ${target.name} (timeline ${result?.timeline ?? '?'})`);
    out.line(`${target.name}: promoted`);
    for (const i of state.instances) {
      if (i.name === target.name) i.role = 'primary';
      else i.role = 'replica';
    }
    state.primary = target.name;
    writeState(this.root, state);
    steps.push(`recorded ${target.name} as the primary in ${this.paths.stateFile}`);
    for (const i of state.instances) {
      if (i.name === target.name || i.name === old.name) continue;
      if (!instancePid(this.root, i.name)) continue;
      await stopInstance(this.root, i.name, out);
      const pid = await startInstance(this.root, state, i, binDir, out);
      await waitInstanceReady(this.root, i, pid);
      steps.push(`restarted ${i.name} as a replica of ${target.name}`);
    }
    await ensureExporter(this.root, state, out);
    return {
      promoted: target.name,
      previousPrimary: old.name,
      timeline: result?.timeline ?? null,
      lsn: result?.lsn ?? null,
      steps,
      next: [
        `postgres-ops local up     # ${old.name} rejoins as a replica of ${target.name}`,
        'postgres-ops status',
      ],
    };
  }
}

export function unknownSnapshot(name: string, root: string): UsageError {
  const names = listLocalSnapshots(root).map((x) => x.name);
  return new UsageError(
    'E_NO_SUCH_SNAPSHOT',
    `no local snapshot named "${name}"; nothing was changed`,
    { name },
    {
      hint: names.length
        ? `Snapshots: ${names.slice(0, 5).join(', ')}`
        : 'Take one first: postgres-ops snapshot NAME',
    },
  );
}

/** The agent's own `/status` (role, phase, ready, reason), or undefined when it does not answer. */
function agentStatus(port: number): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/status', timeout: 1500 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}
