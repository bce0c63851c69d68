/**
 * What `pgbackrest info --output=json` says, as our model: the physical backups of each repository,
 * the archive's range, and the recoverability window (from the oldest backup's stop time). Pure.
 */
import { timelineOfWalFile } from '../pg/wal.js';
import { z } from 'zod';
import { describeIssues } from '../parse-issues.js';
import {
  type PhysicalBackup,
  type PhysicalListEntry,
  type PhysicalType,
  physicalTypeSchema,
  type RepoState,
} from './results.js';

export type { PhysicalType, PhysicalBackup, RepoState, PhysicalListEntry };

export interface StanzaInfo {
  stanza: string;
  code: number;
  message: string;
  repos: RepoState[];
  backups: PhysicalBackup[];
}

const statusSchema = z.looseObject({ code: z.number().optional(), message: z.string().optional() });

/** `pgbackrest info --output=json` (2.45), as far as we read it: one element per stanza. */
const rawInfoSchema = z.array(
  z.looseObject({
    name: z.string(),
    status: statusSchema.optional(),
    repo: z.array(z.looseObject({ key: z.number(), status: statusSchema.optional() })).optional(),
    archive: z
      .array(
        z.looseObject({
          id: z.string().optional(),
          database: z.looseObject({ 'repo-key': z.number().optional() }).optional(),
          min: z.string().nullish(),
          max: z.string().nullish(),
        }),
      )
      .optional(),
    backup: z
      .array(
        z.looseObject({
          label: z.string(),
          type: z.string(),
          annotation: z.record(z.string(), z.string()).optional(),
          archive: z.looseObject({ start: z.string().optional(), stop: z.string().optional() }).optional(),
          database: z.looseObject({ 'repo-key': z.number().optional() }).optional(),
          error: z.boolean().optional(),
          info: z
            .looseObject({
              size: z.number().optional(),
              repository: z
                .looseObject({ delta: z.number().optional(), size: z.number().optional() })
                .optional(),
            })
            .optional(),
          lsn: z.looseObject({ start: z.string().optional(), stop: z.string().optional() }).optional(),
          prior: z.string().nullish(),
          timestamp: z.looseObject({ start: z.number().optional(), stop: z.number().optional() }).optional(),
        }),
      )
      .optional(),
  }),
);

const iso = (epochSeconds: number | undefined) =>
  epochSeconds === undefined ? '' : new Date(epochSeconds * 1000).toISOString();

/** Parses `pgbackrest info --output=json` for one stanza (absent: an empty, not-yet-created one). */
export function parseInfo(json: string, stanza: string): StanzaInfo {
  const answer = rawInfoSchema.safeParse(JSON.parse(json));
  if (!answer.success)
    throw new Error(
      `pgbackrest info answered in an unexpected shape: ${describeIssues(answer.error, '(answer)')}`,
    );
  const parsed = answer.data;
  const raw = parsed.find((s) => s.name === stanza);
  if (!raw) return { stanza, code: 1, message: 'missing stanza', repos: [], backups: [] };
  const repos: RepoState[] = (raw.repo ?? []).map((r) => {
    const archives = (raw.archive ?? []).filter((a) => a.database?.['repo-key'] === r.key);
    const mins = archives.map((a) => a.min).filter((x): x is string => Boolean(x));
    const maxes = archives.map((a) => a.max).filter((x): x is string => Boolean(x));
    return {
      repo: `repo${r.key}`,
      code: r.status?.code ?? 99,
      message: r.status?.message ?? '',
      archiveMin: mins.sort()[0] ?? null,
      archiveMax: maxes.sort().at(-1) ?? null,
      archiveIds: archives.map((a) => a.id).filter((x): x is string => Boolean(x)),
    };
  });
  const backups: PhysicalBackup[] = (raw.backup ?? []).map((b) => ({
    label: b.label,
    type: physicalTypeSchema.safeParse(b.type).data ?? 'full',
    repo: `repo${b.database?.['repo-key'] ?? 1}`,
    startedAt: iso(b.timestamp?.start),
    stoppedAt: iso(b.timestamp?.stop),
    startLsn: b.lsn?.start ?? '',
    stopLsn: b.lsn?.stop ?? '',
    timeline: b.archive?.start ? timelineOfWalFile(b.archive.start) : 1,
    sizeBytes: b.info?.size ?? 0,
    repoSizeBytes: b.info?.repository?.delta ?? b.info?.repository?.size ?? 0,
    prior: b.prior ?? null,
    name: b.annotation?.name ?? null,
    error: b.error === true,
    walStart: b.archive?.start ?? '',
    walStop: b.archive?.stop ?? '',
  }));
  return {
    stanza,
    code: raw.status?.code ?? 99,
    message: raw.status?.message ?? '',
    repos,
    backups,
  };
}

/**
 * The first moment a backup can be recovered to: pgBackRest records its stop time in whole seconds
 * (truncated), and a target before the real stop is refused by PostgreSQL, so the next second.
 */
export function restorableFrom(b: PhysicalBackup): string {
  return new Date(new Date(b.stoppedAt).getTime() + 1000).toISOString();
}

/** The oldest moment each repository can restore to: just after the stop of its oldest backup. */
export function earliestRecoverable(info: StanzaInfo): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const r of info.repos) out[r.repo] = null;
  for (const b of info.backups) {
    if (b.error) continue;
    const cur = out[b.repo];
    const from = restorableFrom(b);
    if (!cur || from < cur) out[b.repo] = from;
  }
  return out;
}

/** The earliest across repositories (any repository can serve a restore). */
export function windowStart(info: StanzaInfo): string | null {
  const all = Object.values(earliestRecoverable(info)).filter((x): x is string => Boolean(x));
  return all.sort()[0] ?? null;
}

/** Newest first. */
export function newestFirst(backups: PhysicalBackup[]): PhysicalBackup[] {
  return [...backups].sort((a, b) => (a.stoppedAt < b.stoppedAt ? 1 : a.stoppedAt > b.stoppedAt ? -1 : 0));
}

/** Where a repository keeps a backup: a folder, or an object store URL. */
export type RepoLocations = Record<string, string>;

export function physicalEntries(info: StanzaInfo, locations: RepoLocations): PhysicalListEntry[] {
  return newestFirst(info.backups).map((b) => ({
    kind: 'physical',
    name: b.label,
    file: `${(locations[b.repo] ?? b.repo).replace(/\/$/, '')}/backup/${info.stanza}/${b.label}`,
    sizeBytes: b.repoSizeBytes,
    createdAt: b.stoppedAt,
    sha256: null,
    // pgBackRest's own checks while copying (page checksums, sizes) found nothing wrong.
    verified: !b.error,
    verifiedAt: null,
    deepVerifiedAt: null,
    database: null,
    type: b.type,
    repo: b.repo,
    startLsn: b.startLsn,
    stopLsn: b.stopLsn,
    timeline: b.timeline,
    annotation: b.name,
  }));
}
