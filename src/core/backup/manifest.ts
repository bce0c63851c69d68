/**
 * The manifest: the JSON file written last that makes a backup complete and marks it as ours.
 * Field names are an interface (sync, list-backups -o json, postgres-ops); add fields, never rename.
 */
export const MANIFEST_KIND = 'pyairtable-stack/postgres-backup';
export const MANIFEST_VERSION = 1;

export interface BackupManifest {
  kind: typeof MANIFEST_KIND;
  version: 1;
  name: string;
  /** Basename of the archive: a pg_dump custom archive, or a packed directory-format dump. */
  file: string;
  /** Basename of the pg_dumpall --globals-only script (roles, without passwords). */
  globalsFile: string | null;
  database: string;
  /**
   * `custom`: pg_dump --format=custom. `directory`: pg_dump --format=directory --jobs N packed into
   * one ustar file (see src/core/backup/tar.ts); restore and verify unpack it for pg_restore.
   */
  format: 'custom' | 'directory';
  /** pg_dump jobs of a `directory` backup. */
  jobs?: number;
  compression: number;
  sizeBytes: number;
  sha256: string;
  globalsSha256: string | null;
  /** Whether role passwords were dumped into the globals file (we never do: false). */
  globalsIncludePasswords: boolean;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  serverVersion: string;
  pgDumpVersion: string;
  verified: boolean;
  verifiedAt: string | null;
  deepVerifiedAt: string | null;
  /** Set when a later verification found the backup damaged. */
  verifyFailedAt?: string | null;
  verifyError?: string | null;
  /** Exact row counts per table taken in the dump's own snapshot. */
  tableRowCounts: Record<string, number>;
  /** pg_export_snapshot() id the dump ran in. */
  snapshotTimestamp: string;
  snapshotId?: string;
  databaseOwner?: string | null;
  databaseEncoding?: string | null;
}

export type ManifestCheck = { ok: true; manifest: BackupManifest } | { ok: false; reason: string };

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Parses manifest text; anything that is not our kind and version is "not ours". */
export function parseManifest(text: string): ManifestCheck {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'manifest is not valid JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'not an object' };
  const m = v as Record<string, unknown>;
  if (m.kind !== MANIFEST_KIND) return { ok: false, reason: `kind is not ${MANIFEST_KIND}` };
  if (m.version !== MANIFEST_VERSION)
    return { ok: false, reason: `unsupported version ${String(m.version)}` };
  for (const k of ['name', 'file', 'database', 'sha256', 'startedAt', 'finishedAt'] as const) {
    if (!isStr(m[k]) || m[k] === '') return { ok: false, reason: `field ${k} missing` };
  }
  if (!isNum(m.sizeBytes)) return { ok: false, reason: 'field sizeBytes missing' };
  if (Number.isNaN(Date.parse(m.startedAt as string)))
    return { ok: false, reason: 'startedAt is not a date' };
  if ((m.file as string).includes('/')) return { ok: false, reason: 'file must be a basename' };
  if (m.globalsFile !== null && m.globalsFile !== undefined && !isStr(m.globalsFile))
    return { ok: false, reason: 'globalsFile is not a string' };
  if (isStr(m.globalsFile) && m.globalsFile.includes('/'))
    return { ok: false, reason: 'globalsFile must be a basename' };
  return {
    ok: true,
    manifest: {
      ...(m as unknown as BackupManifest),
      verified: m.verified === true,
      verifiedAt: isStr(m.verifiedAt) ? m.verifiedAt : null,
      deepVerifiedAt: isStr(m.deepVerifiedAt) ? m.deepVerifiedAt : null,
      globalsFile: isStr(m.globalsFile) ? m.globalsFile : null,
      globalsSha256: isStr(m.globalsSha256) ? m.globalsSha256 : null,
      tableRowCounts:
        typeof m.tableRowCounts === 'object' && m.tableRowCounts !== null
          ? (m.tableRowCounts as Record<string, number>)
          : {},
    },
  };
}

/** One row of `list-backups -o json` (an interface: stable names). */
export interface BackupListEntry {
  name: string;
  file: string;
  sizeBytes: number;
  createdAt: string;
  sha256: string;
  verified: boolean;
  verifiedAt: string | null;
  deepVerifiedAt: string | null;
  database: string;
  /** Its files do not match the manifest (missing, truncated, failed verification): never restore it. */
  damaged: boolean;
  damagedReason: string | null;
}

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
