/**
 * What `postgres-agent migrate -o json` prints and how a person reads it. Both programs use it: the
 * agent renders it, `postgres-ops migrate` reads it back from the agent (parsed with the schema) and
 * renders the same table.
 */
import { z } from 'zod';
import { renderTable } from '../output.js';

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

/** The table a person reads (postgres-ops migrate prints the same). */
export function renderMigration(r: MigrateResult): string {
  const head = {
    applied: `migration ${r.version} applied to database ${r.database} in ${r.durationMs} ms`,
    'already-applied': `migration ${r.version} is already applied to database ${r.database} (on ${r.appliedAt}, same checksum): nothing to do`,
    resumed: `migration ${r.version}: remaining no-transaction files applied to database ${r.database}`,
    'dry-run': `dry run: migration ${r.version} on database ${r.database} would ${
      r.action === 'apply'
        ? 'apply every file'
        : r.action === 'resume'
          ? 'run the no-transaction files again'
          : 'do nothing (already applied)'
    }; nothing was changed`,
  }[r.outcome];
  const table = renderTable(
    ['FILE', 'SHA256', 'TRANSACTION', 'RUN', 'STATEMENTS', 'MS'],
    r.files.map((f) => [
      f.name,
      f.sha256.slice(0, 12),
      f.noTransaction ? 'no' : 'yes',
      f.run ? 'yes' : 'no',
      f.statements,
      f.durationMs,
    ]),
  );
  const backup = r.safetyBackup ? `\nsafety backup: ${r.safetyBackup}` : '';
  return `${head}\nchecksum: ${r.checksum}${backup}\n${table}`;
}
