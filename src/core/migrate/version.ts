/**
 * Migration versions: the directory name under PGOPS_MIGRATION_DIR, the primary key of the history
 * table and part of the Job's name, so they are kept to characters that are safe in all three.
 */
import { UsageError } from '../errors.js';

const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Checks a version string; throws a UsageError (exit 2) naming what is allowed. */
export function parseMigrationVersion(raw: string | undefined): string {
  const v = (raw ?? '').trim();
  if (v === '') {
    throw new UsageError(
      'E_MIGRATION_VERSION',
      'no migration version given',
      {},
      {
        hint: 'Pass --version 2.0.0 or set PGOPS_MIGRATION_VERSION (chart: databases.postgres.migration.version).',
      },
    );
  }
  // ".." would climb out of the migrations directory; the pattern already forbids "/" and spaces.
  if (!VERSION_RE.test(v) || v.includes('..')) {
    throw new UsageError(
      'E_MIGRATION_VERSION',
      `invalid migration version "${v}"`,
      { version: v },
      {
        hint: 'Use letters, digits, ".", "_" and "-" (max 63, no ".."), e.g. 2.0.0 or 2026-11-25_users.',
      },
    );
  }
  return v;
}

/** Longest name a Job may have so that its pods' generated names (name + "-xxxxx") stay within 63. */
export const MAX_JOB_NAME = 57;

/**
 * The Job (and ConfigMap) name the chart gives a version; job.yaml computes the same:
 * `<prefix>-migration-<version>` with the version lowercased, anything but [a-z0-9.-] turned into
 * "-", at most MAX_JOB_NAME characters, no leading or trailing "-" or ".". "2.0.0" stays "2.0.0".
 */
export function migrationJobName(prefix: string, version: string): string {
  const suffix = version
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return `${prefix}-migration-${suffix}`.slice(0, MAX_JOB_NAME).replace(/[-.]+$/, '');
}
