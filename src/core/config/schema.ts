/**
 * The contract between the Helm chart and postgres-agent, derived from the settings table
 * (settings.ts): the parser of the environment, the nested configuration the code reads, and its
 * JSON Schema. The chart test feeds every rendered container's env through `parseAgentEnv`, so the
 * two cannot drift.
 */
import { z } from 'zod';
import { agentSettings, type Setting } from './settings.js';

type Table = typeof agentSettings;
type Section = keyof Table;
type Row = { [S in Section]: Table[S][keyof Table[S]] }[Section];

/** The environment's shape: env name -> parser of its text. */
type EnvShape = { [R in Row as R['env']]: R['schema'] };

/** The agent's settings, parsed, shaped like the chart's values: `config.backup.retentionDays`. */
export type AgentConfig = {
  [S in Section]: {
    [K in keyof Table[S]]: Table[S][K] extends Setting<string, infer Z> ? z.output<Z> : never;
  };
};

/** Every row with its place in the nested configuration, in table order. */
export const settingRows: (Setting & { path: string; section: string; name: string })[] = Object.entries(
  agentSettings,
).flatMap(([section, rows]) =>
  Object.entries(rows as Record<string, Setting>).map(([name, row]) => ({
    ...row,
    section,
    name,
    path: `${section}.${name}`,
  })),
);

export const agentEnvShape = Object.fromEntries(settingRows.map((r) => [r.env, r.schema])) as EnvShape;

export const agentEnvSchema = z.object(agentEnvShape);
export type AgentEnv = z.infer<typeof agentEnvSchema>;
export type AgentEnvKey = keyof typeof agentEnvShape;

/** Env var names the agent recognises; other PGOPS_* names are mistakes. */
export const agentEnvKeys = Object.keys(agentEnvShape) as AgentEnvKey[];

/** Names outside our prefix that the agent and its tools also read (cloud SDKs, libpq). The object
 * store SDKs' own variables come first: local mode passes exactly these from the operator's
 * environment to a restore. */
export const objectStoreEnv = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'GOOGLE_CLOUD_PROJECT',
  'AZURE_STORAGE_CONNECTION_STRING',
  'AZURE_STORAGE_ACCOUNT',
  'AZURE_STORAGE_KEY',
];

export interface ConfigIssue {
  key: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: ConfigIssue[] };

/**
 * Parses the agent's environment: every problem at once (`PGOPS_BACKUP_RETENTION_DAYS: expected a
 * number >= 1`). Unknown PGOPS_* names are errors: a typo must not silently fall back to a default.
 * Values are never echoed, since some are secrets.
 */
export function parseAgentEnv(env: Record<string, string | undefined>): ParseResult<AgentEnv> {
  const picked: Record<string, string> = {};
  const issues: ConfigIssue[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key in agentEnvShape) picked[key] = value;
    else if (key.startsWith('PGOPS_')) issues.push({ key, message: 'unknown setting (check the spelling)' });
  }
  const result = agentEnvSchema.safeParse(picked);
  if (!result.success) {
    for (const issue of result.error.issues) {
      issues.push({ key: issue.path.join('.') || '(env)', message: issue.message });
    }
  }
  if (issues.length > 0 || !result.success) return { ok: false, issues };
  return { ok: true, value: result.data };
}

/** The nested configuration of a parsed environment (same values, shaped like the chart's values). */
export function nestConfig(env: AgentEnv): AgentConfig {
  const config: Record<string, Record<string, unknown>> = {};
  for (const r of settingRows) {
    const section = (config[r.section] ??= {});
    const value = (env as Record<string, unknown>)[r.env];
    if (value !== undefined) section[r.name] = value;
  }
  return config as AgentConfig;
}

/** The parsed configuration's zod schema, nested as AgentConfig is. */
function agentConfigSchema() {
  const sections: Record<string, z.ZodObject> = {};
  for (const [section, rows] of Object.entries(agentSettings))
    sections[section] = z.object(
      Object.fromEntries(Object.entries(rows as Record<string, Setting>).map(([k, r]) => [k, r.schema])),
    );
  return z.object(sections);
}

/**
 * JSON Schema of the parsed settings (numbers as numbers, booleans as booleans, with every bound,
 * pattern and enum): what the chart's values.schema.json must agree with for the values it copies.
 */
export function agentConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(agentConfigSchema(), {
    io: 'output',
    // zod bounds every integer by the safe range; the chart states only the bounds we chose.
    override: ({ jsonSchema: s }) => {
      if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
      if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
    },
  });
}

/** One line per issue, for an error message. */
export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `${i.key}: ${i.message}`).join('\n');
}

/** Descriptions and defaults of every key, for docs and the generated JSON Schema. */
export function describeAgentEnv(): { key: string; description: string }[] {
  return agentEnvKeys.map((key) => ({ key, description: agentEnvShape[key].description ?? '' }));
}
