import { createdAt, isOurs, isOursOfAny, newestFirst, type VolumeSnapshot } from './model.js';

export interface RetentionPlan {
  /** Our ready snapshots that stay (newest first), the one just taken included. */
  keep: string[];
  /** Our snapshots to delete: ready ones beyond the count, and failed ones (status.error) older than the newest kept. */
  delete: { name: string; createdAt: string | undefined; reason: 'beyond-retention' | 'failed' }[];
  /** Our snapshots left alone because they are still being cut or already being deleted. */
  skipped: string[];
}

/**
 * Which of our snapshots to delete so that the newest `keepCount` ready ones remain. Only snapshots
 * with our labels for this release and PVC are considered (or, with `samePvcGroup`, for any PVC of
 * the group: every member's volume holds the same cluster); the one just taken is always kept, even
 * when the clock makes it look older than another; snapshots still in progress are never touched.
 */
export function planSnapshotRetention(
  all: VolumeSnapshot[],
  opts: {
    release: string;
    pvc: string;
    keepCount: number;
    justTaken?: string;
    samePvcGroup?: (pvc: string) => boolean;
  },
): RetentionPlan {
  const keepCount = Math.max(1, opts.keepCount);
  const group = opts.samePvcGroup;
  const ours = newestFirst(
    all.filter((s) => (group ? isOursOfAny(s, opts.release, group) : isOurs(s, opts.release, opts.pvc))),
  );
  const plan: RetentionPlan = { keep: [], delete: [], skipped: [] };
  const justTaken = ours.find((s) => s.metadata.name === opts.justTaken);
  if (justTaken) plan.keep.push(justTaken.metadata.name);
  for (const s of ours) {
    const name = s.metadata.name;
    if (name === opts.justTaken) continue;
    if (s.metadata.deletionTimestamp) {
      plan.skipped.push(name);
    } else if (s.status?.error?.message && s.status.readyToUse !== true) {
      plan.delete.push({ name, createdAt: createdAt(s), reason: 'failed' });
    } else if (s.status?.readyToUse !== true) {
      plan.skipped.push(name);
    } else if (plan.keep.length < keepCount) {
      plan.keep.push(name);
    } else {
      plan.delete.push({ name, createdAt: createdAt(s), reason: 'beyond-retention' });
    }
  }
  // A failed snapshot is only cleaned up once a good one exists: it may be the only evidence.
  if (plan.keep.length === 0) plan.delete = plan.delete.filter((d) => d.reason !== 'failed');
  return plan;
}
