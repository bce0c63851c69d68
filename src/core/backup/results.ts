/**
 * What `postgres-agent prune` and `postgres-agent repair` print with `-o json`, read back by local
 * mode's postgres-ops (retention after a backup, `local up`'s repair).
 */
import { z } from 'zod';

const action = z.enum(['delete', 'keep']);

export const retentionPlanSchema = z.object({
  backups: z.array(z.object({ name: z.string(), action, reason: z.string() })),
  partials: z.array(z.object({ file: z.string(), action, reason: z.string() })),
});

export const pruneResultSchema = z.object({
  dryRun: z.boolean(),
  plan: retentionPlanSchema,
  deleted: z.array(z.string()),
});

export type PruneResult = z.output<typeof pruneResultSchema>;

export const leftoverKindSchema = z.enum([
  /** The target refuses connections next to its `__restoring` copy: killed between fence and swap. */
  'fenced',
  /** A `__restoring` copy whose target is open (or absent): killed while restoring. */
  'unfinished-copy',
  /** A database refusing connections that no restore of ours explains. */
  'refuses-connections',
  /** The previous database of a swap that was not dropped afterwards. */
  'replaced-copy',
]);

const repairItem = z.object({
  kind: leftoverKindSchema,
  database: z.string(),
  message: z.string(),
  statements: z.array(z.string()),
});

export const repairOutcomeSchema = z.object({
  /** What was repaired, with the statements run. */
  repaired: z.array(repairItem),
  /** What is left for a person to decide (a database refusing connections that no restore explains, a replaced copy). */
  remaining: z.array(repairItem),
});

export type RepairOutcome = z.output<typeof repairOutcomeSchema>;

/** One element of `postgres-agent verify -o json` (an array, one per backup checked). */
export const verifyResultSchema = z.object({
  name: z.string(),
  file: z.string(),
  ok: z.boolean(),
  deep: z.boolean(),
  problems: z.array(z.string()),
});

export type VerifyResult = z.output<typeof verifyResultSchema>;

/** `postgres-agent restore -o json`. */
export const restoreResultSchema = z.object({
  database: z.string(),
  file: z.string(),
  format: z.enum(['custom', 'custom-gzip', 'tar', 'directory', 'plain', 'plain-gzip']),
  replaced: z.boolean(),
  safetyBackup: z.string().nullable(),
  previousDatabase: z.string().nullable(),
  rolesCreated: z.array(z.string()),
  durationSeconds: z.number(),
  checksum: z.enum(['matched', 'mismatch-forced', 'no-manifest']),
});

export type RestoreResult = z.output<typeof restoreResultSchema>;

/** `postgres-agent backup -o json`: one entry per database backed up. */
export const backupResultSchema = z.object({
  backups: z.array(
    z.object({
      name: z.string(),
      database: z.string(),
      file: z.string(),
      sizeBytes: z.number(),
      sha256: z.string(),
      durationSeconds: z.number(),
    }),
  ),
});

export type BackupResult = z.output<typeof backupResultSchema>;
