/**
 * A point-in-time recovery target, and the two choices made before anything is touched: which
 * backup to start from and which timeline holds the target. Pure.
 *
 * Timelines: PostgreSQL would follow the newest timeline by default, so after a promotion (or an
 * earlier restore) a target from before it could silently replay the new timeline's history. Here a
 * timeline is taken to begin at its first timestamped record (the END_OF_RECOVERY record a promotion
 * writes, or the first commit), read from the archive; a time target belongs to the newest timeline
 * of the newest lineage that had begun by then, and the restore pins it explicitly.
 */
import { SafetyRefusal, UsageError } from '../errors.js';
import { parseLsn } from '../pg/wal.js';
import { restorableFrom, type PhysicalBackup } from './info.js';

export type RecoveryTarget =
  { kind: 'time'; at: Date; iso: string } | { kind: 'lsn'; lsn: string } | { kind: 'latest' };

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * `--time`: an ISO 8601 date and time ("2026-11-30 14:03", "2026-11-30T14:03:00Z",
 * "2026-11-30 14:03:00+01:00"). Without an offset it is this machine's local time (TZ); the
 * command says which instant it understood before asking.
 */
export function parseTime(text: string): Date {
  const m = TIME_RE.exec(text.trim());
  const bad = () =>
    new UsageError(
      'E_BAD_TARGET',
      `--time "${text}" is not a date and time; nothing was changed`,
      { time: text },
      {
        hint: 'Example: postgres-ops restore --time "2026-11-30 14:02:00+00:00" (ISO 8601; UTC with Z or +00:00)',
      },
    );
  if (!m) throw bad();
  const [, y, mo, d, h, mi, s = '0', frac = '', zone] = m;
  const ms = frac ? Math.round(Number(frac) * 1000) : 0;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms] as const;
  let date: Date;
  let offsetMin = 0;
  if (!zone) date = new Date(...parts);
  else {
    if (!/^(Z|UTC)$/i.test(zone)) {
      const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
      offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
    }
    date = new Date(Date.UTC(...parts) - offsetMin * 60_000);
  }
  // Date silently turns February 31st into March 3rd: refuse what does not read back the same.
  const shifted = new Date(date.getTime() + offsetMin * 60_000);
  const back = zone
    ? [
        shifted.getUTCFullYear(),
        shifted.getUTCMonth(),
        shifted.getUTCDate(),
        shifted.getUTCHours(),
        shifted.getUTCMinutes(),
      ]
    : [date.getFullYear(), date.getMonth(), date.getDate(), date.getHours(), date.getMinutes()];
  if (Number.isNaN(date.getTime()) || back.some((v, i) => v !== parts[i]) || Number(s) > 59) throw bad();
  return date;
}

export function parseTarget(flags: TargetFlags): RecoveryTarget {
  const given = [flags.time !== undefined, flags.lsn !== undefined, flags.latest === true].filter(
    Boolean,
  ).length;
  if (given !== 1)
    throw new UsageError(
      'E_USAGE',
      given === 0
        ? 'a point-in-time restore needs one of --time, --lsn or --latest'
        : 'give only one of --time, --lsn and --latest',
      {},
      { hint: 'Example: postgres-ops restore --time "2026-11-30 14:02:00+00:00"' },
    );
  if (flags.latest) return { kind: 'latest' };
  if (flags.lsn !== undefined) {
    if (parseLsn(flags.lsn) === null)
      throw new UsageError(
        'E_BAD_TARGET',
        `--lsn "${flags.lsn}" is not a WAL position; nothing was changed`,
        { lsn: flags.lsn },
        { hint: 'An LSN looks like 0/3000060 (SELECT pg_current_wal_lsn() prints one).' },
      );
    return { kind: 'lsn', lsn: flags.lsn.toUpperCase() };
  }
  const at = parseTime(flags.time!);
  return { kind: 'time', at, iso: at.toISOString() };
}

export interface TargetFlags {
  time?: string;
  lsn?: string;
  latest?: boolean;
}

/** The flags that name `t` again (parseTarget's input): for a request another process carries out. */
export function targetFlags(t: RecoveryTarget): TargetFlags {
  return t.kind === 'time' ? { time: t.iso } : t.kind === 'lsn' ? { lsn: t.lsn } : { latest: true };
}

/** `t` as postgres-agent pitr-restore arguments. */
export function targetArgs(t: RecoveryTarget): string[] {
  return t.kind === 'time' ? ['--time', t.iso] : t.kind === 'lsn' ? ['--lsn', t.lsn] : ['--latest'];
}

export function describeTarget(t: RecoveryTarget): string {
  return t.kind === 'time' ? t.iso : t.kind === 'lsn' ? `LSN ${t.lsn}` : 'the latest archived commit';
}

export function lsnLE(a: string, b: string): boolean {
  return parseLsn(a)! <= parseLsn(b)!;
}

/** One line of a timeline history file: the parent timeline and where this one branched from it. */
export interface TimelineSwitch {
  timeline: number;
  parent: number;
  switchLsn: string;
}

/** `0000000N.history`: "parentTLI<TAB>switchpoint<TAB>reason" per ancestor. */
export function parseHistoryFile(timeline: number, text: string): TimelineSwitch[] {
  const rows: { parent: number; lsn: string }[] = [];
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#')) continue;
    const m = /^(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(l);
    if (m) rows.push({ parent: Number(m[1]), lsn: m[2]!.toUpperCase() });
  }
  // Row i says: timeline rows[i].parent ended at rows[i].lsn, where its child began.
  return rows.map((r, i) => ({
    timeline: rows[i + 1]?.parent ?? timeline,
    parent: r.parent,
    switchLsn: r.lsn,
  }));
}

/** Timelines from `latest` back to 1, with the switch that started each (undefined for the first). */
export function lineage(
  latest: number,
  switches: TimelineSwitch[],
): { timeline: number; from?: TimelineSwitch }[] {
  const byTl = new Map(switches.map((s) => [s.timeline, s]));
  const out: { timeline: number; from?: TimelineSwitch }[] = [];
  let tl: number | undefined = latest;
  const seen = new Set<number>();
  while (tl !== undefined && !seen.has(tl)) {
    seen.add(tl);
    const from = byTl.get(tl);
    out.push({ timeline: tl, from });
    tl = from?.parent;
  }
  return out;
}

/** WAL segment file name holding an LSN (16 MiB segments, PostgreSQL's default and ours). */
export function segmentOf(timeline: number, lsn: string, segmentBytes = 16 * 1024 * 1024): string {
  const pos = parseLsn(lsn)!;
  const segno = pos / BigInt(segmentBytes);
  const perId = BigInt(0x100000000) / BigInt(segmentBytes);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segno / perId)}${hex(segno % perId)}`;
}

/**
 * The first timestamp pg_waldump shows on a timeline (END_OF_RECOVERY of a promotion, or a commit
 * or abort), run with TZ=UTC.
 */
export function firstTimestamp(waldump: string): Date | undefined {
  for (const l of waldump.split('\n')) {
    const m =
      /desc: END_OF_RECOVERY .*time (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC/.exec(l) ??
      /desc: (?:COMMIT|ABORT) (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC/.exec(l);
    if (m) return new Date(`${m[1]!.replace(' ', 'T')}Z`);
  }
  return undefined;
}

export interface RestorePlan {
  backup: PhysicalBackup;
  /** The timeline that holds the target. */
  timeline: number;
  /** What `--target-timeline` gets: current when the target is on the backup's own timeline. */
  targetTimeline: string;
}

/**
 * Picks the timeline and the newest usable backup for a target.
 * @param latestTimeline newest timeline in the archive
 * @param starts when each timeline (above 1) began; undefined: it holds no timestamped record yet;
 *   null: none of its WAL reached the archive (a restored copy that never archived), so no recovery
 *   can follow it
 * @param liveTimeline the running primary's timeline, when one answers: the history to follow. A
 *   newer timeline in the archive that is not its ancestor was abandoned (a restore interrupted
 *   after its copy archived its timeline) and never holds the target.
 */
export function planRestore(
  target: RecoveryTarget,
  backups: PhysicalBackup[],
  latestTimeline: number,
  switches: TimelineSwitch[],
  starts: Map<number, Date | undefined | null>,
  liveTimeline?: number,
): RestorePlan {
  const line = lineage(liveTimeline ?? latestTimeline, switches);
  const followable = (l: (typeof line)[number]) => !l.from || starts.get(l.timeline) !== null;
  let idx = line.findIndex(followable);
  if (target.kind === 'time') {
    idx = line.findIndex((l) => {
      if (!l.from) return true;
      const s = starts.get(l.timeline);
      return s !== null && (s === undefined || s.getTime() <= target.at.getTime());
    });
  } else if (target.kind === 'lsn') {
    idx = line.findIndex((l) => !l.from || (followable(l) && lsnLE(l.from.switchLsn, target.lsn)));
  }
  if (idx < 0) idx = line.length - 1;
  const chosen = line[idx]!;
  const ancestry = line.slice(idx);
  // Where the chosen lineage leaves each ancestor timeline: a backup on it must stop before that.
  const leaves = new Map<number, string>();
  for (let i = idx; i < line.length - 1; i++) leaves.set(line[i + 1]!.timeline, line[i]!.from!.switchLsn);
  const candidates = backups.filter((b) => {
    if (b.error || !ancestry.some((a) => a.timeline === b.timeline)) return false;
    const leave = leaves.get(b.timeline);
    if (leave && !lsnLE(b.stopLsn, leave)) return false;
    if (target.kind === 'time') return new Date(restorableFrom(b)).getTime() <= target.at.getTime();
    if (target.kind === 'lsn') return lsnLE(b.stopLsn, target.lsn);
    return true;
  });
  const backup = candidates.sort((a, b) => (a.stoppedAt < b.stoppedAt ? 1 : -1))[0];
  if (!backup) {
    const oldest = backups.filter((b) => !b.error).sort((a, b) => (a.stoppedAt < b.stoppedAt ? -1 : 1))[0];
    throw new SafetyRefusal(
      'E_TARGET_BEFORE_WINDOW',
      oldest
        ? `${describeTarget(target)} is before the recoverability window, which starts at ${restorableFrom(oldest)} (just after the end of the oldest physical backup, ${oldest.label}); nothing was changed`
        : 'there is no physical backup to restore from; nothing was changed',
      { target: describeTarget(target), earliest: oldest ? restorableFrom(oldest) : null },
      {
        hint: oldest
          ? `Choose a time from ${restorableFrom(oldest)} on (postgres-ops list-backups shows every physical backup); older data is only in the logical backups: postgres-ops restore NAME`
          : 'Take one: postgres-ops backup --physical --type full',
      },
    );
  }
  return {
    backup,
    timeline: chosen.timeline,
    targetTimeline: chosen.timeline === backup.timeline ? 'current' : String(chosen.timeline),
  };
}
