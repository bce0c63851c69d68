/**
 * Point-in-time recovery in local mode: on by default, repo1 a folder of the state directory
 * (owned by the postgres OS user), repo2 optional on the object store of objectstore.env. The same
 * settings reach the members (archive_command, restore_command) and the jobs (backup, restore, drill).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OBJECTSTORE_ENV_FILE, parseObjectStoreFile } from './objectstore-env.js';
import { postgresOsUser } from './os-user.js';
import { type LocalState, StatePaths } from './state.js';

export function pitrEnabled(state: LocalState): boolean {
  return state.pitr?.enabled !== false;
}

/** PGOPS_* settings (and repo2's credentials) every local member and PITR job gets. */
export function pitrEnv(root: string, state: LocalState): Record<string, string | undefined> {
  const p = new StatePaths(root);
  const s = state.pitr ?? {};
  if (!pitrEnabled(state)) return { PGOPS_PITR: 'false' };
  const env: Record<string, string | undefined> = {
    PGOPS_PITR: 'true',
    PGOPS_PGBACKREST_REPO1_PATH: p.pgbackrestDir,
    PGOPS_ARCHIVE_TIMEOUT_SECONDS:
      s.archiveTimeoutSeconds === undefined ? undefined : String(s.archiveTimeoutSeconds),
    PGOPS_PGBACKREST_RETENTION_FULL: s.retentionFull === undefined ? undefined : String(s.retentionFull),
  };
  if (s.repo2) {
    const file = join(p.root, OBJECTSTORE_ENV_FILE);
    const store = existsSync(file) ? parseObjectStoreFile(readFileSync(file, 'utf8'), file) : {};
    Object.assign(env, store, {
      PGOPS_PGBACKREST_REPO2: 'true',
      PGOPS_PGBACKREST_REPO2_VERIFY_TLS: s.repo2VerifyTls === false ? 'false' : undefined,
    });
  }
  return env;
}

/** Jobs that touch the repository or a data directory run as the postgres OS user, as the members do. */
export function asPostgresEnv(): Record<string, string | undefined> {
  return { PGOPS_RUN_AS_USER: postgresOsUser().uid === undefined ? undefined : 'postgres' };
}
