/**
 * Reading back what `postgres-agent ... -o json` printed. The agent in a pod and postgres-ops on a
 * workstation can be different versions, so every result is parsed with the schema its producer is
 * typed by: fields this reader does not know are accepted, a field it needs that is missing or of
 * another type is an error naming the agent command and the field.
 */
import { z } from 'zod';
import { describeIssues } from './parse-issues.js';
import { OperationFailed, type JsonValue } from './errors.js';

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
    `postgres-agent ${command} succeeded, but its JSON result does not have what this postgres-ops reads: ${describeIssues(r.error, '(result)')}`,
    { command, fields: r.error.issues.map((i) => i.path.join('.') || '(result)') },
    { hint: MATCHING_VERSIONS_HINT },
  );
}

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);

/** The block `-o json` prints on stdout when a command fails (src/runtime/cli.ts). */
export const errorOutputSchema = z.object({
  error: z.object({
    code: z.string().optional(),
    message: z.string().optional(),
    meta: z.record(z.string(), jsonValue).optional().catch(undefined),
    hint: z.string().nullish(),
  }),
});

/** The JSON value `text` holds, or undefined when it holds none (the schema then says what is missing). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Rows of a query printed as one JSON array of objects (`asJsonRows` in psql). */
export const jsonRowsSchema = z.array(z.record(z.string(), z.unknown()));
