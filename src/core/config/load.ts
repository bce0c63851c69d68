import { UsageError } from '../errors.js';
import { type AgentConfig, type AgentEnv, formatIssues, nestConfig, parseAgentEnv } from './schema.js';

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

/** The environment parsed once into the nested configuration; the same errors as loadAgentEnv. */
export function loadAgentConfig(env: Record<string, string | undefined>): AgentConfig {
  return nestConfig(loadAgentEnv(env));
}
