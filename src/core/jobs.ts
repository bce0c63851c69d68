/** `--jobs N` of backup and restore: a whole number from 1 to 64, refused (exit 2) otherwise. */
import { UsageError } from './errors.js';

export const MAX_JOBS = 64;

export function parseJobs(v: string | undefined, example = 'Example: --jobs 4'): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || n < 1 || n > MAX_JOBS)
    throw new UsageError(
      'E_USAGE',
      `--jobs must be a whole number from 1 to ${MAX_JOBS}, not "${v}"`,
      {},
      { hint: example },
    );
  return n;
}
