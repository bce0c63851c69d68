/**
 * Where a command's output goes. Commands build one model and hand it here with a renderer, so
 * tests record what was printed (a recording host) instead of scraping stdout.
 */
export type OutputFormat = 'table' | 'json' | 'yaml';

/** json and yaml: a document for programs, so human lines go to stderr. */
export const isMachineFormat = (f: OutputFormat) => f !== 'table';

export interface Output {
  /** A human progress or log line (stderr in JSON and YAML mode, so stdout stays parseable). */
  line(text: string): void;
  /** The command's result: JSON or YAML (the same object) on stdout, or the renderer's text. */
  result<T>(data: T, format: OutputFormat, render: (data: T) => string): void;
  /** A child process's output (the agent's log lines, psql's notes) passed through to stderr as is. */
  raw(chunk: string): void;
}

/** A stream a person may be watching: on a terminal a progress line is rewritten in place. */
export interface Terminal {
  readonly isTTY: boolean;
  /** Width of the terminal, when it is one. */
  readonly columns: number | undefined;
  write(text: string): void;
}

/** What a destructive command asks before it acts. */
export interface ConfirmRequest {
  /** What will happen, e.g. "replace database pyairtable with backup nightly". */
  action: string;
  /** The command line to re-run with --yes. */
  retry: string;
  /** --yes was given: do not ask. */
  yes?: boolean;
}

/**
 * Everything a program prints goes through its host (src/runtime/output-host.ts is the one
 * module that writes to the process's streams): results, lines, a child's output, streamed
 * frames, progress lines, and the confirmation question.
 */
export interface OutputHost extends Output {
  /** stdout: a stream of frames (monitor), or text written as it comes. */
  readonly stdout: Terminal;
  /** stderr: progress lines (rewritten in place on a terminal), notes beside a child's terminal. */
  readonly stderr: Terminal;
  /** A person can answer a question: stdin and stderr are terminals. */
  isInteractive(): boolean;
  /** Asks on the terminal (the question on stderr); the answer as typed. */
  ask(question: string): Promise<string>;
  /**
   * Asks before a destructive act. `yes` skips it; without a terminal it is refused (exit 3)
   * saying what would have happened, so a script never destroys something because nobody was
   * there to read the question; any answer but "yes" is refused too.
   */
  confirm(req: ConfirmRequest): Promise<void>;
}

/** Aligned plain-text table with a header row, as kubectl prints. */
export function renderTable(
  headers: string[],
  rows: (string | number | boolean | null | undefined)[][],
): string {
  const cells = [
    headers,
    ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   '))
    .join('\n');
}

/** 1536 -> "1.5 KiB" */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Seconds -> "3h12m", "45s". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}
