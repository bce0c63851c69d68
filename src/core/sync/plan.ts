import { MANIFEST_KIND, type BackupManifest } from '../backup/manifest.js';
import { backupTimeMs } from './manifest.js';

export interface RemoteHead {
  size: number;
  sha256?: string;
}

/** An object is already there if its size and our sha256 metadata match; anything else is uploaded again. */
export function alreadyUploaded(head: RemoteHead | null, want: { sha256: string; size: number }): boolean {
  return !!head && head.size === want.size && head.sha256 === want.sha256;
}

export interface RemoteBackup {
  manifestKey: string;
  manifest: BackupManifest;
  /** Keys of its data and globals objects (same folder as the manifest). */
  dataKeys: string[];
}

export interface RemoteRetentionPlan {
  keep: string[];
  delete: { name: string; keys: string[]; takenAt: string }[];
}

/**
 * Which remote backups to delete: ours (a manifest of our kind) older than `retentionDays`, never
 * the newest verified one. Objects without our manifest are not in the input and so never deleted.
 * Keys are listed manifest first: a half-deleted backup then looks incomplete, not valid.
 */
export function planRemoteRetention(
  backups: RemoteBackup[],
  opts: { retentionDays: number; now: Date },
): RemoteRetentionPlan {
  const ours = backups
    .filter((b) => b.manifest.kind === MANIFEST_KIND)
    .sort((a, b) => backupTimeMs(b.manifest) - backupTimeMs(a.manifest));
  const plan: RemoteRetentionPlan = { keep: [], delete: [] };
  if (opts.retentionDays <= 0) {
    plan.keep = ours.map((b) => b.manifest.name);
    return plan;
  }
  const newestVerified = ours.find((b) => b.manifest.verified);
  const cutoff = opts.now.getTime() - opts.retentionDays * 86_400_000;
  for (const b of ours) {
    const t = backupTimeMs(b.manifest);
    if (b === newestVerified || t === 0 || t >= cutoff) plan.keep.push(b.manifest.name);
    else
      plan.delete.push({
        name: b.manifest.name,
        keys: [b.manifestKey, ...b.dataKeys],
        takenAt: new Date(t).toISOString(),
      });
  }
  return plan;
}
