/**
 * Everything a point-in-time restore checks before it touches anything: the target against the
 * window (the oldest backup's stop time) and the present, the archive brought up to date when the
 * cluster still runs (a commit, a WAL switch, and a wait until that segment is archived), and the
 * timeline that holds the target, read from the history files and WAL in the archive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { OperationFailed, SafetyRefusal } from '../../core/errors.js';
import type { StanzaInfo } from '../../core/pitr/info.js';
import {
  describeTarget,
  firstTimestamp,
  lineage,
  parseHistoryFile,
  planRestore,
  segmentOf,
  type RecoveryTarget,
  type RestorePlan,
  type TimelineSwitch,
} from '../../core/pitr/target.js';
import { timelineOfWalFile, parseLsn } from '../../core/pg/wal.js';
import { readFileSync } from 'node:fs';
import { exec } from '../exec.js';
import type { Logger } from '../log.js';
import { archiveGet, pgbackrestInfoEach, repoLs, type PgbackrestRunner } from './pgbackrest.js';

/** Clock skew allowed between this machine and the database before a target counts as future. */
const FUTURE_SLACK_MS = 5_000;

/**
 * On a running cluster: refuses a target in the future, then makes sure the archive holds
 * everything up to now (a commit stamped now, so a time target has a commit after it; a WAL switch;
 * the switched segment archived). Returns false when no primary answered (total loss: the archive
 * is what there is).
 */
export async function bringArchiveUpToDate(
  c: pg.Client | undefined,
  target: RecoveryTarget,
  log: Logger,
  timeoutMs = 180_000,
): Promise<boolean> {
  if (!c) {
    if (target.kind === 'time' && target.at.getTime() > Date.now() + FUTURE_SLACK_MS)
      throw futureTarget(target);
    return false;
  }
  const now = (
    await c.query<{ now: Date; lsn: string }>(
      'SELECT clock_timestamp() AS now, pg_current_wal_insert_lsn()::text AS lsn',
    )
  ).rows[0]!;
  if (target.kind === 'time' && target.at.getTime() > new Date(now.now).getTime() + FUTURE_SLACK_MS)
    throw futureTarget(target);
  if (target.kind === 'lsn' && parseLsn(target.lsn)! > parseLsn(now.lsn)!)
    throw new SafetyRefusal(
      'E_TARGET_IN_FUTURE',
      `LSN ${target.lsn} has not been written yet (the primary is at ${now.lsn}); nothing was changed`,
      { target: target.lsn, current: now.lsn },
      { hint: 'Give an LSN up to the current one, or --latest.' },
    );
  // A transaction with an xid writes a commit record stamped now: recovery to a time stops at the
  // first commit after it, and the archive must hold one.
  await c.query('SELECT txid_current()');
  const sw = (await c.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal')).rows[0]!.wal;
  log.info(`switched WAL; waiting until ${sw} is archived`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = (
      await c.query<{
        last: string | null;
        failed: string | null;
        failed_at: Date | null;
        archived_at: Date | null;
      }>(
        'SELECT last_archived_wal AS last, last_failed_wal AS failed, last_failed_time AS failed_at, last_archived_time AS archived_at FROM pg_stat_archiver',
      )
    ).rows[0]!;
    if (a.last && a.last >= sw) return true;
    if (Date.now() > deadline)
      throw new OperationFailed(
        'E_ARCHIVE_BEHIND',
        `WAL segment ${sw} was not archived within ${timeoutMs / 1000} s (last archived: ${a.last ?? 'none'}; last failure: ${a.failed ?? 'none'}): the archive does not reach ${describeTarget(target)}; nothing was changed`,
        { segment: sw, lastArchived: a.last, lastFailed: a.failed },
        {
          hint: "See why archiving fails: postgres-ops status (archive), the primary's log; fix it and run the restore again.",
        },
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

function futureTarget(target: RecoveryTarget & { kind: 'time' }) {
  return new SafetyRefusal(
    'E_TARGET_IN_FUTURE',
    `${target.iso} is in the future; nothing was changed`,
    { target: target.iso },
    { hint: 'Give a time in the past, or --latest for everything archived.' },
  );
}

export interface Timelines {
  latest: number;
  switches: TimelineSwitch[];
  starts: Map<number, Date | undefined | null>;
}

/** The timelines in the archive, how they branched, and (for time targets) when each began. */
export async function readTimelines(
  runner: PgbackrestRunner,
  info: StanzaInfo,
  binDir: string,
): Promise<Timelines> {
  const repo = info.repos.find((r) => r.code === 0) ?? info.repos[0];
  const repoNo = repo ? Number(repo.repo.replace('repo', '')) : 1;
  const archiveId = repo?.archiveIds.at(-1);
  let latest = repo?.archiveMax ? timelineOfWalFile(repo.archiveMax) : 1;
  for (const b of info.backups) latest = Math.max(latest, b.timeline);
  if (archiveId) {
    const names = await repoLs(runner, `archive/${runner.stanza}/${archiveId}`, repoNo).catch(() => []);
    for (const n of names) {
      const m = /^([0-9A-F]{8})\.history$/.exec(n);
      if (m) latest = Math.max(latest, parseInt(m[1]!, 16));
    }
  }
  const work = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'pgops-timelines-'));
  try {
    let switches: TimelineSwitch[] = [];
    if (latest > 1) {
      const name = `${latest.toString(16).toUpperCase().padStart(8, '0')}.history`;
      if (await archiveGet(runner, name, join(work, name)))
        switches = parseHistoryFile(latest, readFileSync(join(work, name), 'utf8'));
    }
    const starts = new Map<number, Date | undefined | null>();
    for (const l of lineage(latest, switches))
      if (l.from)
        starts.set(l.timeline, await timelineStart(runner, binDir, work, l.timeline, l.from.switchLsn));
    return { latest, switches, starts };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The first timestamped record of a timeline, from its first segments in the archive (null: none archived). */
async function timelineStart(
  runner: PgbackrestRunner,
  binDir: string,
  work: string,
  timeline: number,
  switchLsn: string,
): Promise<Date | undefined | null> {
  let lsn = switchLsn;
  for (let i = 0; i < 3; i++) {
    const seg = segmentOf(timeline, lsn);
    if (!(await archiveGet(runner, seg, join(work, seg)))) return i === 0 ? null : undefined;
    const r = await exec(join(binDir, 'pg_waldump'), ['-p', work, '-t', String(timeline), '-s', lsn], {
      env: { ...process.env, TZ: 'UTC' },
      timeoutMs: 60_000,
    });
    const at = firstTimestamp(r.stdout);
    if (at) return at;
    // On to the next segment.
    const next = (parseLsn(lsn)! / 16777216n + 1n) * 16777216n;
    lsn = `${(next >> 32n).toString(16).toUpperCase()}/${(next & 0xffffffffn).toString(16).toUpperCase()}`;
  }
  return undefined;
}

export interface CheckedPlan extends RestorePlan {
  info: StanzaInfo;
  latestTimeline: number;
}

/** Reads the repositories and the archive and decides; throws (exit 3) when the target is out of reach. */
export async function planPointInTime(
  runner: PgbackrestRunner,
  target: RecoveryTarget,
  binDir: string,
  repos: number[],
  liveTimeline?: number,
): Promise<CheckedPlan> {
  const info = await pgbackrestInfoEach(runner, repos);
  const tl = await readTimelines(runner, info, binDir);
  const plan = planRestore(target, info.backups, tl.latest, tl.switches, tl.starts, liveTimeline);
  return { ...plan, info, latestTimeline: tl.latest };
}

export function scratchDir(base: string, prefix: string): string {
  return mkdtempSync(join(base, prefix));
}

/** The timeline a running primary writes on (the history a restore or drill follows). */
export async function liveTimelineOf(c: pg.Client | undefined): Promise<number | undefined> {
  if (!c) return undefined;
  const r = await c
    .query<{ tl: number }>(
      "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::int AS tl",
    )
    .catch(() => undefined);
  return r?.rows[0]?.tl;
}
