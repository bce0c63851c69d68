/**
 * The one reader of the agent's passwords, for every command. Passwords come from `<NAME>_FILE` (a mounted Secret) or `<NAME>` (local runs). They are read here
 * and handed to the driver or written to 0600 passfiles; never logged, never in argv or error meta.
 */
import { readFileSync } from 'node:fs';
import type { AgentEnv } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';

export type SecretName =
  | 'PGOPS_SUPERUSER_PASSWORD'
  | 'PGOPS_REPLICATION_PASSWORD'
  | 'PGOPS_APP_PASSWORD'
  | 'PGOPS_RESTAPI_PASSWORD'
  | 'PGOPS_MONITOR_PASSWORD';

export function readSecret(env: AgentEnv, name: SecretName): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(
        'E_SECRET_FILE',
        `cannot read ${name}_FILE (${file}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { key: `${name}_FILE` },
        { hint: `Check that the Secret is mounted at ${file} and readable by the postgres user.` },
      );
    }
    const value = text.replace(/\r?\n$/, '');
    if (value) return value;
  }
  return env[name] || undefined;
}

export function requireSecret(env: AgentEnv, name: SecretName, why: string): string {
  const v = readSecret(env, name);
  if (v === undefined) {
    throw new UsageError(
      'E_NO_PASSWORD',
      `${name} is not set: it is needed ${why}`,
      { key: name },
      {
        hint: `Set ${name}_FILE to a file holding the password (the chart mounts it from the Secret) or ${name} for a local run.`,
      },
    );
  }
  return v;
}
