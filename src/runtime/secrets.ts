/**
 * The one reader of the agent's passwords, for every command. Passwords come from `<NAME>_FILE` (a mounted Secret) or `<NAME>` (local runs). They are read here
 * and handed to the driver or written to 0600 passfiles; never logged, never in argv or error meta.
 */
import { readFileSync } from 'node:fs';
import type { AgentConfig } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';

export type SecretName =
  | 'PGOPS_SUPERUSER_PASSWORD'
  | 'PGOPS_REPLICATION_PASSWORD'
  | 'PGOPS_APP_PASSWORD'
  | 'PGOPS_RESTAPI_PASSWORD'
  | 'PGOPS_MONITOR_PASSWORD';

/** The settings passwords are read from: the roles, and Patroni's REST API user. */
export type SecretSettings = Pick<AgentConfig, 'roles' | 'ha'>;

/** Each password's two sources in the configuration: the value (local runs) and the mounted file. */
const SOURCES: Record<SecretName, (c: SecretSettings) => { value?: string; file?: string }> = {
  PGOPS_SUPERUSER_PASSWORD: ({ roles }) => ({
    value: roles.superuserPassword,
    file: roles.superuserPasswordFile,
  }),
  PGOPS_REPLICATION_PASSWORD: ({ roles }) => ({
    value: roles.replicationPassword,
    file: roles.replicationPasswordFile,
  }),
  PGOPS_APP_PASSWORD: ({ roles }) => ({ value: roles.appPassword, file: roles.appPasswordFile }),
  PGOPS_MONITOR_PASSWORD: ({ roles }) => ({ value: roles.monitorPassword, file: roles.monitorPasswordFile }),
  PGOPS_RESTAPI_PASSWORD: ({ ha }) => ({ value: ha.restApiPassword, file: ha.restApiPasswordFile }),
};

export function readSecret(settings: SecretSettings, name: SecretName): string | undefined {
  const { value: plain, file } = SOURCES[name](settings);
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
  return plain || undefined;
}

export function requireSecret(settings: SecretSettings, name: SecretName, why: string): string {
  const v = readSecret(settings, name);
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
