/**
 * What the point-in-time recovery commands print with `-o json` (`physical-backup`,
 * `physical-info`, `drill`, `pitr-restore`) and how a person reads them: the agent's results are
 * typed by these schemas and postgres-ops reads them back with them (local mode: a subprocess;
 * Kubernetes: the repository pod), so field names are a contract: add, never rename.
 */
import { z } from 'zod';
import type { PitrRestoreOutcome } from '../cluster/cluster-api.js';
import { formatBytes, formatDuration, renderTable } from '../output.js';

export const physicalTypeSchema = z.enum(['full', 'diff', 'incr']);

const physicalBackupSchema = z.object({
  label: z.string(),
  type: physicalTypeSchema,
  repo: z.string(),
  startedAt: z.string(),
  stoppedAt: z.string(),
  startLsn: z.string(),
  stopLsn: z.string(),
  timeline: z.number(),
  /** Database size backed up. */
  sizeBytes: z.number(),
  /** Size in the repository (compressed). */
  repoSizeBytes: z.number(),
  /** Label of the backup this one depends on (diff, incr). */
  prior: z.string().nullable(),
  /** `--annotation name=...`: the name a person gave it. */
  name: z.string().nullable(),
  /** pgBackRest found no error in it (page checksums, copies). */
  error: z.boolean(),
  /** WAL segments from the backup's start to its stop. */
  walStart: z.string(),
  walStop: z.string(),
});

const repoStateSchema = z.object({
  repo: z.string(),
  /** 0 ok; 2 no valid backup; others: pgBackRest's message. */
  code: z.number(),
  message: z.string(),
  archiveMin: z.string().nullable(),
  archiveMax: z.string().nullable(),
  /** Archive ids ("15-1"): the folders under archive/<stanza>/ holding WAL and history files. */
  archiveIds: z.array(z.string()),
});

/** A physical backup as `list-backups -o json` lists it, beside the logical ones (same fields, and more). */
const physicalListEntrySchema = z.object({
  kind: z.literal('physical'),
  name: z.string(),
  file: z.string(),
  sizeBytes: z.number(),
  createdAt: z.string(),
  sha256: z.null(),
  verified: z.boolean(),
  verifiedAt: z.null(),
  deepVerifiedAt: z.null(),
  database: z.null(),
  type: physicalTypeSchema,
  repo: z.string(),
  startLsn: z.string(),
  stopLsn: z.string(),
  timeline: z.number(),
  /** The name given with `backup NAME --physical` (pgBackRest annotation), if any. */
  annotation: z.string().nullable(),
});

const repoOutcomeSchema = z.object({
  repo: z.string(),
  status: z.enum(['success', 'failure']),
  backup: physicalBackupSchema.nullable(),
  error: z.string().nullable(),
  durationSeconds: z.number(),
});

/** `postgres-agent physical-backup -o json`. */
export const physicalBackupResultSchema = z.object({
  type: physicalTypeSchema,
  outcomes: z.array(repoOutcomeSchema),
  recoverability: z.record(z.string(), z.string().nullable()),
  expired: z.array(z.string()),
});

/** `postgres-agent physical-info -o json`. */
export const physicalInfoSchema = z.object({
  stanza: z.string(),
  status: z.object({ code: z.number(), message: z.string() }),
  repos: z.array(repoStateSchema),
  backups: z.array(physicalListEntrySchema),
  /** Per repository, the stop time of its oldest backup (the window's start). */
  earliest: z.record(z.string(), z.string().nullable()),
  /** The earliest moment any repository can restore to. */
  windowStart: z.string().nullable(),
});

const drillChecksSchema = z.object({
  indexes: z.object({
    checked: z.number(),
    heapallindexed: z.number(),
    failed: z.array(z.object({ index: z.string(), error: z.string() })),
  }),
  tables: z.object({
    compared: z.number(),
    mismatched: z.array(z.object({ table: z.string(), source: z.number(), copy: z.number() })),
    note: z.string().nullable(),
  }),
});

/** `postgres-agent drill -o json`. */
export const drillResultSchema = z.object({
  status: z.enum(['success', 'failure']),
  startedAt: z.string(),
  finishedAt: z.string(),
  backupLabel: z.string().nullable(),
  recoveredTo: z.string().nullable(),
  recoveredLsn: z.string().nullable(),
  recoverySeconds: z.number().nullable(),
  checks: drillChecksSchema.nullable(),
  error: z.string().nullable(),
  recorded: z.boolean(),
});

/** `postgres-agent pitr-restore -o json`. */
export const pitrRestoreResultSchema = z.object({
  target: z.string(),
  backup: z.string(),
  backupStoppedAt: z.string(),
  timeline: z.number(),
  targetTimeline: z.string(),
  /** The cluster answered: WAL was switched and archived first. */
  live: z.boolean(),
  dir: z.string().nullable(),
  recoveredTo: z.string().nullable(),
  recoveredLsn: z.string().nullable(),
  newTimeline: z.number().nullable(),
  seconds: z.number().nullable(),
});

export type PhysicalType = z.output<typeof physicalTypeSchema>;
export type PhysicalBackup = z.output<typeof physicalBackupSchema>;
export type RepoState = z.output<typeof repoStateSchema>;
export type PhysicalListEntry = z.output<typeof physicalListEntrySchema>;
export type RepoOutcome = z.output<typeof repoOutcomeSchema>;
export type PhysicalBackupResult = z.output<typeof physicalBackupResultSchema>;
export type PhysicalInfo = z.output<typeof physicalInfoSchema>;
export type DrillChecks = z.output<typeof drillChecksSchema>;
export type DrillResult = z.output<typeof drillResultSchema>;
export type PitrRestoreResult = z.output<typeof pitrRestoreResultSchema>;

/** `postgres-agent pitr-restore --reopen DIR -o json`. */
export const pitrReopenResultSchema = z.object({ dir: z.string(), timeline: z.number().nullable() });

export type PitrReopenResult = z.output<typeof pitrReopenResultSchema>;

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

export function renderReopen(r: PitrReopenResult): string {
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

/** The warning when the full backup after a restore fails: the restore stands, its window does not yet. */
export function fullBackupFailed(err: unknown): string {
  return `the full backup after the restore failed: ${(err as Error).message}; take one now: postgres-ops backup --physical --type full`;
}

/** A whole-cluster point-in-time restore, for a person: what was reached, kept, and what to type next. */
export function renderPitrOutcome(r: PitrRestoreOutcome): string {
  return [
    `restored the cluster to ${r.target}: last transaction replayed ${r.recoveredTo ?? '-'} (backup ${r.backup}, timeline ${r.timeline}; now on timeline ${r.newTimeline ?? '?'})`,
    r.fullBackup
      ? `full backup of the new timeline: ${r.fullBackup}`
      : 'NO full backup of the new timeline yet: take one now (postgres-ops backup --physical --type full)',
    ...r.keptAside.map((d) => `previous data kept in ${d}`),
    ...r.warnings.map((w) => `! ${w}`),
    '',
    'Next:',
    ...r.next.map((n) => `  ${n}`),
  ].join('\n');
}
