/**
 * ClusterApi over the local mode's plain processes: the same agent commands the chart's Jobs run,
 * as subprocesses with an environment pointing at the local instances.
 */
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { existsSync, lstatSync, readdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { z } from 'zod';
import { MATCHING_VERSIONS_HINT, parseJson } from '../core/agent-output.js';
import { backupListEntrySchema } from '../core/backup/manifest.js';
import { agentStatusSchema, type AgentStatus } from '../core/instance/status-document.js';
import { backupResultSchema, restoreResultSchema, verifyResultSchema } from '../core/backup/results.js';
import { promoteResultSchema } from '../core/ha/promote-result.js';
import { haView, type HaView } from '../core/ha/view.js';
import { join } from 'node:path';
import { diskUsage, type DiskUsage } from '../core/disk-usage.js';
import { OperationFailed, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { databaseScope } from '../core/backup/databases.js';
import { loadAgentConfig } from '../core/config/load.js';
import { toUri, withDatabase } from '../core/pg/conninfo.js';
import { isRemoteUrl } from '../core/sync/url.js';
import type {
  BackupEntry,
  BackupRequest,
  ClusterApi,
  DatabaseScope,
  Member,
  MigrateRequest,
  PromoteOptions,
  PromoteOutcome,
  RestoreRequest,
  Row,
  SnapshotEntry,
  VolumeUsage,
  PhysicalBackupRequest,
  PhysicalBackupResult,
  PhysicalInfo,
  PitrRestoreRequest,
  PitrRestoreOutcome,
  PitrUndoOutcome,
  DrillResult,
} from '../core/cluster/cluster-api.js';
import {
  localDrill,
  localPhysicalBackup,
  localPhysicalInfo,
  localRestorePointInTime,
  localUndoRestore,
  reopenOnOwnTimeline,
} from './pitr.js';
import { pitrEnabled } from './pitr-env.js';
import {
  agentBackupArgs,
  agentPromoteArgs,
  agentRestoreArgs,
  agentVerifyArgs,
} from '../core/cluster/agent-args.js';
import { baseEnv, runAgentJson } from './agent.js';
import { findLocalDataLoss } from './data-loss.js';
import { ensureEtcd, forgetCluster } from './etcd.js';
import { ensureExporter, localDown, localUp, recordRoles } from './lifecycle.js';
import { findLeader, instanceEnv, readCluster, scopeOfState } from './members.js';
import { postmasterPid } from './processes.js';
import { requirePgBinDir } from './state-dir.js';
import { localMigrate } from './migrate.js';
import { localObjectStoreEnv } from './objectstore-env.js';
import { pruneAfterBackup } from './retention.js';
import { listLocalSnapshots, restoreLocalSnapshot } from './snapshots.js';
import { withStateLock } from './lock.js';
import { localQuery } from './pg.js';
import { LOCAL_NAMESPACE, type LocalState, readState, StatePaths, SUPERUSER } from './state.js';
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
    const view = await this.ha();
    const leader = view?.leader ?? s.primary;
    return Promise.all(
      s.instances.map(async (i) => {
        // Running means a postmaster runs, whatever happened to the agent or Patroni above it.
        const running = postmasterPid(this.paths.dataDir(i.name)) !== undefined;
        // The agent says why it is not ready (full disk, re-cloning, ...).
        const health = await agentStatus(i.healthPort);
        const patroni = view?.members.find((m) => m.name === i.name);
        return {
          name: i.name,
          expectedRole: i.name === leader ? 'primary' : 'replica',
          running,
          restarts: null,
          uri: this.uriFor(i.port),
          note:
            health === 'unreadable'
              ? `its postgres-agent answers /status in a shape this postgres-ops does not read (${MATCHING_VERSIONS_HINT})`
              : health && !health.ready && health.reason
                ? health.reason
                : !health
                  ? 'its postgres-agent is not running'
                  : patroni && patroni.patroniState !== 'running'
                    ? `Patroni: ${patroni.patroniState}`
                    : null,
        } satisfies Member;
      }),
    );
  }

  async ha(): Promise<HaView | null> {
    const s = this.state();
    const r = await readCluster(this.root, s);
    return r ? haView(r.cluster, r.config, s.failover) : null;
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
      let usage: DiskUsage | undefined;
      try {
        usage = diskUsage(statfsSync(dir));
      } catch {
        /* not created yet */
      }
      return {
        name: dir,
        member,
        dataBytes: dirBytes(dir),
        capacityBytes: usage?.capacityBytes ?? null,
        usedBytes: usage?.usedBytes ?? null,
        availableBytes: usage?.availableBytes ?? null,
        usedPercent: usage?.usedPercent ?? null,
      };
    });
  }

  async dataLoss() {
    return findLocalDataLoss(this.root);
  }

  /** The member that leads now, as Patroni says (the read-write Service on Kubernetes). */
  async leader() {
    const s = this.state();
    return (await findLeader(this.root, s)) ?? s.instances.find((i) => i.name === s.primary)!;
  }

  /** Environment of an agent job against the current primary (what the backup CronJob gets). */
  async jobEnv(): Promise<NodeJS.ProcessEnv> {
    const s = this.state();
    const primary = await this.leader();
    return baseEnv({
      HOME: this.paths.runDir,
      PGDATA: this.paths.dataDir(primary.name),
      PGOPS_PG_BIN_DIR: requirePgBinDir(),
      PGOPS_RELEASE: s.release,
      PGOPS_NAMESPACE: LOCAL_NAMESPACE,
      PGOPS_POD_NAME: primary.name,
      PGOPS_MODE: 'local',
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

  async databases(): Promise<DatabaseScope> {
    return databaseScope(loadAgentConfig(await this.jobEnv()));
  }

  async listBackups(): Promise<BackupEntry[]> {
    return runAgentJson({ args: ['list-backups'], env: await this.jobEnv() }, z.array(backupListEntrySchema));
  }

  async backup(name: string | undefined, out: Output, req: BackupRequest = {}): Promise<void> {
    await runAgentJson(
      {
        args: agentBackupArgs(name, req),
        env: await this.jobEnv(),
        // Agent progress goes to stderr as it happens, so stdout stays one result.
        onLog: (s) => out.raw(s),
        // Ctrl-C reaches the agent too: wait for it to clean up and report, instead of leaving it.
        forwardSignals: true,
      },
      backupResultSchema,
    );
    // As the chart's backup Job does after its backup: retention.
    await pruneAfterBackup(await this.jobEnv(), out);
  }

  async verify(file: string | undefined, opts: { deep?: boolean; all?: boolean }, out: Output) {
    return runAgentJson(
      { args: agentVerifyArgs(file, opts), env: await this.jobEnv(), onLog: (s) => out.raw(s) },
      z.array(verifyResultSchema),
    );
  }

  preflightRestore(file: string): void {
    if (isRemoteUrl(file)) localObjectStoreEnv(this.root);
  }

  async restore(req: RestoreRequest, out: Output) {
    return runAgentJson(
      {
        args: agentRestoreArgs(req),
        // A URL needs the object store's settings: the operator's environment or objectstore.env.
        env: { ...(await this.jobEnv()), ...localObjectStoreEnv(this.root) },
        onLog: (s) => out.raw(s),
      },
      restoreResultSchema,
    );
  }

  async migrate(req: MigrateRequest, out: Output) {
    return localMigrate(await this.jobEnv(), req, (s) => out.raw(s));
  }

  async listSnapshots(): Promise<SnapshotEntry[]> {
    return listSnapshotEntries(this.root);
  }

  async snapshot(name: string | undefined, out: Output): Promise<SnapshotEntry | undefined> {
    const s = this.state();
    const primary = await this.leader();
    if (!postmasterPid(this.paths.dataDir(primary.name)))
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
    if (pitrEnabled(s)) await reopenOnOwnTimeline(this, this.paths.dataDir(s.primary), out);
    // Patroni keeps the old cluster's identifier in etcd and would refuse the restored directory.
    await ensureEtcd(this.root, s, out);
    await forgetCluster(s, scopeOfState(s));
    await localUp(this.root, { release: s.release }, out);
    return { snapshot: name, keptAside };
  }

  async physicalBackup(req: PhysicalBackupRequest, out: Output): Promise<PhysicalBackupResult> {
    return localPhysicalBackup(this, req, out);
  }

  async physicalInfo(): Promise<PhysicalInfo | null> {
    return localPhysicalInfo(this);
  }

  async restorePointInTime(req: PitrRestoreRequest, out: Output): Promise<PitrRestoreOutcome> {
    return withStateLock(this.root, 'restore (point in time)', () => localRestorePointInTime(this, req, out));
  }

  async undoRestore(out: Output): Promise<PitrUndoOutcome> {
    return withStateLock(this.root, 'restore --undo', () => localUndoRestore(this, out));
  }

  async drill(out: Output): Promise<DrillResult> {
    return localDrill(this, out);
  }

  async connect(member: Member, database: string): Promise<number> {
    const psql = join(requirePgBinDir(), 'psql');
    return new Promise((resolve, reject) => {
      const child = spawn(psql, [withDatabase(member.uri, database)], {
        stdio: 'inherit',
        env: { ...process.env },
      });
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? 1));
    });
  }

  async promote(candidate: string, opts: PromoteOptions, out: Output): Promise<PromoteOutcome> {
    if (opts.plan) return this.promoteLocked(candidate, opts, out);
    return withStateLock(this.root, `promote ${candidate}`, () => this.promoteLocked(candidate, opts, out));
  }

  /** Runs `postgres-agent promote` as the candidate member would (its environment, its fence). */
  private async promoteLocked(candidate: string, opts: PromoteOptions, out: Output): Promise<PromoteOutcome> {
    const binDir = requirePgBinDir();
    const state = this.state();
    const target = this.instance(candidate);
    const r = await runAgentJson(
      {
        args: agentPromoteArgs(target.name, opts),
        env: instanceEnv(this.root, state, target, binDir),
        onLog: (s) => out.raw(s),
      },
      promoteResultSchema,
    );
    const steps: string[] = [];
    if (r.promoted) {
      steps.push(
        `${r.action} from ${r.previousPrimary ?? '(no primary)'} to ${target.name} (timeline ${r.timeline ?? '?'})`,
      );
      recordRoles(this.root, state, target);
      await ensureExporter(this.root, state, out);
      steps.push('the exporter follows the new primary');
    }
    return {
      promoted: target.name,
      previousPrimary: r.previousPrimary,
      timeline: r.timeline,
      lsn: r.lsn,
      steps,
      next:
        r.promoted && r.previousPrimary
          ? [
              `postgres-ops status     # ${r.previousPrimary} rejoins as a replica of ${target.name} by itself`,
            ]
          : ['postgres-ops status'],
      action: r.action,
      missingBytes: r.missingBytes,
      warnings: r.warnings,
      message: r.message,
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

/**
 * The agent's own `/status` (role, phase, ready, reason); undefined when it does not answer,
 * `unreadable` when it answers in another shape (an agent of another version still running).
 */
function agentStatus(port: number): Promise<AgentStatus | 'unreadable' | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/status', timeout: 1500 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        const text = parseJson(body);
        resolve(text === undefined ? undefined : (agentStatusSchema.safeParse(text).data ?? 'unreadable'));
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}
