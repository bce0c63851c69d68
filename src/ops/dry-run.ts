/**
 * `--dry-run` of the mutating verbs: the command checks and resolves everything it would act on
 * (an unknown backup or snapshot is still exit 2), then says what it would do, in the words of
 * its confirmation question, and stops before the first change. Exit 0.
 */
import type { JsonValue } from '../core/errors.js';
import type { OpsDeps } from './deps.js';

export interface DryRunPlan {
  dryRun: true;
  /** What would happen: the sentence the confirmation prompt uses ("This will <action>."). */
  action: string;
  release: string;
  mode: 'local' | 'kubernetes';
  [detail: string]: JsonValue;
}

export function reportDryRun(
  deps: OpsDeps,
  action: string,
  details: Record<string, JsonValue> = {},
): DryRunPlan {
  const { release, mode } = deps.cluster;
  const plan: DryRunPlan = { dryRun: true, action, release, mode, ...details };
  deps.out.result(plan, deps.opts.output, (p) => `dry run: this would ${p.action}.\nNothing was changed.`);
  return plan;
}

/** Thrown by the confirmation of a dry run: the point where the command would start changing. */
export class DryRunStop extends Error {
  constructor(readonly action: string) {
    super(`dry run: would ${action}`);
  }
}

/** A confirmation that stops a dry run where the real command would ask. */
export const stopAtConfirmation = async (action: string): Promise<never> => {
  throw new DryRunStop(action);
};
