/**
 * ClusterApi over the local mode's plain processes: the same agent commands the chart's Jobs run,
 * as subprocesses with an environment pointing at the local instances.
 */
import { spawn } from 'node:child_process';
import { readdirSync, lstatSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { toUri } from '../core/pg/conninfo.js';
import type {
  BackupEntry,
  ClusterApi,
  Member,
  PromoteOutcome,
  RestoreRequest,
  Row,
  SnapshotEntry,
  VolumeUsage,
} from '../ops/cluster-api.js';
import { PROBE_SQL } from '../ops/sql.js';
import { baseEnv, runAgentJson } from './agent.js';
import {
  ensureExporter,
  instanceEnv,
  instancePid,
  requirePgBinDir,
  startInstance,
  stopInstance,
  waitInstanceReady,
} from './lifecycle.js';
import { asPostgres } from './os-user.js';
import { localQuery } from './pg.js';
import { LOCAL_NAMESPACE, type LocalState, readState, StatePaths, SUPERUSER, writeState } from './state.js';
import { localSnapshots } from './snapshot-bridge.js';

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
    return s.instances.map((i) => ({
      name: i.name,
      expectedRole: i.name === s.primary ? 'primary' : 'replica',
      running: instancePid(this.root, i.name) !== undefined,
      restarts: null,
      uri: this.uriFor(i.port),
    }));
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

  async backup(name: string | undefined, _out: Output): Promise<void> {
    await runAgentJson({
      args: ['backup', ...(name ? ['--name', name] : [])],
      env: this.jobEnv(),
      onLog: forwardLog,
    });
  }

  async verify(file: string | undefined, opts: { deep?: boolean; all?: boolean }, _out: Output) {
    return runAgentJson({
      args: [
        'verify',
        ...(file ? [file] : []),
        ...(opts.deep ? ['--deep'] : []),
        ...(opts.all ? ['--all'] : []),
      ],
      env: this.jobEnv(),
      onLog: forwardLog,
    });
  }

  async restore(req: RestoreRequest, _out: Output) {
    return runAgentJson({
      args: [
        'restore',
        req.file,
        '--replace',
        '--yes',
        ...(req.targetDatabase ? ['--target-database', req.targetDatabase] : []),
        ...(req.safetyBackup ? [] : ['--no-safety-backup']),
        ...(req.force ? ['--force'] : []),
      ],
      env: this.jobEnv(),
      onLog: forwardLog,
    });
  }

  async listSnapshots(): Promise<SnapshotEntry[]> {
    const snaps = await localSnapshots();
    if (!snaps) return [];
    return snaps.list(this.root);
  }

  async snapshot(name: string | undefined, out: Output): Promise<SnapshotEntry | undefined> {
    const snaps = await localSnapshots();
    if (!snaps)
      throw new OperationFailed(
        'E_NOT_AVAILABLE',
        'local snapshots are not available in this build',
        {},
        {
          hint: 'Take a backup instead: postgres-ops backup NAME',
        },
      );
    return snaps.create(this.root, name, out);
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
        ...asPostgres(),
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
