/**
 * The backup manifest as the sync and remote restore read it: `NAME.manifest.json` next to
 * `NAME.dump` and `NAME.globals.sql`. Only manifests of our kind with `verified: true` describe a
 * backup worth copying; the manifest is uploaded last, so a remote backup is complete only once
 * its manifest exists.
 */
import { z } from 'zod';

export const BACKUP_MANIFEST_KIND = 'pyairtable-stack/postgres-backup';
export const MANIFEST_SUFFIX = '.manifest.json';

const sha = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected a lowercase hex sha256' });
const fileName = z
  .string()
  .min(1)
  .transform((f) => f.split('/').pop() ?? f);

export const backupManifestSchema = z.looseObject({
  kind: z.literal(BACKUP_MANIFEST_KIND),
  version: z.literal(1),
  name: z.string().min(1),
  file: fileName,
  globalsFile: fileName.optional().nullable(),
  sizeBytes: z.number().int().min(0),
  sha256: sha,
  globalsSha256: sha.optional().nullable(),
  verified: z.boolean(),
  createdAt: z.string().optional(),
  finishedAt: z.string().optional(),
});

export type BackupManifest = z.infer<typeof backupManifestSchema>;

export type ManifestParse = { ok: true; manifest: BackupManifest } | { ok: false; reason: string };

/** Parses a manifest's text; anything that is not our kind is reported, never guessed at. */
export function parseBackupManifest(text: string): ManifestParse {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!data || typeof data !== 'object' || (data as { kind?: unknown }).kind !== BACKUP_MANIFEST_KIND)
    return { ok: false, reason: `not a ${BACKUP_MANIFEST_KIND} manifest` };
  const r = backupManifestSchema.safeParse(data);
  if (!r.success)
    return {
      ok: false,
      reason: r.error.issues.map((i) => `${i.path.join('.') || '(manifest)'}: ${i.message}`).join('; '),
    };
  return { ok: true, manifest: r.data };
}

/** When the backup was taken: finishedAt, else createdAt, as epoch ms (0 if neither parses). */
export function backupTimeMs(m: BackupManifest): number {
  return Date.parse(m.finishedAt ?? m.createdAt ?? '') || 0;
}

/** `NAME.manifest.json` for a backup name. */
export function manifestFileFor(name: string): string {
  return `${name}${MANIFEST_SUFFIX}`;
}

/** The files of a backup in upload order: data, globals, then the manifest last. */
export function backupFiles(
  m: BackupManifest,
  manifestFile: string,
): { role: 'data' | 'globals' | 'manifest'; file: string; sha256?: string; sizeBytes?: number }[] {
  const files: {
    role: 'data' | 'globals' | 'manifest';
    file: string;
    sha256?: string;
    sizeBytes?: number;
  }[] = [{ role: 'data', file: m.file, sha256: m.sha256, sizeBytes: m.sizeBytes }];
  if (m.globalsFile)
    files.push({ role: 'globals', file: m.globalsFile, sha256: m.globalsSha256 ?? undefined });
  files.push({ role: 'manifest', file: manifestFile });
  return files;
}
