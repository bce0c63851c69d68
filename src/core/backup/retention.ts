/**
 * Which backups retention deletes. Pure, so every rule is unit-tested:
 *  - only backups with our manifest are considered (callers pass nothing else);
 *  - a backup older than the retention is deleted, except
 *  - the newest verified backup of each database is always kept (and if a database has no verified
 *    backup at all, its newest backup is kept: it may be the only copy);
 *  - a backup dated in the future (clock skew) is kept: its age is unknown, and it never counts as
 *    "the newest verified" in place of one with a sane date;
 *  - a damaged backup (its files do not match its manifest) never counts as the newest verified or
 *    newest backup; like any other it is deleted once older than the retention;
 *  - abandoned temporary files (`.NAME.dump.partial`) are deleted once older than an hour; a
 *    running backup's are younger.
 */
import type { z } from 'zod';
import type { retentionPlanSchema } from './results.js';
export interface RetentionBackup {
  name: string;
  database: string;
  createdAt: string;
  verified: boolean;
  damaged?: boolean;
}

export interface RetentionPartial {
  file: string;
  modifiedAt: string;
}

export type RetentionPlan = z.output<typeof retentionPlanSchema>;
export type RetentionDecision = RetentionPlan['backups'][number];

export const PARTIAL_MAX_AGE_MS = 60 * 60 * 1000;
/** Dates this far ahead are treated as "now" (small clock differences between nodes). */
export const CLOCK_TOLERANCE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

function byNewest(a: RetentionBackup, b: RetentionBackup): number {
  const d = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  if (d !== 0) return d;
  return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
}

export function planRetention(
  backups: RetentionBackup[],
  partials: RetentionPartial[],
  now: Date,
  retentionDays: number,
): RetentionPlan {
  const nowMs = now.getTime();
  const cutoff = nowMs - retentionDays * DAY_MS;
  const inFuture = (b: RetentionBackup) => Date.parse(b.createdAt) > nowMs + CLOCK_TOLERANCE_MS;

  // The protected backup of each database: newest verified with a sane date, else newest sane one.
  const protectedNames = new Map<string, string>();
  const byDb = new Map<string, RetentionBackup[]>();
  for (const b of backups) byDb.set(b.database, [...(byDb.get(b.database) ?? []), b]);
  for (const [db, list] of byDb) {
    const sane = list
      .filter((b) => !b.damaged && !inFuture(b) && !Number.isNaN(Date.parse(b.createdAt)))
      .sort(byNewest);
    const pick = sane.find((b) => b.verified) ?? sane[0];
    if (pick) protectedNames.set(db, pick.name);
  }

  const decisions = [...backups].sort(byNewest).map((b): RetentionDecision => {
    const t = Date.parse(b.createdAt);
    if (protectedNames.get(b.database) === b.name) {
      const why = b.verified
        ? `newest verified backup of ${b.database}: always kept`
        : `newest backup of ${b.database} and none is verified: kept`;
      return { name: b.name, action: 'keep', reason: why };
    }
    if (Number.isNaN(t)) return { name: b.name, action: 'keep', reason: 'creation date unreadable: kept' };
    if (inFuture(b))
      return { name: b.name, action: 'keep', reason: 'dated in the future (clock skew?): kept' };
    if (t < cutoff)
      return {
        name: b.name,
        action: 'delete',
        reason: `older than the retention of ${retentionDays} day${retentionDays === 1 ? '' : 's'}`,
      };
    if (b.damaged)
      return {
        name: b.name,
        action: 'keep',
        reason: `damaged; kept within the retention of ${retentionDays} days for inspection`,
      };
    return { name: b.name, action: 'keep', reason: `within the retention of ${retentionDays} days` };
  });

  const partialDecisions = partials.map((p) => {
    const t = Date.parse(p.modifiedAt);
    if (!Number.isNaN(t) && t < nowMs - PARTIAL_MAX_AGE_MS)
      return {
        file: p.file,
        action: 'delete' as const,
        reason: 'abandoned temporary file older than an hour',
      };
    return {
      file: p.file,
      action: 'keep' as const,
      reason: 'temporary file younger than an hour (a backup may be writing it)',
    };
  });

  return { backups: decisions, partials: partialDecisions };
}
