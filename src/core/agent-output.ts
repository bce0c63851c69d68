/**
 * Reading back what `postgres-agent ... -o json` printed. The agent in a pod and postgres-ops on a
 * workstation can be different versions, so every result is parsed with the schema its producer is
 * typed by: fields this reader does not know are accepted, a field it needs that is missing or of
 * another type is an error naming the agent command and the field.
 */
import type { z } from 'zod';
import { describeIssues } from './parse-issues.js';
import { OperationFailed } from './errors.js';

export const MATCHING_VERSIONS_HINT =
  'postgres-ops and the postgres-agent it runs must be the same version: use the postgres-ops of the installed chart version (helm list shows it), or upgrade the release to this version (helm upgrade ...).';

/** `value` as `schema` says, or an OperationFailed naming `postgres-agent <command>` and the fields. */
export function parseAgentOutput<S extends z.ZodType>(
  command: string,
  schema: S,
  value: unknown,
): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new OperationFailed(
    'E_AGENT_OUTPUT',
    `postgres-agent ${command} -o json printed a result this postgres-ops cannot read: ${describeIssues(r.error, '(result)')}`,
    { command, fields: r.error.issues.map((i) => i.path.join('.') || '(result)') },
    { hint: MATCHING_VERSIONS_HINT },
  );
}
