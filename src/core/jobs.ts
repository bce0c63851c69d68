/** `--jobs N` of backup and restore: a whole number from 1 to 64, refused (exit 2) otherwise. */
import { wholeNumber } from './cli-args.js';

export const MAX_JOBS = 64;

/** The commander parser of `--jobs`; `example` is the hint a refusal gives. */
export const jobsArg = (example = 'Example: --jobs 4') =>
  wholeNumber('--jobs', { min: 1, max: MAX_JOBS }, example);

export function parseJobs(v: string | undefined, example = 'Example: --jobs 4'): number | undefined {
  return v === undefined ? undefined : jobsArg(example)(v);
}
