/**
 * The manifest: the JSON file written last that makes a backup complete and marks it as ours.
 * Field names are an interface (sync, list-backups -o json, postgres-ops); add fields, never rename.
 * This schema is the one reader: the backup catalog, restore, verify, sync and remote restore all
 * parse with it, and the backup writes a value of its type. Unknown fields (a newer agent's) are
 * kept, so rewriting a manifest (verify) never drops them.
 */
import { z } from 'zod';
import { describeIssues } from '../parse-issues.js';

export const MANIFEST_KIND = 'pyairtable-stack/postgres-backup';
export const MANIFEST_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected a lowercase hex sha256' });
const dateTime = z
  .string()
  .min(1)
  .refine((s) => !Number.isNaN(Date.parse(s)), { error: 'expected a date and time' });
/**
 * A file beside the manifest. An absolute path (as list-backups prints them) names the file of that
 * name beside it; a relative path with directories would leave the backup directory: refused.
 */
const fileName = z
  .string()
  .min(1)
  .refine((f) => !f.includes('/') || (f.startsWith('/') && !f.split('/').includes('..')), {
    error: 'must be a file name (a basename)',
  })
  .transform((f) => f.split('/').pop() ?? '')
  .refine((f) => f !== '' && f !== '.' && f !== '..', { error: 'must be a file name (a basename)' });
const nullableString = z.string().nullable().default(null);

const backupManifestSchema = z.looseObject({
  kind: z.literal(MANIFEST_KIND),
  version: z.literal(MANIFEST_VERSION),
  name: z.string().min(1),
  /** Basename of the archive: a pg_dump custom archive, or a packed directory-format dump. */
  file: fileName,
  /** Basename of the pg_dumpall --globals-only script (roles, without passwords). */
  globalsFile: fileName.nullable().default(null),
  database: z.string().min(1),
  /**
   * `custom`: pg_dump --format=custom. `directory`: pg_dump --format=directory --jobs N packed into
   * one ustar file (see src/core/backup/tar.ts); restore and verify unpack it for pg_restore.
   */
  format: z.enum(['custom', 'directory']).optional(),
  /** pg_dump jobs of a `directory` backup. */
  jobs: z.number().int().min(1).optional(),
  compression: z.number().optional(),
  sizeBytes: z.number().int().min(0),
  sha256,
  globalsSha256: sha256.nullable().default(null),
  /** Whether role passwords were dumped into the globals file (we never do: false). */
  globalsIncludePasswords: z.boolean().optional(),
  startedAt: dateTime,
  finishedAt: dateTime,
  durationSeconds: z.number().optional(),
  serverVersion: z.string().optional(),
  pgDumpVersion: z.string().optional(),
  verified: z.boolean().default(false),
  verifiedAt: nullableString,
  deepVerifiedAt: nullableString,
  /** Set when a later verification found the backup damaged. */
  verifyFailedAt: z.string().nullable().optional(),
  verifyError: z.string().nullable().optional(),
  /** Exact row counts per table taken in the dump's own snapshot. */
  tableRowCounts: z.record(z.string(), z.number()).default({}),
  /** When the dump's snapshot was taken (its pg_export_snapshot() id is snapshotId). */
  snapshotTimestamp: z.string().optional(),
  snapshotId: z.string().optional(),
  databaseOwner: z.string().nullable().optional(),
  databaseEncoding: z.string().nullable().optional(),
});

export type BackupManifest = z.output<typeof backupManifestSchema>;

const ourKind = z.looseObject({ kind: z.literal(MANIFEST_KIND) });

export type ManifestCheck = { ok: true; manifest: BackupManifest } | { ok: false; reason: string };

/** Parses manifest text; anything that is not our kind and version is "not ours", with the reason. */
export function parseManifest(text: string): ManifestCheck {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'manifest is not valid JSON' };
  }
  // Another kind (or no object at all) is "not ours"; ours with bad fields names them.
  if (!ourKind.safeParse(v).success) return { ok: false, reason: `not a ${MANIFEST_KIND} manifest` };
  const r = backupManifestSchema.safeParse(v);
  if (!r.success) return { ok: false, reason: describeIssues(r.error, '(manifest)') };
  return { ok: true, manifest: r.data };
}

/**
 * One row of `list-backups -o json` (an interface: stable names): what the agent prints and what
 * postgres-ops reads back. Rows of an older agent lack the fields added since (`damaged`,
 * `damagedReason`): they default; fields a newer agent adds are accepted and left out.
 */
export const backupListEntrySchema = z.object({
  name: z.string().min(1),
  file: z.string().min(1),
  sizeBytes: z.number(),
  createdAt: z.string(),
  sha256: z.string(),
  verified: z.boolean(),
  verifiedAt: z.string().nullable(),
  deepVerifiedAt: z.string().nullable(),
  database: z.string(),
  /** Its files do not match the manifest (missing, truncated, failed verification): never restore it. */
  damaged: z.boolean().default(false),
  damagedReason: z.string().nullable().default(null),
});

export type BackupListEntry = z.output<typeof backupListEntrySchema>;

export function toListEntry(m: BackupManifest, absoluteFile: string): BackupListEntry {
  return {
    name: m.name,
    file: absoluteFile,
    sizeBytes: m.sizeBytes,
    createdAt: m.startedAt,
    sha256: m.sha256,
    verified: m.verified,
    verifiedAt: m.verifiedAt,
    deepVerifiedAt: m.deepVerifiedAt,
    database: m.database,
    damaged: false,
    damagedReason: null,
  };
}

/** One line per damaged backup saying why (under the table). */
export function damagedLines(entries: { name: string; damaged?: boolean; damagedReason?: string | null }[]) {
  const damaged = entries.filter((e) => e.damaged);
  if (damaged.length === 0) return [];
  return [
    '',
    ...damaged.map(
      (e) =>
        `! ${e.name} is DAMAGED (${e.damagedReason ?? 'its files do not match its manifest'}): never restore it`,
    ),
  ];
}

/** Newest first; ties broken by name (descending) so the order is stable. */
export function newestFirst<T extends { createdAt: string; name: string }>(entries: T[]): T[] {
  return [...entries].sort((a, b) => {
    const d = Date.parse(b.createdAt) - Date.parse(a.createdAt);
    if (d !== 0) return d;
    return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
  });
}

/** Row-count differences between the manifest and a restored copy (empty when equal). */
export function compareRowCounts(
  expected: Record<string, number>,
  actual: Record<string, number>,
): { table: string; expected: number | null; actual: number | null }[] {
  const out: { table: string; expected: number | null; actual: number | null }[] = [];
  const tables = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const t of [...tables].sort()) {
    const e = expected[t];
    const a = actual[t];
    if (e !== a) out.push({ table: t, expected: e ?? null, actual: a ?? null });
  }
  return out;
}
