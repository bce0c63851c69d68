/**
 * Where a command's output goes. Commands build one model and hand it here with a renderer, so
 * tests record what was printed (a recording host) instead of scraping stdout.
 */
export type OutputFormat = 'table' | 'json' | 'yaml';

/** json and yaml: a document for programs, so human lines go to stderr. */
export const isMachineFormat = (f: OutputFormat) => f !== 'table';

export interface Output {
  /** A human progress or log line (stderr in JSON mode, so stdout stays parseable). */
  line(text: string): void;
  /** The command's result: JSON or YAML (the same object) on stdout, or the renderer's text. */
  result<T>(data: T, format: OutputFormat, render: (data: T) => string): void;
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
