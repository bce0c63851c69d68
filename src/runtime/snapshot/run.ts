/**
 * A volume snapshot as postgres-agent snapshot takes it: a VolumeSnapshot of the leading member's
 * data PVC (read from Patroni's leader record when the Job runs), cut while PostgreSQL is in backup
 * mode on that very member, waited on until readyToUse, then retention over our own snapshots of
 * the cluster only. The Kubernetes API, the clock and the session come in as dependencies.
 */
import pg from 'pg';
import type { AgentConfig } from '../../core/config/schema.js';
import { OperationFailed, UsageError, whileDoing } from '../../core/errors.js';
import { scopeOf } from '../../core/ha/patroni-config.js';
import { readSecret } from '../secrets.js';
import type { Output, OutputFormat } from '../../core/output.js';
import { toClientConfig } from '../../core/pg/conninfo.js';
import { backupStartSql, backupStopSql, TIMELINE_SQL } from '../../core/snapshot/backup-mode.js';
import { buildVolumeSnapshot } from '../../core/snapshot/build.js';
import { classifyKubeError } from '../../core/snapshot/errors.js';
import {
  ANNOTATION_MEMBER,
  checkSessionOnLeader,
  memberPvc,
  sameClusterPvc,
  type LeaderRecord,
} from '../../core/snapshot/leader.js';
import {
  ANNOTATION_CONSISTENCY,
  ANNOTATION_START_LSN,
  ANNOTATION_STARTED_AT,
  ANNOTATION_STOP_LSN,
  ANNOTATION_TIMELINE,
  ourSelector,
  type SnapshotApi,
  type VolumeSnapshot,
} from '../../core/snapshot/model.js';
import { defaultSnapshotName, validateSnapshotName } from '../../core/snapshot/naming.js';
import { planSnapshotRetention, type RetentionPlan } from '../../core/snapshot/retention.js';
import { type Clock, waitForSnapshot } from '../../core/snapshot/wait.js';
import type { Logger } from '../log.js';
import { progressOptions, startProgress } from '../progress.js';

export interface SnapshotOptions {
  name?: string;
  dryRun?: boolean;
  output?: OutputFormat;
}

/** A session on the primary holding non-exclusive backup mode. */
export interface BackupModeSession {
  /**
   * The server's own address for this connection (inet_server_addr) and whether it is a replica;
   * checked against the leader record when there is one.
   */
  server?(): Promise<{ address: string | null; inRecovery: boolean }>;
  start(label: string): Promise<{ startLsn: string; timeline: number }>;
  stop(): Promise<{ stopLsn: string }>;
  /** Ends the session; ends backup mode too if stop() was not reached. */
  close(): Promise<void>;
}

export interface SnapshotDeps {
  api: SnapshotApi;
  clock: Clock;
  now: () => Date;
  log: Logger;
  out: Output;
  openSession: () => Promise<BackupModeSession>;
  /**
   * Patroni's leader record (null: no member holds the lock). Without it (and without
   * PGOPS_SNAPSHOT_PVC) the first member's PVC is snapshotted.
   */
  leader?: () => Promise<LeaderRecord | null>;
  pollMs?: number;
}

export interface SnapshotResult {
  name: string;
  namespace: string;
  pvc: string;
  /** The member whose volume was cut (the leader when the snapshot started), when known. */
  member: string | null;
  snapshotClass: string | null;
  dryRun: boolean;
  readyToUse: boolean;
  restoreSize: string | null;
  createdAt: string | null;
  consistency: {
    mode: 'backup-mode';
    startLsn: string | null;
    stopLsn: string | null;
    timeline: number | null;
  };
  retention: {
    keepCount: number;
    kept: string[];
    deleted: string[];
    wouldDelete: string[];
    skipped: string[];
  };
}

/** What a snapshot reads of the settings. */
export type SnapshotSettings = Pick<
  AgentConfig,
  'snapshot' | 'agent' | 'ha' | 'connection' | 'instance' | 'roles'
>;

/** The data PVC of the first member, when neither PGOPS_SNAPSHOT_PVC nor a leader record says otherwise. */
export function snapshotPvc(config: SnapshotSettings): string {
  return config.snapshot.pvc ?? `postgres-storage-${config.agent.release}-postgres-0`;
}

/** Which volume to cut: a configured PVC, else the leader's from its record, else the first member's. */
async function snapshotTarget(
  config: SnapshotSettings,
  deps: SnapshotDeps,
): Promise<{ pvc: string; leader: LeaderRecord | null }> {
  if (config.snapshot.pvc || !deps.leader) return { pvc: snapshotPvc(config), leader: null };
  const scope = scopeOf(config);
  const leader = await deps.leader();
  if (!leader)
    throw new OperationFailed(
      'E_NO_LEADER',
      `no member holds the leader lock (Endpoints ${scope} name no leader); nothing was snapshotted`,
      { scope },
      {
        hint: `Check the cluster: postgres-ops status, or kubectl get endpoints ${scope} -o yaml. A snapshot needs a running leader.`,
      },
    );
  return { pvc: memberPvc(leader.member), leader };
}

function render(r: SnapshotResult): string {
  const lines: string[] = [];
  if (r.dryRun) {
    lines.push(
      `would create volumesnapshot/${r.name} of pvc/${r.pvc}${r.member ? ` (leader ${r.member})` : ''} in namespace ${r.namespace}` +
        (r.snapshotClass ? ` (class ${r.snapshotClass})` : ' (default class)'),
    );
    for (const n of r.retention.wouldDelete)
      lines.push(`would delete volumesnapshot/${n} (retention ${r.retention.keepCount})`);
    if (r.retention.wouldDelete.length === 0)
      lines.push(`nothing to delete (retention ${r.retention.keepCount})`);
    return lines.join('\n');
  }
  lines.push(
    `volumesnapshot/${r.name} of pvc/${r.pvc}${r.member ? ` (leader ${r.member})` : ''} ready (${r.restoreSize ?? 'size unknown'}, backup mode ${r.consistency.startLsn} .. ${r.consistency.stopLsn ?? '?'})`,
  );
  for (const n of r.retention.deleted)
    lines.push(`volumesnapshot/${n} deleted (retention ${r.retention.keepCount})`);
  return lines.join('\n');
}

function hypothetical(
  name: string,
  pvc: string,
  release: string,
  namespace: string,
  cls: string | undefined,
  at: Date,
): VolumeSnapshot {
  const s = buildVolumeSnapshot({ name, namespace, release, pvc, snapshotClass: cls });
  s.status = { readyToUse: true, creationTime: at.toISOString() };
  return s;
}

export async function runSnapshot(
  opts: SnapshotOptions,
  config: SnapshotSettings,
  deps: SnapshotDeps,
): Promise<SnapshotResult> {
  const { api, log } = deps;
  const release = config.agent.release;
  const namespace = api.namespace;
  const name =
    opts.name !== undefined ? validateSnapshotName(opts.name) : defaultSnapshotName(release, deps.now());
  const { pvc, leader } = await snapshotTarget(config, deps);
  // Retention counts the cluster's snapshots, whichever member's volume each was cut from.
  const samePvcGroup = leader ? sameClusterPvc(leader.member) : undefined;
  const keepCount = config.snapshot.retentionCount;
  const cls = config.snapshot.volumeSnapshotClass;
  const result: SnapshotResult = {
    name,
    namespace,
    pvc,
    member: leader?.member ?? null,
    snapshotClass: cls ?? null,
    dryRun: !!opts.dryRun,
    readyToUse: false,
    restoreSize: null,
    createdAt: null,
    consistency: { mode: 'backup-mode', startLsn: null, stopLsn: null, timeline: null },
    retention: { keepCount, kept: [], deleted: [], wouldDelete: [], skipped: [] },
  };
  const listOurs = async () => {
    try {
      return await api.list(ourSelector(release, samePvcGroup ? undefined : pvc));
    } catch (err) {
      throw classifyKubeError(err, `listing VolumeSnapshots of pvc/${pvc}`, { namespace });
    }
  };
  // The same choice for a dry run (with the snapshot it would take) and after a real one.
  const retention = { release, pvc, keepCount, justTaken: name, samePvcGroup };
  const applyPlan = (plan: RetentionPlan) => {
    result.retention.kept = plan.keep;
    result.retention.skipped = plan.skipped;
  };

  if (opts.dryRun) {
    const existing = await listOurs();
    if (existing.some((s) => s.metadata.name === name))
      throw new UsageError(
        'E_SNAPSHOT_EXISTS',
        `VolumeSnapshot ${name} already exists in namespace ${namespace}`,
        { name, namespace },
        { hint: 'Pick another name.' },
      );
    const plan = planSnapshotRetention(
      [...existing, hypothetical(name, pvc, release, namespace, cls, deps.now())],
      retention,
    );
    applyPlan(plan);
    result.retention.wouldDelete = plan.delete.map((d) => d.name);
    deps.out.result(result, opts.output ?? 'table', render);
    return result;
  }

  // A name clash is a usage error; find it before PostgreSQL is put into backup mode.
  let clash: VolumeSnapshot | null;
  try {
    clash = await api.get(name);
  } catch (err) {
    throw classifyKubeError(err, `checking whether VolumeSnapshot ${name} exists`, { namespace, name });
  }
  if (clash)
    throw new UsageError(
      'E_SNAPSHOT_EXISTS',
      `VolumeSnapshot ${name} already exists in namespace ${namespace}`,
      { name, namespace },
      {
        hint: `Pick another name, or look at it: kubectl get volumesnapshot ${name} -n ${namespace}`,
      },
    );

  // 1. Backup mode on the primary: checkpoint now, full-page writes until the cut.
  let session: BackupModeSession;
  try {
    session = await deps.openSession();
  } catch (err) {
    throw whileDoing(
      `connecting to the primary at ${config.connection.host}:${config.instance.port} before snapshot ${name}`,
      err,
    );
  }
  let stopped = false;
  try {
    if (leader && session.server) {
      const server = await session.server();
      checkSessionOnLeader(leader, server, { scope: scopeOf(config), host: config.connection.host });
      log.info('snapshotting the leader', { member: leader.member, pvc });
    }
    const started = await session.start(`snapshot ${name}`).catch((err: unknown) => {
      throw whileDoing(`starting backup mode for snapshot ${name}`, err);
    });
    result.consistency.startLsn = started.startLsn;
    result.consistency.timeline = started.timeline;
    log.info('backup mode started', { snapshot: name, startLsn: started.startLsn });

    // 2. Cut the snapshot.
    const body = buildVolumeSnapshot({
      name,
      namespace,
      release,
      pvc,
      snapshotClass: cls,
      annotations: {
        [ANNOTATION_CONSISTENCY]: 'backup-mode',
        [ANNOTATION_START_LSN]: started.startLsn,
        [ANNOTATION_TIMELINE]: String(started.timeline),
        [ANNOTATION_STARTED_AT]: deps.now().toISOString(),
        ...(leader ? { [ANNOTATION_MEMBER]: leader.member } : {}),
      },
    });
    try {
      await api.create(body);
    } catch (err) {
      throw classifyKubeError(err, `creating VolumeSnapshot ${name} of pvc/${pvc}`, { namespace, name });
    }
    log.info('volumesnapshot created', { snapshot: name, pvc, namespace });

    // 3. Hold backup mode until the storage has cut the snapshot (creationTime set, or ready).
    const deadlineMs = config.snapshot.timeoutSeconds * 1000;
    const t0 = deps.clock.now();
    const progressOpts = { ...progressOptions(config.agent, log), now: () => deps.clock.now() };
    const waiting = (what: string) => {
      const p = startProgress(
        { label: `snapshot ${name}`, unit: 'wait', verb: `waiting for ${what}` },
        progressOpts,
      );
      return { onPoll: (ms: number) => p.update(ms), done: p };
    };
    const cut = waiting('the storage to cut it (creationTime)');
    await waitForSnapshot(api, name, {
      timeoutMs: deadlineMs,
      pollMs: deps.pollMs,
      clock: deps.clock,
      until: (s) => s.status?.readyToUse === true || !!s.status?.creationTime,
      onPoll: cut.onPoll,
    }).then(
      () => cut.done.finish(),
      (err: unknown) => {
        cut.done.abort();
        throw err;
      },
    );
    const stop = await session.stop().catch((err: unknown) => {
      throw whileDoing(`ending backup mode after snapshot ${name} was cut`, err);
    });
    stopped = true;
    result.consistency.stopLsn = stop.stopLsn;
    log.info('backup mode stopped', { snapshot: name, stopLsn: stop.stopLsn });
    try {
      await api.annotate(name, { [ANNOTATION_STOP_LSN]: stop.stopLsn });
    } catch (err) {
      log.warn('could not record the stop LSN on the snapshot', { snapshot: name, error: String(err) });
    }

    // 4. Ready to use.
    const readying = waiting('readyToUse');
    const ready = await waitForSnapshot(api, name, {
      timeoutMs: Math.max(0, deadlineMs - (deps.clock.now() - t0)),
      pollMs: deps.pollMs,
      clock: deps.clock,
      onPoll: readying.onPoll,
    }).then(
      (s) => {
        readying.done.finish();
        return s;
      },
      (err: unknown) => {
        readying.done.abort();
        throw err;
      },
    );
    result.readyToUse = true;
    result.restoreSize = ready.status?.restoreSize ?? null;
    result.createdAt = ready.status?.creationTime ?? ready.metadata.creationTimestamp ?? null;
  } finally {
    if (!stopped)
      log.warn('snapshot did not complete; backup mode ends with the session', { snapshot: name });
    await session.close().catch(() => undefined);
  }

  // 5. Retention, only after a good snapshot, only over ours.
  const plan = planSnapshotRetention(await listOurs(), retention);
  applyPlan(plan);
  const failures: string[] = [];
  for (const d of plan.delete) {
    try {
      await api.delete(d.name);
      result.retention.deleted.push(d.name);
      log.info('volumesnapshot deleted', { snapshot: d.name, reason: d.reason });
    } catch (err) {
      const e = classifyKubeError(err, `deleting VolumeSnapshot ${d.name}`, { namespace, name: d.name });
      failures.push(e.message);
      log.error('could not delete old snapshot', { snapshot: d.name, error: e.message });
    }
  }
  deps.out.result(result, opts.output ?? 'table', render);
  if (failures.length > 0) {
    throw new OperationFailed(
      'E_SNAPSHOT_RETENTION',
      `snapshot ${name} is ready, but retention could not delete ${failures.length} old snapshot(s):\n${failures.join('\n')}`,
      { name, namespace },
      {
        hint: 'Check the Role allows delete on volumesnapshots; old snapshots keep using storage until removed.',
      },
    );
  }
  return result;
}

/** A real backup-mode session over node-postgres; the password goes to the driver, never into a string. */
export function pgBackupModeSession(config: SnapshotSettings): () => Promise<BackupModeSession> {
  return async () => {
    const client = new pg.Client(
      toClientConfig(
        {
          host: config.connection.host,
          port: config.instance.port,
          user: config.roles.superuser,
          database: 'postgres',
          params: { application_name: 'postgres-agent snapshot', sslmode: config.connection.sslmode },
        },
        readSecret(config, 'PGOPS_SUPERUSER_PASSWORD'),
      ),
    );
    await client.connect();
    const version = Number(
      (await client.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v")).rows[0]
        ?.v ?? 0,
    );
    return {
      async server() {
        const r = await client.query<{ addr: string | null; rec: boolean }>(
          'SELECT host(inet_server_addr()) AS addr, pg_is_in_recovery() AS rec',
        );
        return { address: r.rows[0]?.addr ?? null, inRecovery: r.rows[0]?.rec === true };
      },
      async start(label) {
        const lsn = (await client.query<{ lsn: string }>(backupStartSql(version), [label])).rows[0]!.lsn;
        const tl = (await client.query<{ timeline_id: number }>(TIMELINE_SQL)).rows[0]!.timeline_id;
        return { startLsn: lsn, timeline: Number(tl) };
      },
      async stop() {
        const lsn = (await client.query<{ lsn: string }>(backupStopSql(version))).rows[0]!.lsn;
        return { stopLsn: lsn };
      },
      close: () => client.end(),
    };
  };
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};
