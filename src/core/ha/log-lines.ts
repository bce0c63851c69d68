/**
 * What the agent reads in the log lines Patroni and PostgreSQL print (both go through the agent):
 * a level for structured logs, and the few events it acts on. Pure, so the patterns are pinned by
 * unit tests against real lines.
 */
export type LineSource = 'patroni' | 'postgres';
export type LineLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ClassifiedLine {
  source: LineSource;
  level: LineLevel;
  /** The primary removed WAL this replica still needs (slot invalidated or never had one). */
  lostWalSegment?: string;
  /** A write failed for lack of space. */
  noSpace?: boolean;
  /**
   * This replica replayed WAL the leader's timeline does not have (after an asynchronous failover,
   * from the old primary's archived WAL): it can never follow the leader as it is.
   */
  diverged?: boolean;
}

// Patroni: "2026-11-30 11:42:35,354 INFO: no action. I am (m1), ..."
const PATRONI_RE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL):/;
// PostgreSQL (log_line_prefix '%m [%p] '): "2026-11-30 11:42:39.320 UTC [12636] FATAL:  ..."
const PG_LEVEL_RE = /\b(DEBUG\d?|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|CONTEXT|STATEMENT):\s/;

const PG_LEVELS: Record<string, LineLevel> = {
  LOG: 'info',
  INFO: 'info',
  NOTICE: 'info',
  DETAIL: 'info',
  HINT: 'info',
  CONTEXT: 'info',
  STATEMENT: 'info',
  WARNING: 'warn',
  ERROR: 'error',
  FATAL: 'error',
  PANIC: 'error',
};

export function classifyLine(line: string): ClassifiedLine {
  const p = PATRONI_RE.exec(line);
  let out: ClassifiedLine;
  if (p) {
    const lvl = p[1]!;
    out = {
      source: 'patroni',
      level: lvl === 'DEBUG' ? 'debug' : lvl === 'INFO' ? 'info' : lvl === 'WARNING' ? 'warn' : 'error',
    };
  } else {
    const m = PG_LEVEL_RE.exec(line);
    const lvl = m?.[1] ?? 'LOG';
    out = { source: 'postgres', level: lvl.startsWith('DEBUG') ? 'debug' : (PG_LEVELS[lvl] ?? 'info') };
  }
  const lost = /requested WAL segment ([0-9A-F]{24}) has already been removed/.exec(line);
  if (lost) out.lostWalSegment = lost[1];
  if (/No space left on device|could not extend file|Check free disk space/i.test(line)) out.noSpace = true;
  if (
    /forked off current database system timeline \d+ before current recovery point/.test(line) ||
    /could not start WAL streaming: ERROR:\s+requested starting point \S+ on timeline \d+ is not in this server's history/.test(
      line,
    )
  )
    out.diverged = true;
  return out;
}
