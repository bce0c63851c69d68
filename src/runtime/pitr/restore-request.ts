/**
 * What a member does, before PostgreSQL starts, for a whole-cluster restore request
 * (src/core/pitr/cluster-restore.ts): member 0 restores into a new directory beside its data and
 * swaps it in, keeping the old one aside; the others move their data aside so Patroni re-clones
 * them from the restored leader. A marker on the volume makes every step safe to repeat after a
 * kill. A failed restore leaves the data where it was and says so in the request: the member then
 * starts on its old data, and the cluster comes back as it was.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  asideDir,
  memberAction,
  restoringDir,
  volumeMarkerSchema,
  type ClusterRestoreRequest,
  type VolumeMarker,
} from '../../core/pitr/cluster-restore.js';
import type { PitrRestoreResult } from '../../core/pitr/results.js';
import { parseTarget } from '../../core/pitr/target.js';
import { spoolPath, type PitrJobContext } from './config.js';
import { restoreToPointInTime } from './restore.js';

export interface RequestSource {
  read(): Promise<ClusterRestoreRequest | undefined>;
  update(
    change: (r: ClusterRestoreRequest) => ClusterRestoreRequest,
  ): Promise<ClusterRestoreRequest | undefined>;
  /** Forgets the old cluster's leader and history in Patroni's store (member 0, once restored). */
  forgetCluster(): Promise<void>;
}

export interface RestoreRequestOutcome {
  action: string;
  request: string | null;
  detail: string;
}

/** Beside the data directory, named after it (local members share a parent folder). */
const markerPath = (pgdata: string) => `${pgdata}.pgops-restore.json`;

function readMarker(pgdata: string): VolumeMarker | undefined {
  try {
    return volumeMarkerSchema.parse(JSON.parse(readFileSync(markerPath(pgdata), 'utf8')));
  } catch {
    return undefined;
  }
}

function writeMarker(pgdata: string, m: VolumeMarker): void {
  const tmp = `${markerPath(pgdata)}.tmp`;
  writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, markerPath(pgdata));
}

/** Changes the request `id` (a newer request is left alone). */
function record(
  source: RequestSource,
  id: string,
  change: (r: ClusterRestoreRequest) => ClusterRestoreRequest,
): Promise<unknown> {
  return source.update((cur) => (cur.id === id ? change(cur) : cur));
}

/**
 * Moves the data directory aside (once: a repeat finds it there) and drops the archive spool, whose
 * status files speak of the old history. Returns where the data went, or null when there was none.
 */
function putAside(ctx: PitrJobContext, id: string): string | null {
  const pgdata = ctx.config.instance.dataDir;
  const aside = asideDir(pgdata, id);
  if (existsSync(pgdata) && !existsSync(aside)) renameSync(pgdata, aside);
  rmSync(spoolPath(ctx.config), { recursive: true, force: true });
  return existsSync(aside) ? aside : null;
}

export async function applyRestoreRequest(
  pod: string,
  source: RequestSource,
  ctx: PitrJobContext,
  pollMs = 5_000,
): Promise<RestoreRequestOutcome> {
  const pgdata = ctx.config.instance.dataDir;
  for (let waited = 0; ; waited++) {
    const req = await source.read();
    const action = memberAction(pod, req, readMarker(pgdata));
    if (action.kind === 'none') return { action: 'none', request: req?.id ?? null, detail: action.why };
    const r = req!;
    if (action.kind === 'wait') {
      if (waited % 12 === 0) ctx.log.info(`waiting for ${r.first} to restore ${r.target} (restore ${r.id})`);
      await new Promise((res) => setTimeout(res, pollMs));
      continue;
    }
    if (action.kind === 'move-aside') return moveAside(pod, r, ctx, source);
    if (action.kind === 'finish-switch') return finishSwitch(pod, r, ctx, source);
    return restoreHere(pod, r, action.cleanPartial, ctx, source);
  }
}

async function moveAside(
  pod: string,
  r: ClusterRestoreRequest,
  ctx: PitrJobContext,
  source: RequestSource,
): Promise<RestoreRequestOutcome> {
  const aside = putAside(ctx, r.id);
  writeMarker(ctx.config.instance.dataDir, { id: r.id, phase: 'done' });
  if (aside) await record(source, r.id, (cur) => ({ ...cur, keptAside: { ...cur.keptAside, [pod]: aside } }));
  const detail = aside
    ? `previous data kept in ${aside}; this member re-clones from the restored leader`
    : 'no previous data here; this member clones from the restored leader';
  ctx.log.info(`${pod}: ${detail}`);
  return { action: 'moved-aside', request: r.id, detail };
}

async function restoreHere(
  pod: string,
  r: ClusterRestoreRequest,
  cleanPartial: boolean,
  ctx: PitrJobContext,
  source: RequestSource,
): Promise<RestoreRequestOutcome> {
  const pgdata = ctx.config.instance.dataDir;
  const newDir = restoringDir(pgdata, r.id);
  if (cleanPartial || existsSync(newDir)) {
    ctx.log.info(`removing the partial copy an interrupted restore left in ${newDir}`);
    rmSync(newDir, { recursive: true, force: true });
    rmSync(`${newDir}.work`, { recursive: true, force: true });
  }
  writeMarker(pgdata, { id: r.id, phase: 'recovering' });
  ctx.log.info(`${pod}: restoring ${r.target} into ${newDir} (restore ${r.id})`);
  let result: PitrRestoreResult;
  try {
    result = await restoreToPointInTime({ target: parseTarget(r.targetFlags), into: newDir }, ctx);
  } catch (err) {
    rmSync(markerPath(pgdata), { force: true });
    const e = err as Error & { hint?: string };
    const error = `${e.message}${e.hint ? ` (${e.hint})` : ''}`;
    ctx.log.error(`${pod}: the restore failed: ${error}; starting on the data as it was`);
    await record(source, r.id, (cur) => ({ ...cur, phase: 'failed', error }));
    return { action: 'failed', request: r.id, detail: error };
  }
  writeMarker(pgdata, { id: r.id, phase: 'switching', result });
  return finishSwitch(pod, r, ctx, source);
}

async function finishSwitch(
  pod: string,
  r: ClusterRestoreRequest,
  ctx: PitrJobContext,
  source: RequestSource,
): Promise<RestoreRequestOutcome> {
  const pgdata = ctx.config.instance.dataDir;
  const m = readMarker(pgdata)!;
  const newDir = restoringDir(pgdata, r.id);
  // Only with the restored copy at hand does the data go aside (a repeat finds it moved already).
  const aside = existsSync(join(newDir, 'PG_VERSION')) ? putAside(ctx, r.id) : asideOrNull(pgdata, r.id);
  if (!existsSync(pgdata) && existsSync(newDir)) renameSync(newDir, pgdata);
  // Before the marker says done: a kill here repeats the switch (a no-op) and this.
  await source.forgetCluster();
  writeMarker(pgdata, { ...m, phase: 'done' });
  await record(source, r.id, (cur) => ({
    ...cur,
    phase: cur.phase === 'requested' ? 'restored' : cur.phase,
    result: m.result ?? cur.result,
    keptAside: aside ? { ...cur.keptAside, [pod]: aside } : cur.keptAside,
  }));
  const detail = `restored to ${m.result?.recoveredTo ?? r.target}${aside ? `; previous data kept in ${aside}` : ''}`;
  ctx.log.info(`${pod}: ${detail}`);
  return { action: 'restored', request: r.id, detail };
}

function asideOrNull(pgdata: string, id: string): string | null {
  const aside = asideDir(pgdata, id);
  return existsSync(aside) ? aside : null;
}
