/**
 * Progress of long operations (backup, restore, snapshot wait) as one human line, and when to
 * print it. Pure: the runtime reporter (src/runtime/progress.ts) feeds it counts and a clock.
 */
import { formatBytes, formatDuration } from './output.js';

export type ProgressMode = 'tty' | 'log' | 'off';

/** Default seconds between lines: a rewritten terminal line ~4 times a second, log lines every 5 s. */
export const DEFAULT_INTERVAL_MS: Record<ProgressMode, number> = { tty: 250, log: 5000, off: 0 };

/** `PGOPS_PROGRESS`: auto, tty, log or off, optionally `:SECONDS` (log:60 = a line a minute). */
export const PROGRESS_SETTING_RE = /^(auto|tty|log|off)(:(\d+(\.\d+)?|\.\d+))?$/;

export interface ProgressSetting {
  mode: 'auto' | ProgressMode;
  /** Set only when the setting names an interval. */
  intervalMs?: number;
}

export function parseProgressSetting(value: string): ProgressSetting {
  const m = PROGRESS_SETTING_RE.exec(value.trim());
  if (!m) return { mode: 'auto' };
  const mode = m[1] as ProgressSetting['mode'];
  return m[3] === undefined ? { mode } : { mode, intervalMs: Math.round(Number(m[3]) * 1000) };
}

/** auto: a rewritten line when a person watches stderr with text logs, plain log lines otherwise. */
export function resolveProgressMode(
  setting: ProgressSetting,
  stderrIsTty: boolean,
  logFormat: 'json' | 'text',
): { mode: ProgressMode; intervalMs: number } {
  const mode: ProgressMode =
    setting.mode === 'auto' ? (stderrIsTty && logFormat === 'text' ? 'tty' : 'log') : setting.mode;
  return { mode, intervalMs: setting.intervalMs ?? DEFAULT_INTERVAL_MS[mode] };
}

export interface ProgressSample {
  /** Bytes or items done so far. */
  done: number;
  /** Known total (same unit as done); absent when unknown. */
  total?: number;
  elapsedMs: number;
  /** What the item currently being worked on is (restore: the TOC entry). */
  current?: string;
}

export interface ProgressSpec {
  /** "backup backup_20261125_020000", "restore app". */
  label: string;
  unit: 'bytes' | 'items' | 'wait';
  /** bytes: "written", "read"; items: "items"; wait: "waiting for readyToUse". */
  verb: string;
  /** Extra context shown after the count, e.g. "database 12.0 GiB on disk". */
  note?: string;
}

/** Rate of bytes per second, or undefined before there is anything to divide. */
function rate(done: number, elapsedMs: number): number | undefined {
  return elapsedMs > 0 && done > 0 ? done / (elapsedMs / 1000) : undefined;
}

/** Seconds left at the average rate so far; undefined when it cannot be told. */
export function etaSeconds(s: ProgressSample): number | undefined {
  if (s.total === undefined || s.done <= 0 || s.done >= s.total || s.elapsedMs <= 0) return undefined;
  return ((s.total - s.done) * s.elapsedMs) / s.done / 1000;
}

/** Percent done, held at 99 until the work is finished (a count can overshoot an estimate). */
export function percent(done: number, total: number, finished = false): number {
  if (finished) return 100;
  if (total <= 0) return 0;
  return Math.min(99, Math.floor((done / total) * 100));
}

/**
 * One line, e.g. `backup b1: 1.2 GiB written, 48.1 MiB/s, 25s` or
 * `restore app: 120/450 items (26%), 12s, processing data for table "public.t"`. Items differ
 * wildly in size (one table's data may be most of the hours), so only bytes get an ETA.
 */
export function formatProgress(spec: ProgressSpec, s: ProgressSample, finished = false): string {
  const elapsed = formatDuration(s.elapsedMs / 1000);
  const parts: string[] = [];
  const fmt = spec.unit === 'bytes' ? formatBytes : (n: number) => String(n);
  if (spec.unit === 'wait') {
    parts.push(`${spec.verb}, ${elapsed}${finished ? ' (done)' : ''}`);
  } else {
    const total = s.total !== undefined && s.total > 0 ? s.total : undefined;
    const count =
      total !== undefined
        ? `${fmt(finished ? total : Math.min(s.done, total))}/${fmt(total)} ${spec.verb} (${percent(s.done, total, finished)}%)`
        : `${fmt(s.done)} ${spec.verb}`;
    parts.push(`${count}${spec.note ? ` (${spec.note})` : ''}`);
    if (spec.unit === 'bytes') {
      const r = rate(s.done, s.elapsedMs);
      if (r !== undefined) parts.push(`${formatBytes(r)}/s`);
    }
    parts.push(elapsed);
    const eta = finished || spec.unit !== 'bytes' ? undefined : etaSeconds({ ...s, total });
    if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  }
  if (s.current && !finished) parts.push(s.current);
  return `${spec.label}: ${parts.join(', ')}`;
}

/**
 * When to print: at most once per interval. `leading` prints at the first chance (a terminal line
 * appears at once); otherwise the first line comes one interval after the start (log lines: a
 * short operation logs only its start and end).
 */
export class Throttle {
  private last: number;
  constructor(
    readonly intervalMs: number,
    start: number,
    leading: boolean,
  ) {
    this.last = leading ? -Infinity : start;
  }

  /** True (and the clock restarts) when a line is due at `now`. */
  due(now: number): boolean {
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}
