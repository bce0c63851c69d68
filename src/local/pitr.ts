/**
 * Local mode's physical backups, drills and point-in-time restores. Jobs run `postgres-agent` as the
 * postgres OS user against the current leader, repo1 being a folder of the state directory.
 *
 * A point-in-time restore never works in place: the agent restores and recovers a new directory
 * while the cluster still runs; only then are the members stopped, every data directory moved aside
 * (`<dir>.before-restore-<stamp>`), the recovered one put in place for the first member, Patroni's
 * record of the old cluster cleared, and the members started (the others clone). A journal
 * (restore.json) makes a killed restore resumable: before the switch the old cluster is untouched
 * and the partial copy is removed; during the switch the next run completes it.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { restoreJournalSchema, type RestoreJournal } from '../core/pitr/restore-journal.js';
import { describeTarget, targetArgs } from '../core/pitr/target.js';
import {
  drillResultSchema,
  fullBackupFailed,
  physicalBackupResultSchema,
  physicalInfoSchema,
  pitrReopenResultSchema,
  pitrRestoreResultSchema,
  type PitrRestoreResult,
} from '../core/pitr/results.js';
import type {
  DrillResult,
  PhysicalBackupRequest,
  PhysicalBackupResult,
  PhysicalInfo,
  PitrRestoreOutcome,
  PitrRestoreRequest,
  PitrUndoOutcome,
} from '../core/cluster/cluster-api.js';
import { baseEnv, runAgentJson } from './agent.js';
import type { LocalCluster } from './cluster.js';
import { ensureEtcd, forgetCluster } from './etcd.js';
import { localDown, localUp, recordRoles } from './lifecycle.js';
import { scopeOfState, stopInstance } from './members.js';
import { asPostgresEnv, pitrEnabled, pitrEnv } from './pitr-env.js';
import { postmasterPid, stopPid } from './processes.js';
import { type LocalState, StatePaths } from './state.js';

/** What a PITR job gets: the backup Job's environment, the settings, as the postgres OS user. */
export async function pitrJobEnv(c: LocalCluster): Promise<NodeJS.ProcessEnv> {
  const s = c.state();
  const leader = await c.leader();
  const env = { ...(await c.jobEnv()) };
  const extra = baseEnv({ ...pitrEnv(c.root, s), ...asPostgresEnv() });
  for (const k of ['PATH', 'TZ', 'LANG', 'LC_ALL', 'NODE_OPTIONS']) delete extra[k];
  // The leader's socket: pgBackRest reaches PostgreSQL there, as the postgres OS user.
  return { ...env, ...extra, PGOPS_SOCKET_DIR: c.paths.instanceRunDir(leader.name) };
}

/** A PITR job's environment when no leader need answer (a restore from the archive alone, a reopen). */
async function leaderlessJobEnv(c: LocalCluster): Promise<NodeJS.ProcessEnv> {
  return {
    ...(await c.jobEnv().catch(() => ({}))),
    ...baseEnv({ ...pitrEnv(c.root, c.state()), ...asPostgresEnv() }),
  };
}

function requireLocalPitr(c: LocalCluster, what: string) {
  if (!pitrEnabled(c.state()))
    throw new UsageError(
      'E_PITR_OFF',
      `${what} needs point-in-time recovery, which is off in ${c.paths.stateFile}`,
      {},
      {
        hint: 'Remove "pitr": {"enabled": false} from state.json and run postgres-ops local up.',
      },
    );
}

export async function localPhysicalBackup(
  c: LocalCluster,
  req: PhysicalBackupRequest,
  out: Output,
): Promise<PhysicalBackupResult> {
  requireLocalPitr(c, 'a physical backup');
  return runAgentJson(
    {
      args: ['physical-backup', '--type', req.type, ...(req.name ? ['--name', req.name] : [])],
      env: await pitrJobEnv(c),
      onLog: (s) => out.raw(s),
    },
    physicalBackupResultSchema,
  );
}

export async function localPhysicalInfo(c: LocalCluster): Promise<PhysicalInfo | null> {
  if (!pitrEnabled(c.state())) return null;
  return runAgentJson({ args: ['physical-info'], env: await pitrJobEnv(c) }, physicalInfoSchema);
}

export async function localDrill(c: LocalCluster, out: Output): Promise<DrillResult> {
  requireLocalPitr(c, 'a recovery drill');
  return runAgentJson(
    { args: ['drill'], env: await pitrJobEnv(c), onLog: (s) => out.raw(s) },
    drillResultSchema,
  );
}

// ------------------------------------------------------------------ point-in-time restore

type Journal = RestoreJournal;

const journalPath = (root: string) => join(new StatePaths(root).root, 'restore.json');

function readJournal(root: string): Journal | undefined {
  try {
    return restoreJournalSchema.parse(JSON.parse(readFileSync(journalPath(root), 'utf8')));
  } catch {
    return undefined;
  }
}

function writeJournal(root: string, j: Journal) {
  const tmp = `${journalPath(root)}.tmp`;
  writeFileSync(tmp, JSON.stringify(j, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, journalPath(root));
}

const spoolOf = (dir: string) => `${dir}.pgbackrest-spool`;

/** Stops a postmaster left on a directory (a killed restore's recovering copy). */
async function stopPostmasterOn(dir: string) {
  const pid = postmasterPid(dir);
  if (pid) await stopPid(pid, 30_000, 'SIGQUIT');
}

/**
 * Moves every data directory aside, the restored one into place; idempotent, so a rerun completes
 * it. Without a restored directory nothing is moved (what was moved goes back): members with empty
 * directories and no leader would start a new, empty cluster.
 */
function switchDirectories(j: Journal, dataDirOf: (name: string) => string) {
  const target = dataDirOf(j.first);
  const firstAside = j.moves.find((m) => m.dir === target)?.aside;
  // Either still beside the data, or already in place (the first member's own went aside before).
  const restored =
    existsSync(join(j.newDir, 'PG_VERSION')) ||
    (firstAside !== undefined && existsSync(firstAside) && existsSync(join(target, 'PG_VERSION')));
  if (!restored) {
    for (const m of j.moves) if (!existsSync(m.dir) && existsSync(m.aside)) renameSync(m.aside, m.dir);
    throw new OperationFailed(
      'E_RESTORED_COPY_MISSING',
      `the restored data directory ${j.newDir} is missing: the previous data directories were left (or put back) in place`,
      { newDir: j.newDir },
      { hint: 'Start the cluster as it was: postgres-ops local up; then run the restore again.' },
    );
  }
  for (const m of j.moves) if (existsSync(m.dir) && !existsSync(m.aside)) renameSync(m.dir, m.aside);
  for (const s of j.spools) rmSync(s, { recursive: true, force: true });
  if (existsSync(j.newDir) && !existsSync(target)) renameSync(j.newDir, target);
}

/**
 * What a restore killed earlier left, settled before anything else runs (local up, restore): the
 * old cluster (killed while recovering: the partial copy is removed) or the new one (killed while
 * switching: the switch is completed). Returns what happened, for the person.
 */
export async function resumeInterruptedRestore(
  root: string,
  state: LocalState,
  out: Output,
): Promise<string | null> {
  const j = readJournal(root);
  if (!j || j.phase === 'done' || j.phase === 'undone') return null;
  const p = new StatePaths(root);
  if (j.phase === 'recovering') {
    await stopPostmasterOn(j.newDir);
    rmSync(j.newDir, { recursive: true, force: true });
    rmSync(`${j.newDir}.work`, { recursive: true, force: true });
    rmSync(journalPath(root), { force: true });
    const msg = `the point-in-time restore to ${j.target} started at ${j.startedAt} was interrupted before it changed anything: the cluster is as it was; its partial copy was removed (run the restore again if you still want it)`;
    out.line(msg);
    return msg;
  }
  for (const i of state.instances) await stopInstance(root, i.name, out);
  switchDirectories(j, (n) => p.dataDir(n));
  await ensureEtcd(root, state, out);
  await forgetCluster(state, scopeOfState(state));
  recordRoles(root, state, state.instances.find((i) => i.name === j.first) ?? state.instances[0]!);
  writeJournal(root, { ...j, phase: 'done' });
  const msg = `the point-in-time restore to ${j.target} started at ${j.startedAt} was interrupted while putting the restored data in place; it has been completed. The previous data is kept in ${j.moves.map((m) => m.aside).join(', ')}`;
  out.line(msg);
  return msg;
}

const stampNow = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');

export async function localRestorePointInTime(
  c: LocalCluster,
  req: PitrRestoreRequest,
  out: Output,
): Promise<PitrRestoreOutcome> {
  requireLocalPitr(c, 'a point-in-time restore');
  const state = c.state();
  if (!req.dryRun) await resumeInterruptedRestore(c.root, state, out);
  const args = targetArgs(req.target);
  // No leader answers (every member lost): the archive is all there is.
  const env = await pitrJobEnv(c).catch(() => leaderlessJobEnv(c));
  const plan = await runAgentJson(
    {
      args: ['pitr-restore', '--plan', ...args],
      env,
      onLog: (s) => out.raw(s),
    },
    pitrRestoreResultSchema,
  );
  const first = state.primary;
  await req.confirm(
    `restore the whole cluster of release ${c.release} (local) to ${plan.target} from physical backup ${plan.backup} (timeline ${plan.timeline}): every member stops, every data directory is moved aside (kept, not deleted), ${first} adopts the restored data and the others clone it`,
  );
  const stamp = stampNow();
  const j: Journal = {
    phase: 'recovering',
    stamp,
    startedAt: new Date().toISOString(),
    target: describeTarget(req.target),
    first,
    newDir: `${c.paths.dataDir(first)}.restoring-${stamp}`,
    moves: state.instances.map((i) => ({
      dir: c.paths.dataDir(i.name),
      aside: `${c.paths.dataDir(i.name)}.before-restore-${stamp}`,
    })),
    spools: state.instances.map((i) => spoolOf(c.paths.dataDir(i.name))),
  };
  writeJournal(c.root, j);
  let result: PitrRestoreResult;
  try {
    result = await runAgentJson(
      {
        args: ['pitr-restore', ...args, '--into', j.newDir],
        env,
        onLog: (s) => out.raw(s),
      },
      pitrRestoreResultSchema,
    );
  } catch (err) {
    rmSync(journalPath(c.root), { force: true });
    throw err;
  }
  out.line(
    `recovered a copy to ${result.recoveredTo ?? result.target} in ${result.seconds?.toFixed(1)} s; stopping the members to put it in place`,
  );
  writeJournal(c.root, { ...j, phase: 'switching' });
  await localDown(c.root, out);
  switchDirectories(j, (n) => c.paths.dataDir(n));
  await ensureEtcd(c.root, state, out);
  await forgetCluster(state, scopeOfState(state));
  recordRoles(
    c.root,
    state,
    state.instances.find((i) => i.name === first)!,
  );
  writeJournal(c.root, { ...j, phase: 'done' });
  await localUp(c.root, { release: state.release }, out);
  const warnings: string[] = [];
  let fullBackup: string | null = null;
  out.line('taking a full physical backup of the new timeline (the recoverability window restarts there)…');
  try {
    const b = await localPhysicalBackup(c, { type: 'full' }, out);
    fullBackup = b.outcomes.find((o) => o.backup)?.backup?.label ?? null;
  } catch (err) {
    warnings.push(fullBackupFailed(err));
  }
  const keptAside = j.moves.filter((m) => existsSync(m.aside)).map((m) => m.aside);
  return {
    target: result.target,
    backup: result.backup,
    timeline: result.timeline,
    targetTimeline: result.targetTimeline,
    recoveredTo: result.recoveredTo,
    recoveredLsn: result.recoveredLsn,
    newTimeline: result.newTimeline,
    keptAside,
    fullBackup,
    next: [
      'postgres-ops status',
      `postgres-ops restore --undo     # go back to the data as it was before this restore`,
      ...keptAside.map((d) => `rm -rf ${d}     # when satisfied: drop the previous data`),
    ],
    warnings,
  };
}

/** Puts back the directories the last point-in-time restore kept aside (the restored ones are kept aside in turn). */
/**
 * Recovers a stopped data directory put back from elsewhere (an undone restore, a snapshot) outside
 * Patroni and promotes it onto a timeline above every one in the archive, its history archived.
 * Under Patroni it would start as a standby that reads the archive, follows newer timelines, and
 * stops at the first segment whose content differs from its own.
 */
export async function reopenOnOwnTimeline(c: LocalCluster, dir: string, out: Output): Promise<void> {
  await runAgentJson(
    {
      args: ['pitr-restore', '--reopen', dir],
      env: await leaderlessJobEnv(c),
      onLog: (s) => out.raw(s),
    },
    pitrReopenResultSchema,
  );
}

export async function localUndoRestore(c: LocalCluster, out: Output): Promise<PitrUndoOutcome> {
  const j = readJournal(c.root);
  if (!j || j.phase !== 'done' || !j.moves.some((m) => existsSync(m.aside)))
    throw new UsageError(
      'E_NOTHING_TO_UNDO',
      j?.phase === 'undone'
        ? 'the last point-in-time restore was already undone; nothing was changed'
        : 'no point-in-time restore to undo (or its previous data was dropped); nothing was changed',
      {},
      { hint: 'See the cluster: postgres-ops status' },
    );
  const state = c.state();
  await localDown(c.root, out);
  const stamp = stampNow();
  const keptAside: string[] = [];
  const restored: string[] = [];
  for (const m of j.moves) {
    if (!existsSync(m.aside)) continue;
    if (existsSync(m.dir)) {
      const now = `${m.dir}.after-restore-${stamp}`;
      renameSync(m.dir, now);
      keptAside.push(now);
    }
    renameSync(m.aside, m.dir);
    restored.push(m.dir);
  }
  for (const s of j.spools) rmSync(s, { recursive: true, force: true });
  // The restore's timelines are in the archive now: the data put back gets a timeline above them.
  const first = c.paths.dataDir(j.first);
  if (existsSync(join(first, 'PG_VERSION'))) await reopenOnOwnTimeline(c, first, out);
  await ensureEtcd(c.root, state, out);
  await forgetCluster(state, scopeOfState(state));
  writeJournal(c.root, { ...j, phase: 'undone' });
  await localUp(c.root, { release: state.release }, out);
  if (!restored.length) throw new OperationFailed('E_UNDO', 'nothing could be put back');
  return { restored, keptAside };
}
