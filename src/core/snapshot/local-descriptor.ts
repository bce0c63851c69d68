/**
 * The descriptor of a local-mode snapshot: `<state>/snapshots/<name>.json`, written last next to the
 * pg_basebackup copy `<name>/` (src/local/snapshots.ts). A copy without a valid descriptor is an
 * interrupted one and is never listed. Also the part of pg_basebackup's own `backup_manifest` we read.
 */
import { z } from 'zod';

export const LOCAL_SNAPSHOT_KIND = 'pyairtable-stack/local-snapshot';

const localSnapshotSchema = z.looseObject({
  kind: z.literal(LOCAL_SNAPSHOT_KIND),
  version: z.literal(1),
  name: z.string().min(1),
  createdAt: z.string(),
  /** host:port the copy was taken from. */
  source: z.string(),
  /** WAL range the copy needs to become consistent (from pg_basebackup's backup_manifest). */
  lsn: z.string(),
  endLsn: z.string().nullable(),
  timeline: z.number().nullable(),
  /** Absolute path of the copy. */
  dir: z.string(),
});

export type LocalSnapshot = z.output<typeof localSnapshotSchema>;

/** The descriptor in `text`, or undefined when it is not one of ours. */
export function parseLocalSnapshot(text: string): LocalSnapshot | undefined {
  try {
    return localSnapshotSchema.safeParse(JSON.parse(text)).data;
  } catch {
    return undefined;
  }
}

/** pg_basebackup's `backup_manifest`, as far as the WAL range goes (PostgreSQL 13+). */
export const basebackupManifestSchema = z.looseObject({
  'WAL-Ranges': z
    .array(z.looseObject({ Timeline: z.number(), 'Start-LSN': z.string(), 'End-LSN': z.string() }))
    .optional(),
});
