import { z } from 'zod';

/** `postgres-agent migrate -o json` (field names are a contract); read back by postgres-ops migrate. */
export const migrateResultSchema = z.object({
  version: z.string(),
  database: z.string(),
  description: z.string(),
  checksum: z.string(),
  outcome: z.enum(['applied', 'already-applied', 'resumed', 'dry-run']),
  /** For a dry run: what a real run would do (apply, none, resume). */
  action: z.enum(['apply', 'none', 'resume']),
  appliedAt: z.string().nullable(),
  safetyBackup: z.string().nullable(),
  durationMs: z.number(),
  files: z.array(
    z.object({
      name: z.string(),
      sha256: z.string(),
      noTransaction: z.boolean(),
      run: z.boolean(),
      statements: z.number().nullable(),
      durationMs: z.number().nullable(),
    }),
  ),
});

export type MigrateResult = z.output<typeof migrateResultSchema>;
