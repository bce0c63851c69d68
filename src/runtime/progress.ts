/**
 * Progress reporting for long operations. On a terminal one line is rewritten in place (`\r`) and
 * ended with a newline when done; otherwise a plain log line goes through the agent's logger at a
 * throttled interval (JSON lines in pods). Lines carry names, counts and times only, never secrets.
 */
import type { AgentConfig } from '../core/config/schema.js';
import {
  formatProgress,
  parseProgressSetting,
  resolveProgressMode,
  Throttle,
  type ProgressMode,
  type ProgressSample,
  type ProgressSpec,
} from '../core/progress.js';
import type { Terminal } from '../core/output.js';
import type { Logger } from './log.js';
import { stderrTerminal } from './output-host.js';

export interface ProgressOptions {
  mode: ProgressMode;
  intervalMs: number;
  log: Logger;
  /** Terminal output (default: the output host's stderr). */
  write?: (text: string) => void;
  /** Terminal width; longer lines are cut so `\r` can rewrite them. */
  columns?: number;
  /** Milliseconds clock (default Date.now; the snapshot wait passes its own). */
  now?: () => number;
}

/** From PGOPS_PROGRESS and PGOPS_LOG_FORMAT; the terminal check is on this process's stderr. */
export function progressOptions(
  agent: Pick<AgentConfig['agent'], 'progress' | 'logFormat'>,
  log: Logger,
  stream: Terminal = stderrTerminal,
): ProgressOptions {
  const { mode, intervalMs } = resolveProgressMode(
    parseProgressSetting(agent.progress),
    !!stream.isTTY,
    agent.logFormat,
  );
  return {
    mode,
    intervalMs,
    log,
    write: (t) => stream.write(t),
    columns: stream.columns,
  };
}

export interface ProgressReporter {
  /** New count (and, when known later, the total or the current item); prints when due. */
  update(done: number, extra?: { total?: number; current?: string }): void;
  /** Success: on a terminal the final line and a newline; in logs nothing (the caller logs completion). */
  finish(done?: number): void;
  /** Failure: on a terminal end the open line so the error starts on its own line. */
  abort(): void;
}

const NOOP: ProgressReporter = { update() {}, finish() {}, abort() {} };

export function startProgress(
  spec: ProgressSpec,
  opts: ProgressOptions | undefined,
  total?: number,
): ProgressReporter {
  if (!opts || opts.mode === 'off') return NOOP;
  const now = opts.now ?? Date.now;
  const write = opts.write ?? ((t: string) => stderrTerminal.write(t));
  const started = now();
  const tty = opts.mode === 'tty';
  const throttle = new Throttle(opts.intervalMs, started, tty);
  const sample: ProgressSample = { done: 0, total, elapsedMs: 0 };
  let open = false;
  let ended = false;
  const fit = (line: string) =>
    opts.columns && opts.columns > 10 && line.length >= opts.columns
      ? `${line.slice(0, opts.columns - 2)}…`
      : line;
  const emit = (finished: boolean) => {
    const line = formatProgress(spec, sample, finished);
    if (tty) {
      write(`\r${fit(line)}\x1b[K${finished ? '\n' : ''}`);
      open = !finished;
    } else {
      const key = spec.unit === 'wait' ? 'waitedSeconds' : spec.unit;
      opts.log.info(line, {
        [key]: spec.unit === 'wait' ? Math.round(sample.elapsedMs / 1000) : sample.done,
        ...(sample.total !== undefined ? { total: sample.total } : {}),
        elapsedSeconds: Math.round(sample.elapsedMs / 100) / 10,
      });
    }
  };
  return {
    update(done, extra) {
      if (ended) return;
      sample.done = done;
      if (extra?.total !== undefined) sample.total = extra.total;
      if (extra?.current !== undefined) sample.current = extra.current;
      const t = now();
      sample.elapsedMs = t - started;
      if (throttle.due(t)) emit(false);
    },
    finish(done) {
      if (ended) return;
      ended = true;
      if (done !== undefined) sample.done = done;
      sample.elapsedMs = now() - started;
      // A wait that never showed a line ends silently; counts always show their final line.
      if (tty && (open || spec.unit !== 'wait')) emit(true);
    },
    abort() {
      if (ended) return;
      ended = true;
      if (tty && open) write('\n');
    },
  };
}

/**
 * Samples `read()` every tick into the reporter (a file's size while a tool writes it); returns a
 * stop function. The timer does not keep the process alive.
 */
export function pollProgress(
  reporter: ProgressReporter,
  opts: ProgressOptions | undefined,
  read: () => number | undefined,
): () => void {
  if (!opts || opts.mode === 'off') return () => undefined;
  const tick = () => {
    const v = read();
    if (v !== undefined) reporter.update(v);
  };
  const timer = setInterval(tick, Math.max(20, Math.min(opts.intervalMs, 1000)));
  timer.unref();
  return () => clearInterval(timer);
}
