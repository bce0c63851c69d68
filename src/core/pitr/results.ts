/**
 * What the agent's point-in-time commands print with `-o json` (physical-backup, physical-info,
 * pitr-restore, drill) and how a person reads them. postgres-ops reads the same objects back from
 * the agent (local mode, the repository pod), so field names are a contract: add, never rename.
 */
import { formatBytes, formatDuration, renderTable } from '../output.js';
import type { PhysicalBackup, PhysicalListEntry, PhysicalType, RepoState } from './info.js';

export interface RepoOutcome {
  repo: string;
  status: 'success' | 'failure';
  backup: PhysicalBackup | null;
  error: string | null;
  durationSeconds: number;
}

export interface PhysicalBackupResult {
  type: PhysicalType;
  outcomes: RepoOutcome[];
  recoverability: Record<string, string | null>;
  expired: string[];
}

export interface PhysicalInfo {
  stanza: string;
  status: { code: number; message: string };
  repos: RepoState[];
  backups: PhysicalListEntry[];
  /** Per repository, the stop time of its oldest backup (the window's start). */
  earliest: Record<string, string | null>;
  /** The earliest moment any repository can restore to. */
  windowStart: string | null;
}

export interface PitrRestoreResult {
  target: string;
  backup: string;
  backupStoppedAt: string;
  timeline: number;
  targetTimeline: string;
  /** The cluster answered: WAL was switched and archived first. */
  live: boolean;
  dir: string | null;
  recoveredTo: string | null;
  recoveredLsn: string | null;
  newTimeline: number | null;
  seconds: number | null;
}

/** `pitr-restore --reopen DIR`: the directory and the timeline it now runs on. */
export interface ReopenResult {
  dir: string;
  timeline: number | null;
}

export interface DrillChecks {
  indexes: { checked: number; heapallindexed: number; failed: { index: string; error: string }[] };
  tables: {
    compared: number;
    mismatched: { table: string; source: number; copy: number }[];
    note: string | null;
  };
}

export interface DrillResult {
  status: 'success' | 'failure';
  startedAt: string;
  finishedAt: string;
  backupLabel: string | null;
  recoveredTo: string | null;
  recoveredLsn: string | null;
  recoverySeconds: number | null;
  checks: DrillChecks | null;
  error: string | null;
  recorded: boolean;
}

/** Each repository's outcome, the window and what retention removed. */
export function renderPhysicalBackup(r: PhysicalBackupResult): string {
  return [
    renderTable(
      ['REPO', 'STATUS', 'LABEL', 'SIZE', 'DURATION'],
      r.outcomes.map((o) => [
        o.repo,
        o.status,
        o.backup?.label ?? '-',
        o.backup ? formatBytes(o.backup.repoSizeBytes) : '-',
        formatDuration(o.durationSeconds),
      ]),
    ),
    '',
    `recoverable from: ${
      Object.entries(r.recoverability)
        .map(([repo, at]) => `${repo} ${at ?? '-'}`)
        .join(', ') || '-'
    }`,
    ...(r.expired.length ? [`expired (retention): ${r.expired.join(', ')}`] : []),
  ].join('\n');
}

export function renderPhysicalInfo(r: PhysicalInfo): string {
  return r.backups.length === 0
    ? `No physical backups (${r.status.message}).`
    : renderTable(
        ['LABEL', 'TYPE', 'REPO', 'STOPPED', 'SIZE', 'TIMELINE'],
        r.backups.map((b) => [
          b.name,
          b.type,
          b.repo,
          b.createdAt,
          formatBytes(b.sizeBytes),
          String(b.timeline),
        ]),
      );
}

export function renderPitrRestore(r: PitrRestoreResult): string {
  return [
    `target:   ${r.target}`,
    `backup:   ${r.backup} (stopped ${r.backupStoppedAt})`,
    `timeline: ${r.timeline} (--target-timeline=${r.targetTimeline})`,
    ...(r.dir
      ? [`restored: ${r.dir}, recovered to ${r.recoveredTo ?? '?'} in ${r.seconds?.toFixed(1)} s`]
      : []),
  ].join('\n');
}

export function renderReopen(r: ReopenResult): string {
  return `reopened ${r.dir} on timeline ${r.timeline}`;
}

export function renderDrill(r: DrillResult): string {
  const c = r.checks;
  return [
    `drill ${r.status === 'success' ? 'passed' : 'FAILED'}: backup ${r.backupLabel ?? '-'}, recovered to ${r.recoveredTo ?? '-'} in ${r.recoverySeconds?.toFixed(1) ?? '-'} s`,
    ...(c
      ? [
          `  indexes checked with amcheck: ${c.indexes.checked} (${c.indexes.heapallindexed} with heapallindexed), failed: ${c.indexes.failed.length}`,
          `  tables compared with the source: ${c.tables.compared}, differing: ${c.tables.mismatched.length}${c.tables.note ? ` (${c.tables.note})` : ''}`,
        ]
      : []),
    ...(r.error ? [`  error: ${r.error}`] : []),
  ].join('\n');
}
