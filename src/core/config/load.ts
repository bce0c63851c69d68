import { UsageError } from '../errors.js';
import { type AgentEnv, formatIssues, parseAgentEnv } from './schema.js';

/** Parses the environment or throws one UsageError listing every bad key. */
export function loadAgentEnv(env: Record<string, string | undefined>): AgentEnv {
  const parsed = parseAgentEnv(env);
  if (!parsed.ok) {
    throw new UsageError(
      'E_CONFIG',
      `invalid agent configuration:\n${formatIssues(parsed.issues)}`,
      {
        keys: parsed.issues.map((i) => i.key),
      },
      {
        hint: 'Fix or unset the listed environment variables (unset means the default); every setting, its default and meaning: docs/configuration.md.',
      },
    );
  }
  return parsed.value;
}
